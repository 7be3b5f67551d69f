"""sessionproxy.flask through Flask's own test client."""
import datetime
import json
import logging
import unittest

from flask import Flask, Response, session, stream_with_context

import sessionproxy
from sessionproxy.flask import SessionProxy, get_session, regenerate, session_optional, set_max_age
from sessionproxy.testing import SessionJar, directives, headers, mint_token

SECRET = "flask-test-secret-0123456789abcdef"


def make_app(**kwargs):
    app = Flask(__name__)
    SessionProxy(app, secret=SECRET, **kwargs)

    @app.get("/get")
    def get():
        return {"session": dict(session), "id": session.id, "new": session.new, "is_new": session.is_new}

    @app.get("/set")
    def set_():
        session["user"] = {"name": "john doe", "age": 30}
        return "session set"

    @app.get("/by-hand")
    def by_hand():
        session["a"] = 1
        return "ok", {"X-Session-Destroy": "true", "x-session-set": '{"b":2}', "X-Session-Id": "mine"}

    @app.get("/del")
    def delete():
        del session["a"]
        return "ok"

    @app.get("/none")
    def none():
        session["a"] = None
        return "ok"

    @app.get("/append")
    def append():
        session["cart"].append(3)
        return "ok"

    @app.get("/nested")
    def nested():
        session["user"]["age"] += 1
        return "ok"

    @app.get("/clear")
    def clear():
        session.clear()
        return "ok"

    @app.get("/clear-then-set")
    def clear_then_set():
        session.clear()
        session["a"] = 1
        return "ok"

    @app.get("/renew")
    def renew():
        regenerate()
        return "ok"

    @app.get("/login")
    def login():
        session["user"] = "jo"
        regenerate()
        return "ok"

    @app.get("/max-age/<value>")
    def max_age(value):
        set_max_age(value if value == "session" else int(value))
        return "ok"

    @app.get("/permanent/<int:on>")
    def permanent(on):
        session.permanent = bool(on)
        return "ok"

    @app.get("/noop")
    def noop():
        session.get("user")
        return "ok"

    @app.get("/plain")
    def plain():
        return "no session here"

    @app.get("/new")
    def new():
        return "welcome" if session.new else "welcome back"

    @app.get("/claims")
    def claims():
        return {"user": session.claims["sess"].get("user")}

    @app.get("/contains")
    def contains():
        return {"in": "user" in session}

    @app.get("/public")
    @session_optional
    def public():
        return {"verified": session.verified, "session": dict(session)}

    @app.get("/public-write")
    @session_optional
    def public_write():
        session["a"] = 1
        return "ok"

    @app.get("/stream")
    def stream():
        @stream_with_context
        def body():
            yield "one "
            try:
                session["late"] = True
            except sessionproxy.SessionSealedError as e:
                yield "refused: " + type(e).__name__
        return Response(body())

    @app.get("/stream-plain")
    def stream_plain():
        cart = session["cart"]

        def body():  # no stream_with_context: runs after teardown
            yield "one "
            cart.append(99)
            yield "two"
        return Response(body())

    @app.get("/update-none")
    def update_none():
        session.update(a=None, b=2)
        return {"has_a": "a" in session}

    @app.get("/permanent-then-clear")
    def permanent_then_clear():
        session.permanent = True  # as a before_request hook often does
        session.clear()
        return "bye"

    @app.get("/bad-value")
    def bad_value():
        session["x"] = {1, 2}
        return "ok"

    @app.get("/bad-nested")
    def bad_nested():
        session["user"] = {"name": "jo", "seen": datetime.datetime(2024, 1, 1)}
        return "ok"

    @app.get("/nan")
    def nan():
        session["n"] = float("nan")
        return "ok"

    return app


