"""directives() refuses exactly what the proxy answers with 502, and reads
what it applies, case by case from sdk/testdata/directives.json, the table
test/sdk_directives_test.go holds the real proxy to."""
import json
import os
import re
import unittest
from typing import Any, Dict, List, Tuple

from werkzeug.datastructures import Headers

import sessionproxy
from sessionproxy.testing import DirectiveError, SessionJar, directives

TABLE = os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "directives.json")
with open(TABLE, encoding="utf-8") as f:
    _TABLE = json.load(f)
BEFORE: Dict[str, Any] = _TABLE["before"]
CASES: List[Dict[str, Any]] = _TABLE["cases"]


def lines(case: Dict[str, Any]) -> List[Tuple[str, str]]:
    """A case's header lines, the last one repeated and <pad> filled in."""
    pad = case.get("pad_with", "x") * case.get("pad", 0)
    out = []
    for i, (name, value) in enumerate(case["headers"]):
        n = case.get("repeat", 1) if i == len(case["headers"]) - 1 else 1
        out += [(name, value.replace("<pad>", pad))] * n
    return out


class DirectivesTest(unittest.TestCase):
    def check(self, case: Dict[str, Any], headers: Any) -> None:
        before = case.get("before", BEFORE)
        jar = SessionJar("s", before)
        sid = jar.sid
        if "want" in case:
            want = dict(case["want"])
            session = want.pop("session")
            new = want.pop("new")
            new_id = want.pop("id") == "new"
            self.assertEqual(directives(headers), want)
            # The session the proxy's next token carries, as the jar applies it.
            jar.apply(headers)
            self.assertEqual(jar.data, session)
            self.assertEqual(jar.new, new, "the next token's new")
            self.assertEqual(jar.sid != sid, new_id, "the next token's id")
            return
        with self.assertRaises(DirectiveError):
            jar.apply(headers)
        self.assertEqual((jar.data, jar.sid), (before, sid), "nothing of the response applied")
        with self.assertRaises(DirectiveError) as cm:
            directives(headers)
        err = cm.exception
        self.assertIsInstance(err, ValueError)
        if case["error"]:
            self.assertEqual(err.header.lower(), case["error"].lower())
        self.assertRegex(str(err), "^sessionproxy.testing: " + re.escape(err.header) + ": ")

    def test_cases(self) -> None:
        for case in CASES:
            with self.subTest(case["name"]):
                self.check(case, lines(case))

    def test_cases_in_werkzeug_headers(self) -> None:
        for case in CASES:
            with self.subTest(case["name"]):
                self.check(case, Headers(lines(case)))

    def test_named_after_the_header(self) -> None:
        h = [("X-App-Session-Renew", "true"), ("X-Session-Set", '{"_a":1}')]
        self.assertTrue(directives(h, "X-App-Session")["renew"])
        with self.assertRaises(DirectiveError) as cm:
            directives(h + [("X-App-Session-Destroy", "nope")], "X-App-Session")
        self.assertEqual(cm.exception.header, "X-App-Session-Destroy")

    def test_bytes_as_a_wsgi_server_sends_them(self) -> None:
        # Latin-1, one byte a character: 1 MiB of "é" is 1 MiB on the wire.
        directives([("X-Session-Renew", "1"), ("X-Session", "\u00e9" * ((1 << 20) - 1))])
        # Beyond Latin-1 nothing is sent: the server fails, the proxy answers 502.
        with self.assertRaises(DirectiveError) as cm:
            directives([("X-Session-Set", '{"a":"\u4e2d"}')])
        self.assertEqual(cm.exception.header, "X-Session-Set")

    def test_jar_refuses_as_the_proxy(self) -> None:
        jar = SessionJar("s", {"a": 1})
        with self.assertRaises(DirectiveError):
            jar.apply([("X-Session-Set", '{"b":2}'), ("X-Session-Destroy", "yes")])
        self.assertEqual(jar.data, {"a": 1}, "nothing of the response applied")

    def test_jar_in_the_koa_format_keeps_no_id(self) -> None:
        """The koa cookie format with the cookie store gives no sid: a jar
        set up that way (sid None) never draws one, as the proxy never
        sends one."""
        jar = SessionJar("s")
        jar.sid = None
        for headers in ([], [("X-Session-Renew", "true")], [("X-Session-Set", '{"a":1}')],
                        [("X-Session-Renew", "true")], [("X-Session-Destroy", "true")]):
            jar.apply(headers)
            self.assertIsNone(jar.sid, headers)
            self.assertNotIn("sid", sessionproxy.verify(jar.token(), secret="s"))


if __name__ == "__main__":
    unittest.main()
