"""Unit-testing an app without the proxy.

:func:`mint_token` signs a token the way the proxy does; :func:`headers`
wraps it as request headers for a test client; :class:`SessionJar` plays
the proxy across several requests (keeps the session, applies the
directives of each response)::

    from sessionproxy.testing import SessionJar

    jar = SessionJar(SECRET)
    jar.apply(client.get("/set", headers=jar.headers()).headers)
    assert jar.data["user"]["name"] == "john doe"
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

from ._session import HEADER, merge_patch
from ._token import ISSUER

__all__ = ["mint_token", "headers", "directives", "DirectiveError", "SessionJar"]

_UNSET: Any = object()


def _b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def new_sid() -> str:
    """A random session id shaped like the proxy's (16 bytes, base64url)."""
    return _b64(os.urandom(16))


def mint_token(
    secret: Union[str, bytes],
    sess: Optional[Mapping[str, Any]] = None,
    *,
    sid: Optional[str] = _UNSET,
    new: Optional[bool] = None,
    ttl: float = 60,
    iat: Optional[int] = None,
    audience: Union[str, List[str], None] = None,
    issuer: str = ISSUER,
    **extra: Any,
) -> str:
    """Sign an HS256 token as the proxy would.

    ``sess`` is the session data (default ``{}``); ``sid`` defaults to a
    random id (pass None for the koa cookie format, which has none);
    ``new`` defaults to True when ``sess`` is empty. ``extra`` claims are
    added as given (e.g. ``exp=0`` for an expired token).
    """
    if not secret:
        raise ValueError("sessionproxy.testing: the secret is empty")
    now = int(time.time()) if iat is None else iat
    claims: Dict[str, Any] = {}
    if sid is _UNSET:
        sid = new_sid()
    if sid is not None:
        claims["sid"] = sid
    claims["sess"] = dict(sess or {})
    claims["new"] = (not sess) if new is None else new
    claims["iss"] = issuer
    claims["iat"] = now
    claims["exp"] = now + int(ttl)
    if audience is not None:
        claims["aud"] = audience
    claims.update(extra)
    key = secret.encode() if isinstance(secret, str) else secret
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def headers(secret: Union[str, bytes], sess: Optional[Mapping[str, Any]] = None, *,
            header: str = "X-Session", **kwargs: Any) -> Dict[str, str]:
    """Request headers carrying a minted token, for a test client:
    ``client.get("/get", headers=headers(SECRET, {"user": "jo"}))``."""
    return {header: mint_token(secret, sess, **kwargs)}


def _header_items(h: Any) -> List[Tuple[str, str]]:
    if hasattr(h, "to_wsgi_list"):  # Werkzeug's Headers, repeated names kept
        return list(h.to_wsgi_list())
    if hasattr(h, "multi_items"):  # httpx's (Starlette's TestClient): its items() joins repeated names
        return list(h.multi_items())
    if hasattr(h, "items"):
        return list(h.items())
    return [(str(k), str(v)) for k, v in h]


# The proxy's limits (proxy/directive.go): past them a response is 502.
_MAX_DIRECTIVES = 100  # header values
_MAX_DIRECTIVE_BYTES = 1 << 20  # their total length in bytes
_MAX_DEPTH = 32  # nesting of X-Session-Set, the object counting as 1
_LONGEST_MAX_AGE = 100 * 365 * 24 * 3600 * 1000  # ms, 100 years
_SPACE = " \t\n\v\f\r"  # what Go's strings.TrimSpace trims of a header value's bytes


