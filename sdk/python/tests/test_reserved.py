"""Top-level keys starting with "_" are the proxy's: refused when set."""
import unittest

from flask import Flask, flash, session

import sessionproxy
from sessionproxy import ReservedKeyError, Session
from sessionproxy.flask import SessionProxy
from sessionproxy.testing import SessionJar

SECRET = "reserved-test-secret-0123456789abcdef"


class ReservedKeyTest(unittest.TestCase):
    def session(self):
        return Session({"sess": {"a": 1}, "new": False, "sid": "x"})

    def test_every_way_to_set_refuses(self):
        s = self.session()
        cases = {
            "item": lambda: s.__setitem__("_user_id", "7"),
            "setdefault": lambda: s.setdefault("_flashes", []),
            "update": lambda: s.update({"ok": 1, "_fresh": True}),
            "update kwargs": lambda: s.update(_id="x"),
            "ior": lambda: s.__ior__({"_x": 1}),
        }
        for name, f in cases.items():
            with self.subTest(name):
                with self.assertRaises(ReservedKeyError) as cm:
                    f()
                self.assertIn("reserved", str(cm.exception))
        self.assertEqual(s.directives(), [], "a refused change must not half-apply")

    def test_deleting_refuses_too(self):
        """A directive that names a "_" key is malformed at the proxy
        (502), deleting one as well."""
        s = Session({"sess": {"a": 1, "_csrf": "t"}, "new": False, "sid": "x"})
        for name, f in {"del": lambda: s.__delitem__("_csrf"), "pop": lambda: s.pop("_csrf", None)}.items():
            with self.subTest(name), self.assertRaises(ReservedKeyError):
                f()
        self.assertEqual(s.directives(), [])

    def test_nested_and_other_keys_are_data(self):
        s = self.session()
        s["user"] = {"_id": 7}
        s.setdefault("cart", []).append(1)
        self.assertEqual(s["user"], {"_id": 7})

    def test_is_a_key_error_of_the_package(self):
        self.assertTrue(issubclass(sessionproxy.ReservedKeyError, KeyError))

    def test_flask_flash_names_the_key(self):
        app = Flask(__name__)
        SessionProxy(app, secret=SECRET)

        @app.get("/flash")
        def f():
            try:
                flash("hello")
            except ReservedKeyError as e:
                return {"refused": e.key}
            return {"refused": None}

        @app.get("/ok")
        def ok():
            session["msg"] = "hello"
            return "ok"

        client = app.test_client()
        jar = SessionJar(SECRET)
        resp = client.get("/flash", headers=jar.headers())
        self.assertEqual(resp.get_json(), {"refused": "_flashes"})
        self.assertFalse(any(k.startswith("X-Session") for k in resp.headers.keys()))


if __name__ == "__main__":
    unittest.main()
