"""EdDSA and ES256 tokens verified from a JWKS served on 127.0.0.1, with
keys generated here (the proxy does not publish its JWKS yet)."""
import base64
import hashlib
import json
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

import sessionproxy
from sessionproxy.testing import mint_token
from flask import Flask, session

from sessionproxy.flask import SessionProxy, session_optional
from sessionproxy.wsgi import SessionMiddleware


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def thumbprint(members):
    """RFC 7638: SHA-256 of the required members, sorted, no spaces."""
    return b64(hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode()).digest())


class Key:
    def __init__(self, alg):
        self.alg = alg
        if alg == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
            x = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
            members = {"crv": "Ed25519", "kty": "OKP", "x": b64(x)}
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            n = self.private.public_key().public_numbers()
            members = {"crv": "P-256", "kty": "EC",
                       "x": b64(n.x.to_bytes(32, "big")), "y": b64(n.y.to_bytes(32, "big"))}
        self.kid = thumbprint(members)
        self.jwk = dict(members, kid=self.kid, alg=alg, use="sig")

    def sign(self, claims, kid=None, alg=None):
        head = b64(json.dumps({"alg": alg or self.alg, "kid": kid or self.kid, "typ": "JWT"}).encode())
        body = b64(json.dumps(claims).encode())
        msg = f"{head}.{body}".encode()
        if self.alg == "EdDSA":
            sig = self.private.sign(msg)
        else:
            r, s = decode_dss_signature(self.private.sign(msg, ec.ECDSA(hashes.SHA256())))
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{head}.{body}.{b64(sig)}"


def claims(**kw):
    now = int(time.time())
    c = {"sid": "s1", "sess": {"user": "jo"}, "new": False, "iss": "sessionproxy", "iat": now, "exp": now + 60}
    c.update(kw)
    return c


