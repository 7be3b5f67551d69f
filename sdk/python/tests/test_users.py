"""destroy_others() and destroy_all(): a user's other sessions (the proxy's
session.userKey), through the session, the WSGI middleware, Flask and the
testing helpers."""
import json
import unittest

from flask import Flask, Response, session, stream_with_context

import sessionproxy
from sessionproxy import Session
from sessionproxy.flask import SessionProxy, destroy_all, destroy_others
from sessionproxy.testing import SessionJar, directives, headers, mint_token
from sessionproxy.wsgi import SessionMiddleware

from test_wsgi import call

SECRET = "users-test-secret-0123456789abcdef"


def session_with(data):
    return Session({"sid": "s1", "sess": data, "new": False})


def after(data, *steps):
    """The directives of a session holding data once steps ran on it."""
    s = session_with(data)
    for step in steps:
        step(s)
    return s.directives()


def destroy_value(h):
    return [v for k, v in h if k == "X-Session-Destroy"]


class DirectivesTest(unittest.TestCase):
    def test_others(self):
        tests = [
            ("alone", [lambda s: s.destroy_others()], [("X-Session-Destroy", "others")]),
            ("a login that ends the user's earlier sessions",
             [lambda s: s.__setitem__("user", {"id": 7}), lambda s: s.destroy_others(), lambda s: s.regenerate()],
             [("X-Session-Destroy", "others"), ("X-Session-Set", '{"user":{"id":7}}'), ("X-Session-Renew", "true")]),
            ("with a max age",
             [lambda s: s.destroy_others(), lambda s: setattr(s, "max_age", 60000)],
             [("X-Session-Destroy", "others"), ("X-Session-Max-Age", "60000")]),
            ("twice", [lambda s: s.destroy_others(), lambda s: s.destroy_others()], [("X-Session-Destroy", "others")]),
        ]
        for name, steps, want in tests:
            with self.subTest(name):
                self.assertEqual(after({"user": {"id": 1}, "a": 1}, *steps), want)

    def test_all(self):
        """destroy_all is destroy() with "all": the session is emptied,
        keys set afterwards start a new one and go as the full Set, and a
        max age or renewal asked for before goes with the old one."""
        tests = [
            ("alone", [lambda s: s.destroy_all()], [("X-Session-Destroy", "all")]),
            ("then set",
             [lambda s: s.destroy_all(), lambda s: s.__setitem__("fresh", True)],
             [("X-Session-Destroy", "all"), ("X-Session-Set", '{"fresh":true}')]),
            ("after a max age and a renewal",
             [lambda s: setattr(s, "max_age", 60000), lambda s: s.regenerate(), lambda s: s.destroy_all()],
             [("X-Session-Destroy", "all")]),
            ("destroy then destroy_others", [lambda s: s.destroy(), lambda s: s.destroy_others()],
             [("X-Session-Destroy", "all")]),
            ("destroy_others then destroy", [lambda s: s.destroy_others(), lambda s: s.destroy()],
             [("X-Session-Destroy", "all")]),
            ("clear then destroy_others", [lambda s: s.clear(), lambda s: s.destroy_others()],
             [("X-Session-Destroy", "all")]),
            ("destroy_others then clear", [lambda s: s.destroy_others(), lambda s: s.clear()],
             [("X-Session-Destroy", "all")]),
        ]
        for name, steps, want in tests:
            with self.subTest(name):
                self.assertEqual(after({"user": {"id": 1}, "a": 1}, *steps), want)

    def test_destroy_alone_is_still_true(self):
        self.assertEqual(destroy_value(after({"a": 1}, lambda s: s.destroy())), ["true"])

    def test_destroy_all_empties_the_session(self):
        s = session_with({"user": {"id": 1}})
        s.destroy_all()
        self.assertEqual(dict(s), {})
        self.assertTrue(s.modified)

    def test_refused_without_a_token(self):
        s = Session(None)
        for name in ("destroy_others", "destroy_all"):
            with self.subTest(name), self.assertRaises(RuntimeError):
                getattr(s, name)()
        self.assertEqual(s.directives(), [])


