"""The shared conformance vectors in sdk/testdata/vectors.json, written by
the proxy's own code: every token and every patch vector."""
import json
import os
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sessionproxy
from sessionproxy import Session

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "vectors.json")


def load():
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)


class TokenVectors(unittest.TestCase):
    def setUp(self):
        """Serves the vectors' key set as the proxy's admin listener does:
        a vector without a secret is verified through it."""
        doc = json.dumps(load()["jwks"]).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "application/jwk-set+json")
                self.send_header("Content-Length", str(len(doc)))
                self.end_headers()
                self.wfile.write(doc)

            def log_message(self, *args):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        self.addCleanup(thread.join)
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        self.jwks_url = f"http://127.0.0.1:{httpd.server_port}/.well-known/jwks.json"

    def test_tokens(self):
        v = load()
        self.assertGreater(len(v["tokens"]), 0)
        for tc in v["tokens"]:
            with self.subTest(tc["name"]):
                def verify(tc=tc):
                    if "secret" in tc:
                        return sessionproxy.verify(tc["token"], secret=tc["secret"], audience=tc.get("audience"))
                    return sessionproxy.verify(tc["token"], jwks_url=self.jwks_url, audience=tc.get("audience"))

                if "error" in tc:
                    with self.assertRaises(sessionproxy.InvalidToken) as cm:
                        verify()
                    self.assertEqual(cm.exception.reason, tc["error"])
                    self.assertIn(tc["error"], str(cm.exception))
                    self.assertIsInstance(cm.exception, ValueError)
                else:
                    self.assertEqual(verify(), tc["claims"])

    def test_verifier_reused(self):
        v = load()
        verifier = sessionproxy.Verifier(v["secret"])
        ok = [tc for tc in v["tokens"] if "claims" in tc and "audience" not in tc and "secret" in tc]
        for tc in ok:
            self.assertEqual(verifier.verify(tc["token"]), tc["claims"])


class PatchVectors(unittest.TestCase):
    def test_diff(self):
        for tc in load()["patches"]:
            with self.subTest(tc["name"]):
                patch = sessionproxy.diff(tc["before"], tc["after"])
                self.assertEqual(patch or None, tc["patch"])

    def test_session_headers(self):
        """A session that arrived as before and is after at response time
        sends exactly patch as X-Session-Set, or no header at all."""
        for tc in load()["patches"]:
            with self.subTest(tc["name"]):
                s = Session({"sid": "x", "sess": tc["before"], "new": False})
                for k in list(s):
                    if k not in tc["after"]:
                        del s[k]
                for k, val in tc["after"].items():
                    s[k] = json.loads(json.dumps(val))
                headers = s.directives()
                if tc["patch"] is None:
                    self.assertEqual(headers, [])
                else:
                    self.assertEqual(len(headers), 1)
                    self.assertEqual(headers[0][0], "X-Session-Set")
                    self.assertEqual(json.loads(headers[0][1]), tc["patch"])
                    self.assertRegex(headers[0][1], r"^[ -~]*$", "not printable ASCII")

    def test_nested_in_place(self):
        """Nested changes made in place are found by comparison."""
        for tc in load()["patches"]:
            if tc["name"] == "array appended is replaced whole":
                s = Session({"sess": tc["before"]})
                s["cart"].append(3)
                self.assertEqual(json.loads(s.directives()[0][1]), tc["patch"])
            if tc["name"] == "nested change":
                s = Session({"sess": tc["before"]})
                s["user"]["age"] += 1
                self.assertEqual(json.loads(s.directives()[0][1]), tc["patch"])


class DiffBeyondVectors(unittest.TestCase):
    def test_json_equality(self):
        self.assertEqual(sessionproxy.diff({"a": 1}, {"a": True}), {"a": True})
        self.assertEqual(sessionproxy.diff({"a": 0}, {"a": False}), {"a": False})
        self.assertEqual(sessionproxy.diff({"a": 1}, {"a": 1.0}), {})
        self.assertEqual(sessionproxy.diff({"a": [1]}, {"a": [True]}), {"a": [True]})

    def test_python_values_as_json_carries_them(self):
        s = Session({"sess": {"pair": [1, 2]}})
        s["pair"] = (1, 2)  # a tuple is a JSON array
        self.assertEqual(s.directives(), [])
        s[1] = "x"  # JSON object keys are strings
        self.assertEqual(s.directives(), [("X-Session-Set", '{"1":"x"}')])

    def test_none_deletes(self):
        s = Session({"sess": {"a": 1}})
        s["a"] = None
        self.assertNotIn("a", s)
        s["b"] = None  # deleting what is not there changes nothing
        self.assertEqual(s.directives(), [("X-Session-Set", '{"a":null}')])

    def test_number_past_the_float_range_is_no_change(self):
        """The proxy keeps 1e400 as written; Python reads it as inf. An
        unchanged one is no change; sending one is an error."""
        s = Session({"sess": json.loads('{"big":1e400,"a":1}')})
        self.assertEqual(s.directives(), [])
        s["a"] = 2
        self.assertEqual(s.directives(), [("X-Session-Set", '{"a":2}')])
        s["big"] = float("nan")
        with self.assertRaises(ValueError):
            s.directives()

    def test_nulls_in_a_new_object_are_left_out(self):
        s = Session({"sess": {"o": 1}})
        s["o"] = {"a": 1, "b": None}
        s["n"] = {"c": None, "d": [None]}
        self.assertEqual(json.loads(s.directives()[0][1]), {"o": {"a": 1}, "n": {"d": [None]}})

    def test_destroy_then_renew_sends_no_renew(self):
        """The new session gets a new id anyway; as the Go and Node libraries."""
        s = Session({"sess": {"a": 1}, "sid": "x"})
        s.destroy()
        s.regenerate()
        s["b"] = 1
        self.assertEqual(s.directives(), [("X-Session-Destroy", "true"), ("X-Session-Set", '{"b":1}')])

    def test_merge_patch(self):
        self.assertEqual(sessionproxy.merge_patch({"a": {"b": 1, "c": 2}, "d": 1}, {"a": {"b": None}, "e": [1]}),
                         {"a": {"c": 2}, "d": 1, "e": [1]})


if __name__ == "__main__":
    unittest.main()
