"""Top-level keys starting with "_" are the proxy's: the library keeps the
app's under "python:", so Flask's flash() and Flask-Login work unchanged."""
import json
import unittest

from flask import Flask, flash, get_flashed_messages, session

import sessionproxy
from sessionproxy import ReservedKeyError, Session
from sessionproxy.flask import SessionProxy
from sessionproxy.testing import SessionJar

SECRET = "reserved-test-secret-0123456789abcdef"


def sent(s):
    """The X-Session-Set patch s sends, decoded; None for none."""
    for name, value in s.directives():
        if name == "X-Session-Set":
            return json.loads(value)
    return None


class PrivateKeyTest(unittest.TestCase):
    def session(self, sess=None):
        return Session({"sess": sess or {"a": 1}, "new": False, "sid": "x"})

    def test_every_way_to_set_stores_under_the_prefix(self):
        cases = {
            "item": (lambda s: s.__setitem__("_user_id", "7"), {"python:_user_id": "7"}),
            "setdefault": (lambda s: s.setdefault("_flashes", []).append("hi"), {"python:_flashes": ["hi"]}),
            "update": (lambda s: s.update({"ok": 1, "_fresh": True}), {"ok": 1, "python:_fresh": True}),
            "update kwargs": (lambda s: s.update(_id="x"), {"python:_id": "x"}),
            "ior": (lambda s: s.__ior__({"_x": 1}), {"python:_x": 1}),
        }
        for name, (change, want) in cases.items():
            with self.subTest(name):
                s = self.session()
                change(s)
                self.assertEqual(sent(s), want)

    def test_read_back_and_removed_by_the_app_name(self):
        s = self.session({"a": 1, "python:_flashes": [["message", "hi"]]})
        self.assertEqual(dict(s), {"a": 1, "_flashes": [["message", "hi"]]})
        self.assertEqual(s.directives(), [], "reading changes nothing")
        s.pop("_flashes")
        self.assertEqual(sent(s), {"python:_flashes": None})

    def test_the_stored_name_is_refused(self):
        s = self.session()
        for name, f in {"item": lambda: s.__setitem__("python:_x", 1), "update": lambda: s.update({"python:_x": 1}),
                        "del": lambda: s.__delitem__("python:_x")}.items():
            with self.subTest(name), self.assertRaises(ReservedKeyError) as cm:
                f()
            self.assertIn("'_x'", str(cm.exception))
        self.assertEqual(s.directives(), [], "a refused change must not half-apply")

    def test_a_bare_underscore_key_is_never_sent(self):
        """The proxy never sends one; if a token had one, it is not shown
        and never named in a patch (the proxy answers 502 to that)."""
        s = self.session({"a": 1, "_expire": 5})
        self.assertNotIn("_expire", s)
        s["b"] = 2
        self.assertEqual(sent(s), {"b": 2})

    def test_nested_and_other_keys_are_data(self):
        s = self.session()
        s["user"] = {"_id": 7}
        self.assertEqual(sent(s), {"user": {"_id": 7}})

    def test_is_a_key_error_of_the_package(self):
        self.assertTrue(issubclass(sessionproxy.ReservedKeyError, KeyError))

    def test_flask_flash_works_across_requests(self):
        app = Flask(__name__)
        SessionProxy(app, secret=SECRET)

        @app.get("/flash")
        def f():
            flash("hello")
            return "ok"

        @app.get("/show")
        def show():
            return {"messages": get_flashed_messages()}

        client = app.test_client()
        jar = SessionJar(SECRET)
        jar.apply(client.get("/flash", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {"python:_flashes": [["message", "hello"]]})
        resp = client.get("/show", headers=jar.headers())
        self.assertEqual(resp.get_json(), {"messages": ["hello"]})
        jar.apply(resp.headers)
        self.assertEqual(client.get("/show", headers=jar.headers()).get_json(), {"messages": []},
                         "a message is shown once")

    def test_flask_session_keys_use_the_app_names(self):
        app = Flask(__name__)
        SessionProxy(app, secret=SECRET)

        @app.get("/login")
        def login():
            session["_user_id"] = "7"  # as Flask-Login's login_user() does
            session["_fresh"] = True
            return "ok"

        @app.get("/who")
        def who():
            return {"user": session.get("_user_id"), "fresh": session.get("_fresh")}

        client = app.test_client()
        jar = SessionJar(SECRET)
        jar.apply(client.get("/login", headers=jar.headers()).headers)
        self.assertEqual(client.get("/who", headers=jar.headers()).get_json(), {"user": "7", "fresh": True})


if __name__ == "__main__":
    unittest.main()