class FlaskSessionTest(unittest.TestCase):
    def setUp(self):
        self.app = make_app()
        self.client = self.app.test_client()

    def call(self, path, sess=None, **kw):
        return self.client.get(path, headers=headers(SECRET, sess, **kw))

    def test_read(self):
        r = self.call("/get", {"user": "jo"}, sid="abc", new=False)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json, {"session": {"user": "jo"}, "id": "abc", "new": False, "is_new": False})
        self.assertEqual(directives(r.headers)["set"], [])

    def test_set(self):
        r = self.call("/set")
        self.assertEqual(r.headers.getlist("X-Session-Set"), ['{"user":{"name":"john doe","age":30}}'])

    def test_directives_set_by_hand_are_replaced(self):
        """As in test_wsgi.py: the library owns the directive headers."""
        r = self.call("/by-hand")
        self.assertEqual(r.headers.getlist("X-Session-Set"), ['{"a":1}'])
        self.assertEqual(r.headers.getlist("X-Session-Destroy"), [])
        self.assertEqual(r.headers.getlist("X-Session-Id"), ["mine"])

    def test_set_same_value_sends_nothing(self):
        r = self.call("/set", {"user": {"age": 30, "name": "john doe"}})
        self.assertNotIn("X-Session-Set", r.headers)

    def test_read_only_sends_nothing(self):
        r = self.call("/noop", {"user": "jo"})
        for h in ("X-Session-Set", "X-Session-Destroy", "X-Session-Renew", "X-Session-Max-Age"):
            self.assertNotIn(h, r.headers)

    def test_delete(self):
        r = self.call("/del", {"a": 1, "b": 2})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": None})

    def test_none_deletes(self):
        r = self.call("/none", {"a": 1, "b": 2})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": None})

    def test_nested_append(self):
        r = self.call("/append", {"cart": [1, 2], "other": 1})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"cart": [1, 2, 3]})

    def test_nested_object(self):
        r = self.call("/nested", {"user": {"name": "jo", "age": 30}})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"user": {"age": 31}})

    def test_clear_destroys(self):
        r = self.call("/clear", {"a": 1})
        self.assertEqual(r.headers["X-Session-Destroy"], "true")
        self.assertNotIn("X-Session-Set", r.headers)

    def test_clear_then_set_starts_a_new_session(self):
        r = self.call("/clear-then-set", {"a": 5, "b": 2})
        self.assertEqual(r.headers["X-Session-Destroy"], "true")
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": 1})

    def test_renew(self):
        r = self.call("/renew", {"a": 1})
        self.assertEqual(r.headers["X-Session-Renew"], "true")
        self.assertNotIn("X-Session-Set", r.headers)

    def test_login_sets_and_renews(self):
        r = self.call("/login")
        self.assertEqual(r.headers["X-Session-Renew"], "true")
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"user": "jo"})

    def test_max_age(self):
        self.assertEqual(self.call("/max-age/5000").headers["X-Session-Max-Age"], "5000")
        self.assertEqual(self.call("/max-age/session").headers["X-Session-Max-Age"], "session")
        with self.assertRaises(ValueError):
            self.app.testing = True
            self.call("/max-age/0")

    def test_permanent(self):
        self.assertEqual(self.call("/permanent/0").headers["X-Session-Max-Age"], "session")
        ms = int(self.app.permanent_session_lifetime.total_seconds() * 1000)
        self.assertEqual(self.call("/permanent/1").headers["X-Session-Max-Age"], str(ms))

    def test_a_response_that_read_the_session_varies_on_cookie(self):
        """As Flask's own save_session does: a cache in front must not give
        one visitor's page to another."""
        for path in ("/get", "/contains", "/noop", "/set", "/new", "/claims"):
            with self.subTest(path=path):
                self.assertIn("Cookie", self.call(path, {"user": "jo"}).headers.getlist("Vary"))
        self.assertNotIn("Vary", self.call("/plain", {"user": "jo"}).headers)

    def test_no_token_is_401(self):
        logging.getLogger(self.app.name).setLevel(logging.ERROR)
        self.assertEqual(self.client.get("/get").status_code, 401)
        self.assertEqual(self.client.get("/get", headers={"X-Session": "garbage"}).status_code, 401)
        forged = mint_token("another-secret-0123456789abcdef")
        self.assertEqual(self.client.get("/get", headers={"X-Session": forged}).status_code, 401)
        expired = mint_token(SECRET, exp=1)
        self.assertEqual(self.client.get("/get", headers={"X-Session": expired}).status_code, 401)

    def test_session_optional(self):
        r = self.client.get("/public")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json, {"verified": False, "session": {}})
        r = self.call("/public", {"a": 1})
        self.assertEqual(r.json, {"verified": True, "session": {"a": 1}})
        self.app.testing = True
        with self.assertRaises(RuntimeError):
            self.client.get("/public-write")

    def test_required_false(self):
        app = make_app(required=False)
        r = app.test_client().get("/get")
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json["session"], {})

    def test_change_after_headers_is_an_error(self):
        r = self.call("/stream", {"a": 1})
        self.assertEqual(r.get_data(as_text=True), "one refused: SessionSealedError")
        self.assertNotIn("X-Session-Set", r.headers)

    def test_nested_change_in_plain_streamed_body_is_an_error(self):
        """Without stream_with_context the body runs after teardown; a
        change made there raises from the body rather than being lost."""
        r = self.call("/stream-plain", {"cart": [1]})
        with self.assertRaises(sessionproxy.SessionSealedError):
            r.get_data()
        self.assertNotIn("X-Session-Set", r.headers)

    def test_change_in_teardown_of_a_head_request_is_an_error(self):
        """A HEAD request's streamed body is never iterated: the check runs
        when it is closed, so a change made in a teardown hook is not lost
        silently."""
        @self.app.teardown_request
        def change_in_place(_exc):
            if "cart" in session:
                session["cart"].append(9)
        resp = self.client.head("/stream-plain", headers=headers(SECRET, {"cart": [1]}))
        with self.assertRaises(sessionproxy.SessionSealedError):
            resp.close()

    def test_nulls_the_proxy_holds_are_no_change(self):
        """A null in the session as it arrived (a Koa app's cookie, or in
        an array, which the proxy stores whole) is not sent back."""
        sess = {"a": 1, "x": None, "u": {"y": None, "z": 1}, "cart": [{"id": 1, "note": None}, None]}
        r = self.call("/noop", sess)
        for h in ("X-Session-Set", "X-Session-Destroy", "X-Session-Renew", "X-Session-Max-Age"):
            self.assertNotIn(h, r.headers)
        r = self.call("/none", sess)  # session["a"] = None
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": None})

    def test_update_with_none_deletes(self):
        r = self.call("/update-none", {"a": 1})
        self.assertEqual(r.json, {"has_a": False})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": None, "b": 2})

    def test_clear_drops_a_max_age_set_before(self):
        """Flask's clear() forgets permanent; koa drops maxAge with the
        session: a logout expires the cookie, no new empty session."""
        r = self.call("/permanent-then-clear", {"user": "jo"})
        self.assertEqual(r.headers["X-Session-Destroy"], "true")
        self.assertNotIn("X-Session-Max-Age", r.headers)

    def test_session_transaction_is_refused(self):
        """The test client's session_transaction() saves into a response
        it throws away: a change there fails instead of vanishing."""
        with self.assertRaises(RuntimeError) as cm:
            with self.client.session_transaction(headers=headers(SECRET, {"a": 1})) as sess:
                sess["user"] = "jo"
        self.assertIn("session_transaction", str(cm.exception))
        with self.client.session_transaction(headers=headers(SECRET, {"a": 1})) as sess:
            self.assertEqual(dict(sess), {"a": 1})  # reading is fine

    def test_value_json_cannot_hold_is_an_error(self):
        self.app.testing = True
        with self.assertRaises(TypeError):
            self.call("/bad-value")

    def test_the_error_names_the_key(self):
        """json's own message does not say which of the session's values
        it could not write."""
        self.app.testing = True
        for path, message in (("/bad-value", r"session\['x'\].*set"), ("/bad-nested", r"session\['user'\].*datetime"),
                              ("/nan", r"session\['n'\].*float")):
            with self.subTest(path=path), self.assertRaisesRegex((TypeError, ValueError), message):
                self.call(path, {"a": 1})

    def test_audience(self):
        app = make_app(audience="orders")
        c = app.test_client()
        self.assertEqual(c.get("/get", headers=headers(SECRET, audience="orders")).status_code, 200)
        logging.getLogger(app.name).setLevel(logging.ERROR)
        self.assertEqual(c.get("/get", headers=headers(SECRET, audience="billing")).status_code, 401)

    def test_empty_secret_refused(self):
        with self.assertRaises(ValueError):
            SessionProxy(Flask(__name__), secret="")
        with self.assertRaises(ValueError):
            SessionProxy(Flask(__name__))  # no secret, no jwks_url, nothing in the config
        with self.assertRaises(ValueError):
            SessionProxy(secret=SECRET, old_secrets=[""])  # refused before init_app

    def test_old_secrets(self):
        old, other = "flask-old-secret-0123456789abcdef", "flask-other-secret-0123456789abcdef"
        logging.getLogger(__name__).setLevel(logging.ERROR)
        for name, app in (("argument", make_app(old_secrets=[old])), ("config", None)):
            if app is None:
                app = Flask(__name__)
                app.config.update(SESSIONPROXY_SECRET=SECRET, SESSIONPROXY_OLD_SECRETS=[old])
                SessionProxy(app)
                app.get("/get")(lambda: dict(session))
            c = app.test_client()
            with self.subTest(name):
                self.assertEqual(c.get("/get", headers=headers(SECRET)).status_code, 200)
                self.assertEqual(c.get("/get", headers=headers(old)).status_code, 200)
                self.assertEqual(c.get("/get", headers=headers(other)).status_code, 401)
        self.assertEqual(make_app().test_client().get("/get", headers=headers(old)).status_code, 401)

    def test_config_and_init_app(self):
        app = Flask(__name__)
        app.config["SESSIONPROXY_SECRET"] = SECRET
        ext = SessionProxy()
        ext.init_app(app)

        @app.get("/")
        def index():
            return {"id": get_session().id}

        r = app.test_client().get("/", headers=headers(SECRET, sid="s1"))
        self.assertEqual(r.json, {"id": "s1"})

    def test_jar_over_several_requests(self):
        jar = SessionJar(SECRET)
        jar.apply(self.client.get("/set", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {"user": {"name": "john doe", "age": 30}})
        sid = jar.sid
        jar.apply(self.client.get("/renew", headers=jar.headers()).headers)
        self.assertNotEqual(jar.sid, sid)
        r = self.client.get("/get", headers=jar.headers())
        self.assertEqual(r.json["session"], {"user": {"name": "john doe", "age": 30}})
        jar.apply(self.client.get("/clear", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {})



class UnopenedSessionTest(unittest.TestCase):
    def test_a_session_that_failed_to_open_keeps_the_apps_error(self):
        """When open_session raises (here a verifier that fails), Flask
        answers with its error page and still runs the teardown hooks. The
        library's own hook must not raise there: Flask 3.1.3's
        ctx.session asserts that the session was opened, and its
        AssertionError would replace the app's response."""
        class Broken:
            def verify(self, token):
                raise ConnectionError("the key store is down")

        app = Flask(__name__)
        logging.getLogger(app.name).setLevel(logging.CRITICAL)
        SessionProxy(app, verifier=Broken())

        @app.get("/")
        def index():
            return "ok"

        r = app.test_client().get("/", headers=headers(SECRET, {"user": "jo"}))
        self.assertEqual(r.status_code, 500)


class ExampleAppTest(unittest.TestCase):
    """examples/flask/app.py, unit-tested the way the README shows."""

    def test_seed(self):
        import importlib.util
        import os

        path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "flask", "app.py")
        os.environ["UPSTREAM_SECRET"] = SECRET
        spec = importlib.util.spec_from_file_location("flask_example", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        client = mod.app.test_client()
        jar = SessionJar(SECRET)
        self.assertEqual(client.get("/get", headers=jar.headers()).status_code, 204)
        jar.apply(client.get("/set", headers=jar.headers()).headers)
        self.assertEqual(client.get("/get", headers=jar.headers()).json, {"name": "john doe", "age": 30})
        jar.apply(client.get("/count", headers=jar.headers()).headers)
        r = client.get("/count", headers=jar.headers())
        self.assertEqual(r.json, {"views": 2})
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"views": 2})
        r = client.get("/cart/add?item=x", headers=jar.headers())
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"cart": ["x"]})


if __name__ == "__main__":
    unittest.main()