class WSGITest(unittest.TestCase):
    def test_headers(self):
        for name, want in (("destroy_others", "others"), ("destroy_all", "all")):
            def app(environ, start_response, name=name):
                getattr(environ["sessionproxy.session"], name)()
                start_response("200 OK", [])
                return [b"ok"]
            with self.subTest(name):
                got = call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET, {"user": {"id": 1}}))
                self.assertEqual([v for k, v in got["headers"] if k == "X-Session-Destroy"], [want])

    def test_after_start_response_refused_as_destroy_is(self):
        for name in ("destroy", "destroy_others", "destroy_all"):
            def app(environ, start_response, name=name):
                s = environ["sessionproxy.session"]
                start_response("200 OK", [])
                getattr(s, name)()
                return [b"never"]
            with self.subTest(name), self.assertRaises(sessionproxy.SessionSealedError):
                call(SessionMiddleware(app, secret=SECRET), mint_token(SECRET, {"user": {"id": 1}}))


def make_app():
    app = Flask(__name__)
    SessionProxy(app, secret=SECRET)

    @app.get("/others")
    def others():
        destroy_others()
        return "ok"

    @app.get("/all")
    def all_():
        destroy_all()
        return "ok"

    @app.get("/login-elsewhere-out")
    def login():
        session["user"] = {"id": 7}
        destroy_others()
        return "ok"

    @app.get("/stream/<name>")
    def stream(name):
        @stream_with_context
        def body():
            yield "one "
            try:
                getattr(session, name)()
            except sessionproxy.SessionSealedError as e:
                yield "refused: " + type(e).__name__
        return Response(body())

    return app


class FlaskTest(unittest.TestCase):
    def setUp(self):
        self.client = make_app().test_client()

    def test_helpers(self):
        r = self.client.get("/others", headers=headers(SECRET, {"user": {"id": 1}}))
        self.assertEqual(r.headers.getlist("X-Session-Destroy"), ["others"])
        self.assertNotIn("X-Session-Set", r.headers)
        r = self.client.get("/all", headers=headers(SECRET, {"user": {"id": 1}}))
        self.assertEqual(r.headers.getlist("X-Session-Destroy"), ["all"])
        r = self.client.get("/login-elsewhere-out", headers=headers(SECRET))
        self.assertEqual(r.headers.getlist("X-Session-Destroy"), ["others"])
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"user": {"id": 7}})

    def test_after_the_headers_refused_as_destroy_is(self):
        for name in ("destroy", "destroy_others", "destroy_all"):
            with self.subTest(name):
                r = self.client.get("/stream/" + name, headers=headers(SECRET, {"user": {"id": 1}}))
                self.assertEqual(r.get_data(as_text=True), "one refused: SessionSealedError")
                self.assertNotIn("X-Session-Destroy", r.headers)

    def test_testing_helpers_tell_others_from_all(self):
        jar = SessionJar(SECRET, {"user": {"id": 1}})
        sid = jar.sid
        d = jar.apply(self.client.get("/others", headers=jar.headers()).headers)
        self.assertEqual((d["destroy"], d["destroy_others"]), (False, True))
        self.assertEqual((jar.data, jar.sid), ({"user": {"id": 1}}, sid), "this session stays")
        d = jar.apply(self.client.get("/all", headers=jar.headers()).headers)
        self.assertEqual((d["destroy"], d["destroy_others"]), (True, True))
        self.assertEqual(jar.data, {})
        self.assertNotEqual(jar.sid, sid)


class DirectivesHelperTest(unittest.TestCase):
    def test_destroy_values(self):
        tests = [
            ("true", True, False),
            ("1", True, False),
            ("others", False, True),
            ("all", True, True),
        ]
        for value, destroy, others in tests:
            with self.subTest(value):
                d = directives({"X-Session-Destroy": value})
                self.assertEqual((d["destroy"], d["destroy_others"]), (destroy, others))
        d = directives({})
        self.assertEqual((d["destroy"], d["destroy_others"]), (False, False))
        d = directives([("X-App-Session-Destroy", "others")], header="X-App-Session")
        self.assertTrue(d["destroy_others"])


if __name__ == "__main__":
    unittest.main()
