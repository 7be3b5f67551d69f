"""sessionproxy.wsgi.SessionMiddleware around plain WSGI apps."""
import json
import unittest
from datetime import timedelta
from wsgiref.util import setup_testing_defaults

import sessionproxy
from sessionproxy.testing import mint_token
from sessionproxy.wsgi import SessionMiddleware

SECRET = "wsgi-test-secret-0123456789abcdef"
OLD = "wsgi-old-secret-0123456789abcdef"
OTHER = "wsgi-other-secret-0123456789abcdef"


def call(app, token=None, path="/"):
    environ = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    if token is not None:
        environ["HTTP_X_SESSION"] = token
    got = {}

    def start_response(status, headers, exc_info=None):
        got["status"], got["headers"] = status, headers
        return lambda b: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    got["body"] = body
    got["environ"] = environ
    return got


def header(got, name):
    return [v for k, v in got["headers"] if k.lower() == name.lower()]


def app_doing(fn):
    def app(environ, start_response):
        fn(environ["sessionproxy.session"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    return app


class MiddlewareTest(unittest.TestCase):
    def wrap(self, fn, **kw):
        return SessionMiddleware(app_doing(fn), secret=SECRET, **kw)

    def test_set_and_read(self):
        seen = {}

        def fn(s):
            seen.update(s=dict(s), id=s.id, new=s.is_new)
            s["views"] = s.get("views", 0) + 1

        got = call(self.wrap(fn), mint_token(SECRET, {"views": 1}, sid="abc"))
        self.assertEqual(seen, {"s": {"views": 1}, "id": "abc", "new": False})
        self.assertEqual(header(got, "X-Session-Set"), ['{"views":2}'])

    def test_nothing_changed(self):
        got = call(self.wrap(lambda s: s.get("a")), mint_token(SECRET, {"a": 1}))
        self.assertEqual([k for k, _ in got["headers"] if k.startswith("X-Session")], [])

    def test_nested(self):
        got = call(self.wrap(lambda s: s["cart"].append("y")), mint_token(SECRET, {"cart": ["x"], "b": 1}))
        self.assertEqual(json.loads(header(got, "X-Session-Set")[0]), {"cart": ["x", "y"]})

    def test_destroy_regenerate_max_age(self):
        got = call(self.wrap(lambda s: s.destroy()), mint_token(SECRET, {"a": 1}))
        self.assertEqual(header(got, "X-Session-Destroy"), ["true"])

        def fn(s):
            s.regenerate()
            s.max_age = 60000
        got = call(self.wrap(fn), mint_token(SECRET, {"a": 1}))
        self.assertEqual(header(got, "X-Session-Renew"), ["true"])
        self.assertEqual(header(got, "X-Session-Max-Age"), ["60000"])
        for bad in (-1, 0, 0.5, float("nan"), float("inf"), 200 * 365 * 24 * 3600 * 1000, True, "60000"):
            with self.subTest(max_age=bad), self.assertRaises(ValueError):
                call(self.wrap(lambda s: setattr(s, "max_age", bad)), mint_token(SECRET))
        got = call(self.wrap(lambda s: setattr(s, "max_age", timedelta(days=1.5).total_seconds() * 1000)), mint_token(SECRET))
        self.assertEqual(header(got, "X-Session-Max-Age"), ["129600000"])

    def test_clear_is_destroy(self):
        def fn(s):
            s.clear()
            s["fresh"] = True
        got = call(self.wrap(fn), mint_token(SECRET, {"a": 1}))
        self.assertEqual(header(got, "X-Session-Destroy"), ["true"])
        self.assertEqual(json.loads(header(got, "X-Session-Set")[0]), {"fresh": True})

    def test_a_response_that_read_the_session_varies_on_cookie(self):
        """As Django's SessionMiddleware does: the response depends on the
        cookie."""
        token = mint_token(SECRET, {"a": 1})
        self.assertEqual(header(call(self.wrap(lambda s: "a" in s), token), "Vary"), ["Cookie"])
        self.assertEqual(header(call(self.wrap(lambda s: s.id), token), "Vary"), ["Cookie"])
        self.assertEqual(header(call(self.wrap(lambda s: None), token), "Vary"), [])

        def app(environ, start_response):
            environ["sessionproxy.session"].get("a")
            start_response("200 OK", [("Vary", "Accept-Encoding")])
            return [b"ok"]
        got = call(SessionMiddleware(app, secret=SECRET), token)
        self.assertEqual(header(got, "Vary"), ["Accept-Encoding", "Cookie"])

    def test_401_without_token(self):
        got = call(self.wrap(lambda s: None))
        self.assertEqual(got["status"], "401 Unauthorized")
        got = call(self.wrap(lambda s: None), mint_token("some-other-secret-0123456789"))
        self.assertEqual(got["status"], "401 Unauthorized")

    def test_optional(self):
        seen = {}
        got = call(self.wrap(lambda s: seen.update(v=s.verified, d=dict(s)), required=False))
        self.assertEqual(got["status"], "200 OK")
        self.assertEqual(seen, {"v": False, "d": {}})
        self.assertEqual(got["environ"]["sessionproxy.error"].reason, "malformed")
        with self.assertRaises(RuntimeError):
            call(self.wrap(lambda s: s.__setitem__("a", 1), required=False))
        per_path = self.wrap(lambda s: None, required=lambda env: env["PATH_INFO"] != "/health")
        self.assertEqual(call(per_path, path="/health")["status"], "200 OK")
        self.assertEqual(call(per_path, path="/private")["status"], "401 Unauthorized")

    def test_change_after_start_response(self):
        def app(environ, start_response):
            s = environ["sessionproxy.session"]
            start_response("200 OK", [])
            s["late"] = 1
            return [b"never"]
        with self.assertRaises(sessionproxy.SessionSealedError):
            call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET))

    def test_a_setdefault_or_pop_that_changes_nothing_is_a_read(self):
        """As with Flask's session: not modified, and allowed after the
        headers and without a token."""
        seen = {}

        def app(environ, start_response):
            s = environ["sessionproxy.session"]
            start_response("200 OK", [])
            seen.update(cart=s.setdefault("cart", []), gone=s.pop("gone", "default"), modified=s.modified)
            return [b"ok"]
        got = call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET, {"cart": [1]}))
        self.assertEqual(seen, {"cart": [1], "gone": "default", "modified": False})
        self.assertEqual(header(got, "X-Session-Set"), [])
        logout = app_doing(lambda s: seen.update(user=s.pop("user", None)))  # an empty session without a token
        call(SessionMiddleware(logout, secret=SECRET, required=False))
        self.assertIsNone(seen["user"])

    def test_nested_change_in_streamed_body(self):
        def app(environ, start_response):
            s = environ["sessionproxy.session"]
            start_response("200 OK", [])
            yield b"first"
            s["cart"].append(1)  # after the headers: lost, so an error
            yield b"second"
        with self.assertRaises(sessionproxy.SessionSealedError):
            call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET, {"cart": []}))

    def test_generator_app_changing_before_start_response(self):
        def app(environ, start_response):
            environ["sessionproxy.session"]["a"] = 1
            start_response("200 OK", [])
            yield b"ok"
        got = call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET))
        self.assertEqual(header(got, "X-Session-Set"), ['{"a":1}'])

    def test_close_is_called(self):
        """The app's close() is reached whether the server iterates the
        body first or, a client gone, closes it without iterating (PEP 3333)."""
        closed = []

        class Body(list):
            def close(self):
                closed.append(True)

        def app(environ, start_response):
            start_response("200 OK", [])
            return Body([b"ok"])
        mw = SessionMiddleware(app, secret=SECRET)

        def without_iterating():
            environ = {"HTTP_X_SESSION": mint_token(SECRET)}
            setup_testing_defaults(environ)
            mw(environ, lambda status, headers: None).close()
        for name, serve in {"iterated": lambda: call(mw, mint_token(SECRET)), "not iterated": without_iterating}.items():
            with self.subTest(name):
                closed.clear()
                serve()
                self.assertEqual(closed, [True])

    def test_change_before_a_file_body_is_an_error(self):
        """A file body is not wrapped, so the check runs when it is
        returned: a change after start_response is never silently lost."""
        import io
        from wsgiref.util import FileWrapper

        def app(environ, start_response):
            s = environ["sessionproxy.session"]
            start_response("200 OK", [])
            s["cart"].append(3)
            return environ["wsgi.file_wrapper"](io.BytesIO(b"file"))
        environ = {"wsgi.file_wrapper": FileWrapper, "HTTP_X_SESSION": mint_token(SECRET, {"cart": [1, 2]})}
        setup_testing_defaults(environ)
        with self.assertRaises(sessionproxy.SessionSealedError):
            SessionMiddleware(app, secret=SECRET)(environ, lambda status, headers: None)

    def test_file_wrapper_passes_through(self):
        """A file body the server sends itself (sendfile) is not wrapped."""
        class FileWrapper:
            def __init__(self, f, blksize=8192):
                self.f = f

            def __iter__(self):
                return iter([self.f])

        def app(environ, start_response):
            environ["sessionproxy.session"]["a"] = 1
            start_response("200 OK", [])
            return environ["wsgi.file_wrapper"](b"file")
        environ = {}
        setup_testing_defaults(environ)
        environ["wsgi.file_wrapper"] = FileWrapper
        environ["HTTP_X_SESSION"] = mint_token(SECRET)
        got = {}
        result = SessionMiddleware(app, secret=SECRET)(environ, lambda status, headers: got.update(headers=headers))
        self.assertIsInstance(result, FileWrapper)
        self.assertEqual(header(got, "X-Session-Set"), ['{"a":1}'])

    def test_directives_set_by_hand_are_replaced(self):
        """The library owns the directive headers: ones the app wrote
        itself (any case) would undo or add to the session's changes, so
        only the session's own go to the proxy. Another X-Session-
        name is left as it is, for the proxy to refuse (502) and so show
        the mistake."""
        def app(environ, start_response):
            environ["sessionproxy.session"]["a"] = 1
            start_response("200 OK", [("x-session-destroy", "true"), ("X-Session-Set", '{"b":2}'),
                                      ("X-Session-Max-Age", "5"), ("X-Session-Id", "mine")])
            return [b"ok"]
        got = call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET))
        self.assertEqual(header(got, "X-Session-Set"), ['{"a":1}'])
        self.assertEqual(header(got, "X-Session-Destroy") + header(got, "X-Session-Max-Age"), [])
        self.assertEqual(header(got, "X-Session-Id"), ["mine"])

    def test_custom_header(self):
        """token.header names the token and the directives."""
        def fn(s):
            seen.update(d=dict(s))
            s["b"] = 2
        environ = {}
        setup_testing_defaults(environ)
        environ["HTTP_X_APP_SESSION"] = mint_token(SECRET, {"a": 1})
        seen, got = {}, {}
        app = SessionMiddleware(app_doing(fn), secret=SECRET, header="X-App-Session")
        list(app(environ, lambda status, headers: got.update(headers=headers)))
        self.assertEqual(seen, {"d": {"a": 1}})
        self.assertEqual(header(got, "X-App-Session-Set"), ['{"b":2}'])
        self.assertEqual(header(got, "X-Session-Set"), [])

    def test_empty_secret_refused(self):
        with self.assertRaises(ValueError):
            SessionMiddleware(app_doing(lambda s: None), secret="")
        with self.assertRaises(ValueError):
            SessionMiddleware(app_doing(lambda s: None), secret=SECRET, old_secrets=[OLD, ""])

    def test_old_secrets(self):
        app = self.wrap(lambda s: None, old_secrets=[OLD])
        self.assertEqual(call(app, mint_token(SECRET))["status"], "200 OK")
        self.assertEqual(call(app, mint_token(OLD))["status"], "200 OK")
        self.assertEqual(call(app, mint_token(OTHER))["status"][:3], "401")
        self.assertEqual(call(self.wrap(lambda s: None), mint_token(OLD))["status"][:3], "401")