class DirectiveError(ValueError):
    """A directive the proxy would answer with 502, applying nothing of the
    response: ``header`` names it, ``reason`` says what is wrong."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"sessionproxy.testing: {header}: {reason}")
        self.header = header
        self.reason = reason


def _too_deep(v: str) -> bool:
    """Whether the JSON text v nests objects and arrays deeper than
    _MAX_DEPTH outside its strings."""
    depth, i = 0, 0
    while i < len(v):
        c = v[i]
        if c == '"':
            i += 1
            while i < len(v) and v[i] != '"':
                i += 2 if v[i] == "\\" else 1
        elif c in "{[":
            depth += 1
            if depth > _MAX_DEPTH:
                return True
        elif c in "}]":
            depth -= 1
        i += 1
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _int(s: str) -> Any:
    try:
        return int(s)
    except ValueError:  # past sys.get_int_max_str_digits(), still JSON
        return float(s)


def _patch(name: str, value: str) -> Dict[str, Any]:
    if _too_deep(value):
        raise DirectiveError(name, f"want a JSON object: objects and arrays nested deeper than {_MAX_DEPTH}")
    try:
        patch = json.loads(value, parse_constant=_no_constant, parse_int=_int)
    except (ValueError, RecursionError) as e:
        raise DirectiveError(name, f"want a JSON object: {e}") from None
    if not isinstance(patch, dict):
        raise DirectiveError(name, "want a JSON object: not a JSON object")
    for k in patch:
        if k.startswith("_"):
            raise DirectiveError(name, f"top-level key {json.dumps(k)}: keys starting with \"_\" are "
                                       "reserved for the proxy's bookkeeping")
    return patch


def _max_age(name: str, value: str) -> Union[int, str]:
    v = value.strip(_SPACE)
    if v == "session":
        return v
    digits = v[1:] if v[:1] in ("+", "-") else v
    if (digits.isascii() and digits.isdigit() and v[:1] != "-"
            and len(digits.lstrip("0")) <= 13 and 0 < int(digits) <= _LONGEST_MAX_AGE):
        return int(digits)
    raise DirectiveError(name, f"{value!r}: want a positive number of milliseconds (at most 100 years) or \"session\"")


def directives(response_headers: Any, header: str = HEADER) -> Dict[str, Any]:
    """The session directives in a response's headers, decoded:
    ``{"set": [patch, ...], "destroy": bool, "destroy_others": bool, "renew": bool,
    "max_age": ms | "session" | None}``. X-Session-Destroy ``all`` sets
    both ``destroy`` (this session ends) and ``destroy_others`` (the
    user's other sessions end), ``others`` only ``destroy_others``.
    Takes Werkzeug/Flask or httpx (Starlette's TestClient) headers, a
    dict, or a list of (name, value);
    ``header`` is the proxy's token.header, which names the directives.

    Raises :class:`DirectiveError` (a ValueError), naming the header, for
    what the proxy answers with 502: an X-Session-Set that is not a JSON
    object, nests deeper than 32 or sets a top-level key starting with
    ``_``; a Destroy other than ``true``, ``1``, ``others`` or ``all``; a
    Renew other than ``true`` or ``1``; a Max-Age that is neither a positive
    number of milliseconds (at most 100 years) nor ``session``; any other
    header named ``header`` + ``-...`` (or with ``_``, in any case: a typo
    such as X-Session-Sett); more than 100 such header values, or more
    than 1 MiB of them (in bytes, as a WSGI server sends them: Latin-1); a
    value with a character beyond Latin-1, which a WSGI server cannot send."""
    prefix = header.lower()
    own = prefix.replace("_", "-")
    out: Dict[str, Any] = {"set": [], "destroy": False, "destroy_others": False, "renew": False, "max_age": None}
    count = size = 0
    for name, value in _header_items(response_headers):
        lname = name.lower()
        norm = lname.replace("_", "-")
        if norm != own and not norm.startswith(own + "-"):
            continue
        count += 1
        # A WSGI server sends a header value as Latin-1 (PEP 3333), one
        # byte a character, and cannot send one beyond it at all: the
        # response breaks and the proxy answers 502.
        try:
            size += len(value.encode("latin-1"))
        except UnicodeEncodeError:
            raise DirectiveError(name, "characters beyond Latin-1, which a WSGI server cannot send in a header: "
                                       "write the JSON as ASCII, as json.dumps does by default") from None
        if count > _MAX_DIRECTIVES:
            raise DirectiveError(name, f"more than {_MAX_DIRECTIVES} session headers in one response")
        if size > _MAX_DIRECTIVE_BYTES:
            raise DirectiveError(name, f"the session headers of one response are longer than {_MAX_DIRECTIVE_BYTES} bytes")
        v = value.strip(_SPACE)
        if lname == prefix:
            pass  # the token, echoed back: the proxy drops it
        elif lname == prefix + "-set":
            out["set"].append(_patch(name, value))
        elif lname == prefix + "-destroy":
            if v not in ("true", "1", "others", "all"):
                raise DirectiveError(name, f'{value!r}: want "true", "1", "others" or "all"')
            if v != "others":
                out["destroy"] = True
            if v in ("others", "all"):
                out["destroy_others"] = True
        elif lname == prefix + "-renew":
            if v not in ("true", "1"):
                raise DirectiveError(name, f'{value!r}: want "true" or "1"')
            out["renew"] = True
        elif lname == prefix + "-max-age":
            out["max_age"] = _max_age(name, value)
        else:
            raise DirectiveError(name, "unknown session directive")
    return out


class SessionJar:
    """Plays the proxy for a test: holds a session across requests.

    :meth:`headers` gives the request headers (a fresh token of the
    current session); :meth:`apply` applies a response's directives as the
    proxy would (merge patch, destroy, renew, max age), and gives the next
    token the proxy's id: a new one after a destroy or a renew of a saved
    session, and after every response while the session is unsaved
    (``new``), as the proxy keeps no empty new session to remember its id.
    """

    def __init__(self, secret: Union[str, bytes], data: Optional[Mapping[str, Any]] = None, *,
                 header: str = "X-Session", audience: Union[str, List[str], None] = None) -> None:
        self.secret = secret
        self.header = header
        self.audience = audience
        self.data: Dict[str, Any] = dict(data or {})
        self.sid: Optional[str] = new_sid()
        self.new = not self.data
        self.max_age: Any = None

    def token(self) -> str:
        return mint_token(self.secret, self.data, sid=self.sid, new=self.new, audience=self.audience)

    def headers(self) -> Dict[str, str]:
        return {self.header: self.token()}

    def apply(self, response_headers: Any) -> Dict[str, Any]:
        """Apply the directives of one response; returns them decoded.
        The user's other sessions, which ``destroy_others`` ends, are not
        in the jar: for them, assert on what this returns."""
        d = directives(response_headers, self.header)
        renewed = d["renew"] and not self.new  # a new session saved keeps its id
        if d["destroy"]:
            self.data, self.new = {}, True
        for patch in d["set"]:
            self.data = merge_patch(self.data, patch)
        if d["max_age"] is not None:
            self.max_age = d["max_age"]
        # The proxy saves a new session (a destroy's successor too) only
        # when the response leaves it with data, renews it or gives it a
        # max age; a destroy without a set or a max age only ends it.
        ended = d["destroy"] and not d["set"] and d["max_age"] is None
        if not ended and (self.data or d["renew"] or d["max_age"] is not None):
            self.new = False
        # Nothing remembers the id of a session the proxy left unsaved: the
        # next request starts another. A jar without one (sid None: the
        # koa cookie format with the cookie store) never gets one.
        if self.sid is not None and (d["destroy"] or renewed or self.new):
            self.sid = new_sid()
        return d
