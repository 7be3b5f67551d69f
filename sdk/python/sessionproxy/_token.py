"""Verifying sessionproxy's X-Session token (a compact JWT).

HS256 needs nothing beyond the standard library. EdDSA (Ed25519) and ES256
(P-256) keys come from a JWKS URL and need the ``cryptography`` package
(``pip install "./sdk/python[jwks]"``).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import importlib.util
import json
import math
import re
import threading
import time
import urllib.request
from typing import Any, Callable, Dict, Iterable, Optional, Tuple, Union

__all__ = ["InvalidToken", "KeySetError", "Verifier", "verify", "ISSUER", "DEFAULT_LEEWAY"]

ISSUER = "sessionproxy"

#: Seconds a token is still accepted after its ``exp``, for clocks that
#: differ a little between the proxy's host and the app's.
DEFAULT_LEEWAY = 5.0

#: The reasons an :class:`InvalidToken` names, in the order they are checked.
REASONS = ("malformed", "alg", "kid", "signature", "expired", "issuer", "audience")

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class InvalidToken(ValueError):
    """The token is not a genuine, current sessionproxy token.

    ``reason`` is one of ``malformed``, ``alg``, ``kid``, ``signature``,
    ``expired``, ``issuer``, ``audience``; the message names it too.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class KeySetError(RuntimeError):
    """The JWKS could not be fetched or read: an outage, not a bad token."""


def _b64decode(part: str) -> bytes:
    if not _B64URL.fullmatch(part) or len(part) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64int(part: Any) -> int:
    if not isinstance(part, str):
        raise ValueError("not a base64url string")
    return int.from_bytes(_b64decode(part), "big")


class _KeySet:
    """Public keys fetched from a JWKS URL, cached by ``kid``.

    An unknown ``kid`` refetches the set at once (a key rotation), but at
    most once per ``refetch_interval`` seconds, so a flood of tokens with
    made-up ids does not become a flood of fetches. A set older than
    ``max_age`` is refetched in the background on the next use: a known
    ``kid`` never waits for the JWKS (nor for one that hangs), and if that
    fetch fails the old keys are kept. Until a first fetch succeeds,
    fetches are retried at most once per ``refetch_interval``, and
    KeySetError is raised; so it is for an unknown ``kid`` while the last
    fetch failed less than ``refetch_interval`` ago (the key may have been
    published: an outage, not a bad token). That interval counts from the
    end of the failed fetch, so a fetch that hung until its timeout is not
    followed at once by another that every request waits for. Fetches run
    outside the lock, one at a time; a request that needs one waits for the
    one under way.
    """

    def __init__(self, url: str, refetch_interval: float, max_age: float, timeout: float,
                 opener: Optional[Callable[[str, float], bytes]] = None) -> None:
        if importlib.util.find_spec("cryptography") is None:  # pragma: no cover - depends on the machine
            raise ImportError(
                "sessionproxy: jwks_url needs the cryptography package "
                '(pip install "sessionproxy[jwks]", or Debian\'s python3-cryptography)')
        self.url = url
        self.refetch_interval = refetch_interval
        self.max_age = max_age
        self.timeout = timeout
        self._open = opener or _http_get
        self._now = time.monotonic  # the clock of every time below; tests set their own
        self._lock = threading.Lock()
        self._keys: Dict[str, tuple] = {}
        self._fetched = 0.0  # self._now() of the last fetch attempt (of its failure, before a first success)
        self._unknown_refetch = -float("inf")  # ... of the last one an unknown kid caused
        self._loaded = False
        self._error = ""
        self._failed_at: Optional[float] = None  # self._now() of the last failed fetch, until one succeeds
        self._inflight: Optional[threading.Event] = None  # set when the fetch under way ends
        self.fetches = 0  # how many times the set was fetched, for tests and metrics

    def get(self, kid: str) -> Optional[tuple]:
        wait = None
        asked = self._now()
        with self._lock:
            now = self._now()
            if not self._loaded:
                if self.fetches == 0 or now - self._fetched >= self.refetch_interval:
                    wait = self._start(now)
                else:
                    wait = self._inflight
            elif now - self._fetched >= self.max_age:
                self._start(now)  # in the background: the keys held verify meanwhile
                if kid not in self._keys:
                    wait = self._inflight
            elif kid not in self._keys:
                failed_lately = self._failed_at is not None and now - self._failed_at < self.refetch_interval
                if self._inflight is not None:
                    wait = self._inflight  # the fetch under way may bring it; the budget stays for the next
                elif now - self._unknown_refetch >= self.refetch_interval and not failed_lately:
                    self._unknown_refetch = now
                    wait = self._start(now)
        if wait is not None:
            wait.wait(self.timeout + 1)
        with self._lock:
            if not self._loaded:
                raise KeySetError(f"sessionproxy: the JWKS {self.url} is unavailable: {self._error}")
            key = self._keys.get(kid)
            failed = self._failed_at
            # the fetch this call waited for failed, or one did lately
            if key is None and failed is not None \
                    and (failed >= asked or self._now() - failed < self.refetch_interval):
                raise KeySetError(f"sessionproxy: the JWKS {self.url} is unavailable, "
                                  f"and kid {kid!r} is not among the keys held: {self._error}")
            return key

    def _start(self, now: float) -> threading.Event:
        """Start a fetch unless one is under way; the lock is held."""
        if self._inflight is None:
            self._inflight = threading.Event()
            self._fetched = now
            self.fetches += 1
            threading.Thread(target=self._refresh, args=(self._inflight,), daemon=True,
                             name="sessionproxy-jwks").start()
        return self._inflight

    def _refresh(self, done: threading.Event) -> None:
        try:
            doc = json.loads(self._open(self.url, self.timeout))
            keys = doc["keys"]
            if not isinstance(keys, list):
                raise ValueError('"keys" is not a list')
            parsed = {}
            for jwk in keys:
                key = _parse_jwk(jwk)
                if key is not None:
                    parsed[jwk["kid"]] = key
        except Exception as e:  # any failure: keep the keys we have
            with self._lock:
                self._error = str(e) or type(e).__name__
                self._failed_at = self._now()
                if self._loaded:  # an old set's refresh: try again after the interval, not max_age
                    self._fetched = min(self._fetched, self._now() - self.max_age + self.refetch_interval)
                else:  # no keys yet: the interval counts from this failure
                    self._fetched = self._failed_at
                self._inflight = None
            done.set()
            return
        with self._lock:
            self._keys = parsed
            self._loaded = True
            self._failed_at = None
            self._inflight = None
        done.set()