class VerifierTest(unittest.TestCase):
    def test_construction(self):
        for bad in ("", b""):
            with self.assertRaises(ValueError):
                sessionproxy.Verifier(bad)
        with self.assertRaises(ValueError):
            sessionproxy.Verifier()
        for bad in ([""], [OLD, b""]):
            with self.assertRaises(ValueError):
                sessionproxy.Verifier(SECRET, old_secrets=bad)
        with self.assertRaises(TypeError):
            sessionproxy.Verifier(SECRET, old_secrets=OLD)  # one secret, not a list of them
        with self.assertRaises(ValueError):
            sessionproxy.Verifier(old_secrets=[OLD], jwks_url="http://127.0.0.1:1/jwks.json")

    def test_old_secrets(self):
        """During a token.secret rotation: a token of the old secret
        verifies only when it is listed; of the current one always; of
        any other secret never, refused for its signature as before."""
        cases = [
            ("none", None, {SECRET: True, OLD: False, OTHER: False}),
            ("the old one", [OLD], {SECRET: True, OLD: True, OTHER: False}),
            ("as bytes, among others", [b"older-secret", OLD.encode()], {SECRET: True, OLD: True, OTHER: False}),
        ]
        for name, old, want in cases:
            v = sessionproxy.Verifier(SECRET, old_secrets=old)
            for signer, ok in want.items():
                with self.subTest(name, signer=signer):
                    tok = mint_token(signer, {"user": "john"})
                    if ok:
                        self.assertEqual(v.verify(tok)["sess"], {"user": "john"})
                        self.assertEqual(sessionproxy.verify(tok, SECRET, old_secrets=old)["sess"], {"user": "john"})
                    else:
                        for verify in (v.verify, lambda t: sessionproxy.verify(t, SECRET, old_secrets=old)):
                            with self.assertRaises(sessionproxy.InvalidToken) as cm:
                                verify(tok)
                            self.assertEqual(cm.exception.reason, "signature")

    def test_leeway(self):
        import time
        tok = mint_token(SECRET, exp=int(time.time()) - 3)
        self.assertIn("sess", sessionproxy.verify(tok, secret=SECRET))  # default leeway 5 s
        with self.assertRaises(sessionproxy.InvalidToken) as cm:
            sessionproxy.verify(tok, secret=SECRET, leeway=0)
        self.assertEqual(cm.exception.reason, "expired")

    def test_exp_must_be_a_finite_number(self):
        """Python's json reads NaN and Infinity; a token whose exp is one
        of them (signed, but not as the proxy makes them) never expires."""
        for exp in (float("nan"), float("inf")):
            with self.subTest(exp=exp):
                with self.assertRaises(sessionproxy.InvalidToken) as cm:
                    sessionproxy.verify(mint_token(SECRET, exp=exp), secret=SECRET)
                self.assertEqual(cm.exception.reason, "malformed")

    def test_sess_is_required(self):
        """The proxy always sends sess; a token without it is not one of its own."""
        import base64
        import hashlib
        import hmac
        import time

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = b64(b'{"alg":"HS256","typ":"JWT"}')
        body = b64(json.dumps({"iss": "sessionproxy", "exp": int(time.time()) + 60, "sid": "x"}).encode())
        sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
        with self.assertRaises(sessionproxy.InvalidToken) as cm:
            sessionproxy.verify(f"{head}.{body}.{sig}", secret=SECRET)
        self.assertEqual(cm.exception.reason, "malformed")

    def test_audience_list(self):
        tok = mint_token(SECRET, audience=["a", "orders"])
        self.assertEqual(sessionproxy.verify(tok, secret=SECRET, audience="orders")["aud"], ["a", "orders"])

    def test_hostile_inputs(self):
        import base64

        def b64(s):
            return base64.urlsafe_b64encode(s.encode()).rstrip(b"=").decode()
        for tok in (None, "", "a.b", "a.b.c.d", "!!.??.##", b"\xff.\xff.\xff", "x" * 10 + ".e30.",
                    b64("[]") + "." + b64("{}") + ".", b64('"s"') + ".e30.", b64("null") + ".e30.",
                    b64('{"alg":["HS256"]}') + ".e30.", b64("[" * 100000) + ".e30."):
            with self.subTest(tok):
                with self.assertRaises(sessionproxy.InvalidToken):
                    sessionproxy.verify(tok, secret=SECRET)

    def test_payload_checked_after_signature(self):
        import base64
        import hashlib
        import hmac

        def b64(b):
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
        head = b64(b'{"alg":"HS256"}')
        for payload, reason in ((b"[1]", "malformed"), (b'{"iss":"sessionproxy","sess":{}}', "malformed"),
                                (b'{"exp":9999999999,"iss":"sessionproxy","sess":[]}', "malformed")):
            body = b64(payload)
            sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
            with self.assertRaises(sessionproxy.InvalidToken) as cm:
                sessionproxy.verify(f"{head}.{body}.{sig}", secret=SECRET)
            self.assertEqual(cm.exception.reason, reason)


if __name__ == "__main__":
    unittest.main()