class JWKSServer:
    """Serves {"keys": [...]} on 127.0.0.1 (random port), counting fetches."""

    def __init__(self, keys):
        self.keys = list(keys)
        self.fetches = 0
        self.fail = False
        self.pad = 0  # bytes of padding in the set: a JWKS too large to read
        self.hang = None  # a threading.Event a fetch waits for: a JWKS that hangs
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.fetches += 1
                body = json.dumps({"keys": [k.jwk for k in outer.keys], "pad": "x" * outer.pad}).encode()  # the set as the fetch began
                if outer.hang is not None:
                    outer.hang.wait(10)
                if outer.fail:
                    self.send_error(503)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class JWKSTest(unittest.TestCase):
    def setUp(self):
        self.ed = Key("EdDSA")
        self.es = Key("ES256")
        self.server = JWKSServer([self.ed, self.es])
        self.addCleanup(self.server.close)

    def verifier(self, **kw):
        return sessionproxy.Verifier(jwks_url=self.server.url, **kw)

    def assertReason(self, reason, fn, *args):
        with self.assertRaises(sessionproxy.InvalidToken) as cm:
            fn(*args)
        self.assertEqual(cm.exception.reason, reason)

    def test_both_algorithms(self):
        v = self.verifier()
        for key in (self.ed, self.es):
            with self.subTest(key.alg):
                c = claims()
                self.assertEqual(v.verify(key.sign(c)), c)
        self.assertEqual(self.server.fetches, 1, "the JWKS is cached across tokens")

    def test_one_shot_verify(self):
        self.assertEqual(sessionproxy.verify(self.ed.sign(claims()), jwks_url=self.server.url)["sid"], "s1")

    def test_refused(self):
        v = self.verifier(audience="orders")
        other = Key("EdDSA")
        self.assertReason("signature", v.verify, other.sign(claims(aud="orders"), kid=self.ed.kid))
        self.assertReason("expired", v.verify, self.es.sign(claims(aud="orders", exp=int(time.time()) - 100)))
        self.assertReason("issuer", v.verify, self.es.sign(claims(aud="orders", iss="x")))
        self.assertReason("audience", v.verify, self.ed.sign(claims(aud="billing")))
        # the key is Ed25519, the header says ES256: never verify across algorithms
        self.assertReason("alg", v.verify, self.ed.sign(claims(aud="orders"), alg="ES256"))
        # HS256 needs a secret; this verifier has none
        self.assertReason("alg", v.verify, mint_token("s" * 32, audience="orders"))
        tampered = self.es.sign(claims(aud="orders"))
        head, body, sig = tampered.split(".")
        # one character changed to another: fixed characters written over
        # its end would leave a signature that ended in them as it was
        i = len(sig) - 10
        other = "B" if sig[i] == "A" else "A"
        self.assertReason("signature", v.verify, f"{head}.{body}.{sig[:i]}{other}{sig[i + 1:]}")
        self.assertReason("signature", v.verify, f"{head}.{body}.{b64(b'short')}")

    def test_unknown_kid_refetches_once(self):
        v = self.verifier()
        v.verify(self.ed.sign(claims()))
        self.assertEqual(self.server.fetches, 1)
        rotated = Key("ES256")
        self.server.keys.append(rotated)  # a rotation: the new key is published
        self.assertEqual(v.verify(rotated.sign(claims()))["sid"], "s1")
        self.assertEqual(self.server.fetches, 2, "the unknown kid refetched the JWKS")
        # A made-up kid may not refetch again so soon: no flood of fetches.
        for _ in range(3):
            self.assertReason("kid", v.verify, self.ed.sign(claims(), kid="made-up"))
        self.assertEqual(self.server.fetches, 2)

    def test_unknown_kid_refused_after_one_refetch(self):
        v = self.verifier()
        v.verify(self.ed.sign(claims()))
        self.assertReason("kid", v.verify, self.ed.sign(claims(), kid="made-up"))
        self.assertEqual(self.server.fetches, 2)
        self.assertReason("kid", v.verify, self.ed.sign(claims(), kid="made-up-too"))
        self.assertEqual(self.server.fetches, 2)

    def test_no_kid(self):
        head = b64(json.dumps({"alg": "EdDSA"}).encode())
        tok = self.ed.sign(claims())
        self.assertReason("kid", self.verifier().verify, head + tok[tok.index("."):])

    def test_outage(self):
        self.server.fail = True
        v = self.verifier()
        with self.assertRaises(sessionproxy.KeySetError):
            v.verify(self.ed.sign(claims()))
        # Keys once fetched survive a later outage.
        self.server.fail = False
        v = self.verifier(jwks_max_age=0)
        v.verify(self.ed.sign(claims()))
        self.server.fail = True
        self.assertEqual(v.verify(self.es.sign(claims()))["sid"], "s1")

    def test_a_jwks_too_large_is_an_outage(self):
        """A key set past 1 MiB is not read whole (as in the Go library)."""
        self.server.pad = 2 << 20
        with self.assertRaises(sessionproxy.KeySetError) as cm:
            self.verifier().verify(self.ed.sign(claims()))
        self.assertIn("larger than", str(cm.exception))

    def test_an_unknown_kid_during_an_outage_is_an_outage(self):
        """The key may have been published (a rotation) while the JWKS is
        down: not a bad token, as the Go library answers it too."""
        v = self.verifier()
        v.verify(self.ed.sign(claims()))
        self.server.fail = True
        with self.assertRaises(sessionproxy.KeySetError):
            v.verify(Key("ES256").sign(claims()))  # its refetch fails
        with self.assertRaises(sessionproxy.KeySetError):
            v.verify(Key("ES256").sign(claims()))  # no refetch so soon, and the last one failed
        self.assertEqual(v.verify(self.es.sign(claims()))["sid"], "s1", "a known key verifies meanwhile")
        self.server.fail = False
        self.assertEqual(self.server.fetches, 2)

    def test_an_unknown_kid_during_an_outage_without_an_interval(self):
        v = self.verifier(jwks_refetch_interval=0)  # every unknown kid fetches
        v.verify(self.ed.sign(claims()))
        self.server.fail = True
        with self.assertRaises(sessionproxy.KeySetError):
            v.verify(Key("ES256").sign(claims()))

    def hung_fetch_fails(self, v, token):
        """Verify token while the JWKS hangs for as long as the refetch
        interval (on v's fake clock), then answers 503; return the clock."""
        clock = [1000.0]
        v.keyset._now = lambda: clock[0]
        self.server.fail = True
        self.server.hang = threading.Event()
        self.addCleanup(self.server.hang.set)
        fetches = self.server.fetches
        outcome = []

        def request():
            try:
                v.verify(token)
            except sessionproxy.KeySetError:
                outcome.append("outage")
        t = threading.Thread(target=request)
        t.start()
        deadline = time.monotonic() + 5
        while self.server.fetches == fetches and time.monotonic() < deadline:
            time.sleep(0.005)
        clock[0] += v.keyset.refetch_interval
        self.server.hang.set()
        t.join(5)
        self.server.hang = None
        self.assertEqual(outcome, ["outage"])
        return clock

    def test_a_hung_first_fetch_is_followed_by_the_interval(self):
        """No request waits for a fetch that failed lately: the interval
        counts from the end of a fetch that hung, not from its start."""
        v = self.verifier()
        clock = self.hung_fetch_fails(v, self.ed.sign(claims()))
        for _ in range(3):
            with self.assertRaises(sessionproxy.KeySetError):
                v.verify(self.ed.sign(claims()))
        self.assertEqual(self.server.fetches, 1, "a request fetched again just after the hung fetch failed")
        clock[0] += v.keyset.refetch_interval
        self.server.fail = False
        self.assertEqual(v.verify(self.ed.sign(claims()))["sid"], "s1")
        self.assertEqual(self.server.fetches, 2)

    def test_a_hung_refetch_for_an_unknown_kid_is_followed_by_the_interval(self):
        v = self.verifier()
        v.verify(self.ed.sign(claims()))
        clock = self.hung_fetch_fails(v, Key("ES256").sign(claims()))
        with self.assertRaises(sessionproxy.KeySetError):
            v.verify(Key("ES256").sign(claims()))
        self.assertEqual(self.server.fetches, 2, "an unknown kid fetched again just after the hung fetch failed")
        self.assertEqual(v.verify(self.es.sign(claims()))["sid"], "s1", "a known key verifies meanwhile")
        clock[0] += v.keyset.refetch_interval
        self.server.fail = False
        with self.assertRaises(sessionproxy.InvalidToken):
            v.verify(Key("ES256").sign(claims()))
        self.assertEqual(self.server.fetches, 3)

    def test_a_hanging_jwks_holds_up_no_known_key(self):
        """An old set is fetched again in the background: known keys
        verify meanwhile, from any thread, while the JWKS hangs."""
        v = self.verifier(jwks_max_age=0)  # every use finds the set old: it fetches it again
        v.verify(self.ed.sign(claims()))
        self.server.hang = threading.Event()
        self.addCleanup(self.server.hang.set)
        results = []
        threads = [threading.Thread(target=lambda: results.append(v.verify(self.es.sign(claims()))["sid"]))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)  # a guard against a deadlock, not a speed check
        self.assertEqual(results, ["s1"] * 3, "a known key waited for the hanging JWKS")
        self.assertEqual(v.keyset.fetches, 2, "one background fetch for all three")

    def test_a_rotation_during_a_background_refresh(self):
        """A new kid that waited for a refresh begun before the rotation
        leaves the refetch budget to the next request, which finds it."""
        v = self.verifier(jwks_max_age=0.6)
        v.verify(self.ed.sign(claims()))
        self.server.hang = threading.Event()
        self.addCleanup(self.server.hang.set)
        time.sleep(0.65)  # the set is old
        v.verify(self.ed.sign(claims()))  # a known key: a background refresh starts, and hangs
        self.assertIsNotNone(v.keyset._inflight)
        deadline = time.monotonic() + 5
        while self.server.fetches < 2 and time.monotonic() < deadline:
            time.sleep(0.005)  # until the refresh reached the JWKS, which then holds the old set
        rotated = Key("ES256")
        self.server.keys.append(rotated)
        waited = []

        def first():
            try:
                waited.append(v.verify(rotated.sign(claims()))["sid"])
            except sessionproxy.InvalidToken as e:
                waited.append(e.reason)
        t = threading.Thread(target=first)
        t.start()
        time.sleep(0.15)
        self.server.hang.set()  # the refresh ends, with the set as it was before the rotation: fresh again
        t.join(5)
        self.server.hang = None
        self.assertEqual(v.verify(rotated.sign(claims()))["sid"], "s1", "the next request fetched again")

    def test_a_failed_refresh_is_tried_again_after_the_interval(self):
        """Not only after max_age: a withdrawn key should not outlive an
        outage of the JWKS by minutes."""
        v = self.verifier(jwks_max_age=300, jwks_refetch_interval=0.2)
        v.verify(self.ed.sign(claims()))
        v.keyset._fetched -= 301  # the set is old
        self.server.fail = True
        v.verify(self.ed.sign(claims()))  # the known key verifies; the refresh fails
        deadline = time.monotonic() + 5
        while v.keyset._inflight is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.server.fail = False
        time.sleep(0.25)
        v.verify(self.ed.sign(claims()))  # past the interval: refreshed again
        self.assertEqual(v.keyset.fetches, 3)

    def test_secret_and_jwks_together(self):
        v = sessionproxy.Verifier("hs-secret-0123456789abcdef", jwks_url=self.server.url)
        self.assertEqual(v.verify(mint_token("hs-secret-0123456789abcdef", sid="h"))["sid"], "h")
        self.assertEqual(v.verify(self.ed.sign(claims()))["sid"], "s1")


    def test_an_outage_is_503(self):
        """A JWKS that cannot be fetched is an outage, not a bad token and
        not a fault of the app: 503, which a load balancer retries, as the
        Go and Node libraries answer it. A view that runs without a
        session still runs, without one, as with the Go library's
        Optional."""
        self.server.fail = True
        token = {"X-Session": self.ed.sign(claims())}
        app = Flask(__name__)
        SessionProxy(app, jwks_url=self.server.url)

        @app.get("/")
        def index():
            return "ok"

        @app.get("/public")
        @session_optional
        def public():
            return "verified" if session.verified else "anonymous"

        client = app.test_client()
        self.assertEqual(client.get("/", headers=token).status_code, 503)
        r = client.get("/public", headers=token)
        self.assertEqual((r.status_code, r.text), (200, "anonymous"))

        def wsgi_app(environ, start_response):
            start_response("200 OK", [])
            return [b"verified" if environ["sessionproxy.session"].verified else b"anonymous"]
        got = {}

        def start_response(status, headers, exc_info=None):
            got["status"] = status
        environ = {"HTTP_X_SESSION": token["X-Session"]}
        list(SessionMiddleware(wsgi_app, jwks_url=self.server.url)(dict(environ), start_response))
        self.assertEqual(got["status"][:3], "503")
        body = b"".join(SessionMiddleware(wsgi_app, jwks_url=self.server.url, required=False)(dict(environ), start_response))
        self.assertEqual((got["status"][:3], body), ("200", b"anonymous"))

    def test_wsgi_middleware_with_jwks(self):
        seen = {}

        def app(environ, start_response):
            seen["user"] = environ["sessionproxy.session"]["user"]
            start_response("200 OK", [])
            return [b""]
        mw = SessionMiddleware(app, jwks_url=self.server.url)
        for key in (self.ed, self.es):
            list(mw({"HTTP_X_SESSION": key.sign(claims())}, lambda *a: None))
            self.assertEqual(seen["user"], "jo")
        self.assertEqual(self.server.fetches, 1)


if __name__ == "__main__":
    unittest.main()