#: The largest JWKS read, as the Go library's: a key set is a few hundred
#: bytes, and a larger answer is not read into memory whole.
_MAX_JWKS_BYTES = 1 << 20


def _http_get(url: str, timeout: float) -> bytes:
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the app's own config
        body = resp.read(_MAX_JWKS_BYTES + 1)
    if len(body) > _MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS is larger than {_MAX_JWKS_BYTES} bytes")
    return body


def _parse_jwk(jwk: Any) -> Optional[tuple]:
    """Return (alg, public key) for a usable signing key, else None."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    try:
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and jwk.get("alg", "EdDSA") == "EdDSA":
            return "EdDSA", ed25519.Ed25519PublicKey.from_public_bytes(_b64decode(jwk["x"]))
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256" and jwk.get("alg", "ES256") == "ES256":
            numbers = ec.EllipticCurvePublicNumbers(_b64int(jwk["x"]), _b64int(jwk["y"]), ec.SECP256R1())
            return "ES256", numbers.public_key()
    except (KeyError, ValueError, TypeError):
        return None
    return None


def _verify_asymmetric(alg: str, key: Any, signed: bytes, sig: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    try:
        if alg == "EdDSA":
            key.verify(sig, signed)
        else:  # ES256: the JWS signature is r || s, 32 bytes each
            if len(sig) != 64:
                return False
            der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
            key.verify(der, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _old_secrets(old_secrets: Optional[Iterable[Union[str, bytes]]]) -> Tuple[bytes, ...]:
    """The old secrets as bytes, or a TypeError or ValueError for a list
    that cannot work, so that it fails where it is configured."""
    if old_secrets is None:
        return ()
    if isinstance(old_secrets, (str, bytes)):
        raise TypeError("sessionproxy: old_secrets must be a list of secrets, not one secret")
    olds = []
    for i, old in enumerate(old_secrets):
        if not isinstance(old, (str, bytes)):
            raise TypeError(f"sessionproxy: old_secrets[{i}] must be str or bytes")
        if len(old) == 0:
            raise ValueError(f"sessionproxy: old_secrets[{i}] is empty")
        olds.append(old.encode() if isinstance(old, str) else old)
    return tuple(olds)


class Verifier:
    """Verifies sessionproxy tokens with one configuration.

    Build one per app and reuse it: it holds the HS256 secret and the
    JWKS cache. ``secret`` verifies HS256; ``jwks_url`` verifies EdDSA and
    ES256 tokens by their ``kid``; give either or both. An empty secret is
    refused here, never accepted as a key.

    ``old_secrets`` are secrets the proxy signed with before
    ``token.secret`` was rotated: tokens they verify are accepted too (for
    ``token.ttl`` after the switch). ``secret`` is tried first; an empty
    old secret is refused like an empty secret.

    ``audience``, when set, must be in the token's ``aud`` (a string or a
    list). ``leeway`` is in seconds (default 5).
    """

    def __init__(
        self,
        secret: Union[str, bytes, None] = None,
        *,
        old_secrets: Optional[Iterable[Union[str, bytes]]] = None,
        jwks_url: Optional[str] = None,
        audience: Optional[str] = None,
        leeway: float = DEFAULT_LEEWAY,
        issuer: str = ISSUER,
        jwks_refetch_interval: float = 10.0,
        jwks_max_age: float = 300.0,
        jwks_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secret is not None and not isinstance(secret, (str, bytes)):
            raise TypeError("sessionproxy: secret must be str or bytes")
        if secret is not None and len(secret) == 0:
            raise ValueError("sessionproxy: the secret is empty; pass token.secret of the proxy")
        if secret is None and not jwks_url:
            raise ValueError("sessionproxy: give a secret (HS256) or a jwks_url (EdDSA, ES256)")
        olds = _old_secrets(old_secrets)
        if olds and secret is None:
            raise ValueError("sessionproxy: old_secrets needs secret, the proxy's current token.secret")
        if leeway < 0:
            raise ValueError("sessionproxy: leeway must not be negative")
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self._old_secrets = olds
        self.audience = audience
        self.leeway = leeway
        self.issuer = issuer
        self._clock = clock
        self.keyset = _KeySet(jwks_url, jwks_refetch_interval, jwks_max_age, jwks_timeout) if jwks_url else None

    def verify(self, token: Union[str, bytes, None]) -> Dict[str, Any]:
        """Return the token's claims, or raise :class:`InvalidToken`."""
        if isinstance(token, bytes):
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidToken("malformed", "not ASCII") from None
        if not isinstance(token, str) or not token:
            raise InvalidToken("malformed", "no token")
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("malformed", "not three dot-separated parts")
        try:
            header = json.loads(_b64decode(parts[0]))
            payload_raw = _b64decode(parts[1])
            sig = _b64decode(parts[2])
        except (ValueError, binascii.Error, RecursionError):
            raise InvalidToken("malformed", "a part is not base64url JSON") from None
        if not isinstance(header, dict):
            raise InvalidToken("malformed", "the header is not a JSON object")

        alg = header.get("alg")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii")
        if alg == "HS256" and self._secret is not None:
            if not _hs256_matches(self._secret, signed, sig) and \
                    not any(_hs256_matches(old, signed, sig) for old in self._old_secrets):
                raise InvalidToken("signature", "the signature does not match")
        elif alg in ("EdDSA", "ES256") and self.keyset is not None:
            kid = header.get("kid")
            if not isinstance(kid, str) or not kid:
                raise InvalidToken("kid", "no kid in the header")
            key = self.keyset.get(kid)
            if key is None:
                raise InvalidToken("kid", "no key with this kid in the JWKS")
            if key[0] != alg:
                raise InvalidToken("alg", f"the key {kid!r} is not an {alg} key")
            if not _verify_asymmetric(alg, key[1], signed, sig):
                raise InvalidToken("signature", "the signature does not match")
        else:
            raise InvalidToken("alg", f"algorithm {alg!r} is not allowed")

        try:
            claims = json.loads(payload_raw)
        except (ValueError, RecursionError):
            raise InvalidToken("malformed", "the payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken("malformed", "the payload is not a JSON object")
        exp = claims.get("exp")
        if not _is_number(exp):
            raise InvalidToken("malformed", "exp is missing or not a number")
        if exp + self.leeway < self._clock():
            raise InvalidToken("expired", "the token has expired")
        if claims.get("iss") != self.issuer:
            raise InvalidToken("issuer", f"the issuer is not {self.issuer!r}")
        if self.audience is not None and not _has_audience(claims.get("aud"), self.audience):
            raise InvalidToken("audience", f"the token is not for audience {self.audience!r}")
        if not isinstance(claims.get("sess"), dict):
            raise InvalidToken("malformed", "sess is missing or not a JSON object")
        return claims


def _hs256_matches(secret: bytes, signed: bytes, sig: bytes) -> bool:
    expected = hmac.new(secret, signed, hashlib.sha256).digest()
    return hmac.compare_digest(expected, sig)


def _is_number(v: Any) -> bool:
    # Python's json reads NaN and Infinity, which JSON does not have: an
    # exp of NaN would never expire.
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _has_audience(aud: Any, want: str) -> bool:
    if isinstance(aud, str):
        return aud == want
    if isinstance(aud, list):
        return want in [a for a in aud if isinstance(a, str)]
    return False


def verify(
    token: Union[str, bytes, None],
    secret: Union[str, bytes, None] = None,
    jwks_url: Optional[str] = None,
    audience: Optional[str] = None,
    leeway: float = DEFAULT_LEEWAY,
    *,
    old_secrets: Optional[Iterable[Union[str, bytes]]] = None,
) -> Dict[str, Any]:
    """Verify one sessionproxy token and return its claims.

    Raises :class:`InvalidToken` (a ``ValueError``) naming the reason. For
    JWKS, build a :class:`Verifier` once instead, so the keys are cached
    across requests.
    """
    return Verifier(secret, old_secrets=old_secrets, jwks_url=jwks_url, audience=audience,
                    leeway=leeway).verify(token)
