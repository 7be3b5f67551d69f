"""sessionproxy.asgi.SessionProxyMiddleware: around plain ASGI apps with no
framework, and in Starlette and FastAPI through Starlette's TestClient, as
test_wsgi.py and test_flask.py test the WSGI and Flask ones."""
import asyncio
import json
import logging
import os
import threading
import time
import unittest
import warnings
from types import SimpleNamespace

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute

with warnings.catch_warnings():
    # Starlette 1.10 would have httpx2 for its TestClient; httpx 0.28 is
    # what requirements-test.txt pins, and it works the same.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient, WebSocketDenialResponse

import httpx

import sessionproxy
from sessionproxy.asgi import (SessionProxyMiddleware, destroy, destroy_all, destroy_others, get_session,
                               regenerate, set_max_age)
from sessionproxy.testing import SessionJar, directives, headers, mint_token

from test_directives import CASES, lines
from test_jwks import JWKSServer, Key, claims
from test_vectors import load as load_vectors

SECRET = "asgi-test-secret-0123456789abcdef"
OLD = "asgi-old-secret-0123456789abcdef"
OTHER = "asgi-other-secret-0123456789abcdef"

logging.getLogger("sessionproxy.asgi").setLevel(logging.CRITICAL)  # the refusals the tests make


# A plain ASGI app, no framework.

async def run(app, scope_type="http", token=None, path="/", header="x-session", receive_messages=None):
    """Run one request through app; return what it sent, and the scope."""
    scope = {"type": scope_type, "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1234),
             "server": ("test", 80)}
    for t in token if isinstance(token, list) else [] if token is None else [token]:
        scope["headers"].append((header.encode(), t.encode() if isinstance(t, str) else t))
    inbox = list(receive_messages or [{"type": "http.request", "body": b"", "more_body": False}])
    sent = []

    async def receive():
        if inbox:
            return inbox.pop(0)
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent, scope


def call(app, token=None, path="/", **kw):
    """The response of one plain ASGI request: status, headers (str), body."""
    sent, scope = asyncio.run(run(app, token=token, path=path, **kw))
    start = [m for m in sent if m["type"] == "http.response.start"]
    assert len(start) == 1, sent
    return {
        "status": start[0]["status"],
        "headers": [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start[0].get("headers", [])],
        "body": b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
        "scope": scope,
    }


def header(got, name):
    return [v for k, v in got["headers"] if k.lower() == name.lower()]


def app_doing(fn):
    async def app(scope, receive, send):
        fn(scope["session"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})
    return app


class PlainASGITest(unittest.TestCase):
    """The cases of test_wsgi.py's MiddlewareTest, in ASGI."""

    def wrap(self, fn, **kw):
        return SessionProxyMiddleware(app_doing(fn), secret=SECRET, **kw)

    def test_set_and_read(self):
        seen = {}

        def fn(s):
            seen.update(s=dict(s), id=s.id, new=s.is_new)
            s["views"] = s.get("views", 0) + 1

        got = call(self.wrap(fn), mint_token(SECRET, {"views": 1}, sid="abc"))
        self.assertEqual(seen, {"s": {"views": 1}, "id": "abc", "new": False})
        self.assertEqual(header(got, "X-Session-Set"), ['{"views":2}'])
        self.assertEqual(got["body"], b"ok")

    def test_directives_set_by_hand_are_replaced(self):
        """As in test_wsgi.py: the library owns the directive headers."""
        async def app(scope, receive, send):
            scope["session"]["a"] = 1
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"x-session-destroy", b"true"), (b"X-Session-Set", b'{"b":2}'), (b"x-session-renew", b"1"),
                (b"x-session-id", b"mine")]})
            await send({"type": "http.response.body", "body": b"ok"})
        got = call(SessionProxyMiddleware(app, secret=SECRET), mint_token(SECRET))
        self.assertEqual(header(got, "X-Session-Set"), ['{"a":1}'])
        self.assertEqual(header(got, "X-Session-Destroy") + header(got, "X-Session-Renew"), [])
        self.assertEqual(header(got, "X-Session-Id"), ["mine"])

    def test_directive_names_are_lowercase(self):
        """ASGI asks for lowercase header names."""
        got = call(self.wrap(lambda s: s.__setitem__("a", 1)), mint_token(SECRET))
        self.assertIn(("x-session-set", '{"a":1}'), got["headers"])
        self.assertIn(("vary", "Cookie"), got["headers"])

    def test_nothing_changed(self):
        got = call(self.wrap(lambda s: s.get("a")), mint_token(SECRET, {"a": 1}))
        self.assertEqual([k for k, _ in got["headers"] if k.lower().startswith("x-session")], [])

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
        for bad in (-1, 0, 0.5, float("nan"), 200 * 365 * 24 * 3600 * 1000, True, "60000"):
            with self.subTest(max_age=bad), self.assertRaises(ValueError):
                call(self.wrap(lambda s: setattr(s, "max_age", bad)), mint_token(SECRET))

    def test_clear_is_destroy(self):
        def fn(s):
            s.clear()
            s["fresh"] = True
        got = call(self.wrap(fn), mint_token(SECRET, {"a": 1}))
        self.assertEqual(header(got, "X-Session-Destroy"), ["true"])
        self.assertEqual(json.loads(header(got, "X-Session-Set")[0]), {"fresh": True})

    def test_a_response_that_read_the_session_varies_on_cookie(self):
        token = mint_token(SECRET, {"a": 1})
        self.assertEqual(header(call(self.wrap(lambda s: "a" in s), token), "Vary"), ["Cookie"])
        self.assertEqual(header(call(self.wrap(lambda s: s.id), token), "Vary"), ["Cookie"])
        self.assertEqual(header(call(self.wrap(lambda s: None), token), "Vary"), [])

        async def app(scope, receive, send):
            scope["session"].get("a")
            await send({"type": "http.response.start", "status": 200, "headers": [(b"vary", b"Accept-Encoding")]})
            await send({"type": "http.response.body", "body": b"ok"})
        got = call(SessionProxyMiddleware(app, secret=SECRET), token)
        self.assertEqual(header(got, "Vary"), ["Accept-Encoding", "Cookie"])

    def test_401_without_token(self):
        twice = mint_token(SECRET).encode()
        for name, token in {"none": None, "garbage": "garbage", "another secret": mint_token(OTHER),
                            "expired": mint_token(SECRET, exp=1),
                            "twice": [twice, twice]}.items():  # two X-Session headers are no token
            with self.subTest(name):
                got = call(self.wrap(lambda s: None), token)
                self.assertEqual(got["status"], 401)
                self.assertEqual(got["body"], b"401 Unauthorized: no valid session token\n")
                self.assertEqual([k for k, _ in got["headers"] if k.lower().startswith("x-session")], [])

    def test_optional(self):
        seen = {}
        got = call(self.wrap(lambda s: seen.update(v=s.verified, d=dict(s)), required=False))
        self.assertEqual(got["status"], 200)
        self.assertEqual(seen, {"v": False, "d": {}})
        self.assertEqual(got["scope"]["sessionproxy.error"].reason, "malformed")
        self.assertEqual(header(got, "Vary"), [])
        with self.assertRaises(RuntimeError):
            call(self.wrap(lambda s: s.__setitem__("a", 1), required=False))
        per_path = self.wrap(lambda s: None, required=lambda scope: scope["path"] != "/health")
        self.assertEqual(call(per_path, path="/health")["status"], 200)
        self.assertEqual(call(per_path, path="/private")["status"], 401)

    def test_change_after_the_headers(self):
        async def app(scope, receive, send):
            s = scope["session"]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            s["late"] = 1
            await send({"type": "http.response.body", "body": b"never"})
        with self.assertRaises(sessionproxy.SessionSealedError):
            call(SessionProxyMiddleware(app, secret=SECRET), mint_token(SECRET))

    def test_a_setdefault_or_pop_that_changes_nothing_is_a_read(self):
        seen = {}

        async def app(scope, receive, send):
            s = scope["session"]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            seen.update(cart=s.setdefault("cart", []), gone=s.pop("gone", "default"), modified=s.modified)
            await send({"type": "http.response.body", "body": b"ok"})
        got = call(SessionProxyMiddleware(app, secret=SECRET), mint_token(SECRET, {"cart": [1]}))
        self.assertEqual(seen, {"cart": [1], "gone": "default", "modified": False})
        self.assertEqual(header(got, "X-Session-Set"), [])
        logout = app_doing(lambda s: seen.update(user=s.pop("user", None)))  # an empty session without a token
        call(SessionProxyMiddleware(logout, secret=SECRET, required=False))
        self.assertIsNone(seen["user"])

    def test_nested_change_in_a_streamed_body(self):
        """Found when the last body message goes out: before the client
        takes the response as whole."""
        sent_bodies = []

        async def app(scope, receive, send):
            s = scope["session"]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first", "more_body": True})
            sent_bodies.append(1)
            s["cart"].append(1)  # after the headers: lost, so an error
            await send({"type": "http.response.body", "body": b"second"})
            sent_bodies.append(2)
        with self.assertRaises(sessionproxy.SessionSealedError):
            call(SessionProxyMiddleware(app, secret=SECRET), mint_token(SECRET, {"cart": []}))
        self.assertEqual(sent_bodies, [1])

    def test_nested_change_after_the_body(self):
        """A change once the response is sent (a background task) is
        raised when the app returns, for the server to log."""
        async def app(scope, receive, send):
            s = scope["session"]
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"done"})
            s["cart"].append(1)
        with self.assertRaises(sessionproxy.SessionSealedError):
            call(SessionProxyMiddleware(app, secret=SECRET), mint_token(SECRET, {"cart": []}))

    def test_a_value_json_cannot_hold_is_an_error(self):
        with self.assertRaisesRegex(TypeError, r"session\['x'\]"):
            call(self.wrap(lambda s: s.__setitem__("x", {1, 2})), mint_token(SECRET))

    def test_custom_header(self):
        seen = {}

        def fn(s):
            seen.update(d=dict(s))
            s["b"] = 2
        app = SessionProxyMiddleware(app_doing(fn), secret=SECRET, header="X-App-Session")
        got = call(app, mint_token(SECRET, {"a": 1}), header="x-app-session")
        self.assertEqual(seen, {"d": {"a": 1}})
        self.assertEqual(header(got, "X-App-Session-Set"), ['{"b":2}'])
        self.assertEqual(header(got, "X-Session-Set"), [])
        self.assertEqual(call(app, mint_token(SECRET, {"a": 1}))["status"], 401, "X-Session is not its header")

    def test_empty_secret_refused(self):
        with self.assertRaises(ValueError):
            SessionProxyMiddleware(app_doing(lambda s: None), secret="")
        with self.assertRaises(ValueError):
            SessionProxyMiddleware(app_doing(lambda s: None))
        with self.assertRaises(ValueError):
            SessionProxyMiddleware(app_doing(lambda s: None), secret=SECRET, old_secrets=[OLD, ""])

    def test_old_secrets(self):
        app = self.wrap(lambda s: None, old_secrets=[OLD])
        self.assertEqual(call(app, mint_token(SECRET))["status"], 200)
        self.assertEqual(call(app, mint_token(OLD))["status"], 200)
        self.assertEqual(call(app, mint_token(OTHER))["status"], 401)
        self.assertEqual(call(self.wrap(lambda s: None), mint_token(OLD))["status"], 401)

    def test_audience(self):
        app = self.wrap(lambda s: None, audience="orders")
        self.assertEqual(call(app, mint_token(SECRET, audience="orders"))["status"], 200)
        self.assertEqual(call(app, mint_token(SECRET, audience="billing"))["status"], 401)

    def test_lifespan_passes_through_untouched(self):
        seen = []

        async def app(scope, receive, send):
            seen.append(dict(scope))
            await send({"type": "lifespan.startup.complete"})

        sent, scope = asyncio.run(run(SessionProxyMiddleware(app, secret=SECRET), scope_type="lifespan",
                                      receive_messages=[{"type": "lifespan.startup"}]))
        self.assertEqual(sent, [{"type": "lifespan.startup.complete"}])
        self.assertNotIn("session", seen[0])
        self.assertEqual(seen[0], scope)

    def test_websocket_session_is_read_only(self):
        seen = {}

        async def app(scope, receive, send):
            s = scope["session"]
            seen.update(user=s["user"], verified=s.verified)
            try:
                s["user"] = "other"
            except sessionproxy.SessionSealedError as e:
                seen["refused"] = str(e)
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 1000})

        mw = SessionProxyMiddleware(app, secret=SECRET)
        sent, _ = asyncio.run(run(mw, "websocket", mint_token(SECRET, {"user": "jo"}),
                                  receive_messages=[{"type": "websocket.connect"}]))
        self.assertEqual([m["type"] for m in sent], ["websocket.accept", "websocket.close"])
        self.assertEqual((seen["user"], seen["verified"]), ("jo", True))
        self.assertIn("read-only", seen["refused"])

    def test_websocket_directives_set_by_hand_are_dropped(self):
        """The proxy applies directives on a handshake's answer too (101,
        or a denial response), so those the app sets by hand are dropped
        there, as on an HTTP response; the session, read-only, adds none."""
        async def app(scope, receive, send):
            await receive()
            if scope["path"] == "/deny":
                await send({"type": "websocket.http.response.start", "status": 403, "headers": [
                    (b"X-Session-Destroy", b"true"), (b"x-session-id", b"mine")]})
                await send({"type": "websocket.http.response.body", "body": b"no"})
                return
            await send({"type": "websocket.accept", "headers": [
                (b"x-session-destroy", b"true"), (b"X-Session-Max-Age", b"5"), (b"x-session-id", b"mine")]})
            await send({"type": "websocket.close", "code": 1000})

        mw = SessionProxyMiddleware(app, secret=SECRET)
        for path, first in (("/", "websocket.accept"), ("/deny", "websocket.http.response.start")):
            sent, _ = asyncio.run(run(mw, "websocket", mint_token(SECRET, {"user": "jo"}), path=path,
                                      receive_messages=[{"type": "websocket.connect"}]))
            self.assertEqual(sent[0]["type"], first)
            self.assertEqual(sent[0]["headers"], [(b"x-session-id", b"mine")], path)

    def test_websocket_without_a_token(self):
        """Refused before the app runs: a 401 where the server offers the
        denial response extension, else a close before accepting."""
        ran = []

        async def app(scope, receive, send):
            ran.append(scope)
        mw = SessionProxyMiddleware(app, secret=SECRET)
        sent, _ = asyncio.run(run(mw, "websocket", receive_messages=[{"type": "websocket.connect"}]))
        self.assertEqual(sent, [{"type": "websocket.close", "code": 1008}])

        async def with_denial():
            scope = {"type": "websocket", "path": "/ws", "headers": [], "extensions": {"websocket.http.response": {}}}
            out = []

            async def receive():
                return {"type": "websocket.connect"}

            async def send(m):
                out.append(m)
            await mw(scope, receive, send)
            return out
        sent = asyncio.run(with_denial())
        self.assertEqual([(m["type"], m.get("status")) for m in sent],
                         [("websocket.http.response.start", 401), ("websocket.http.response.body", None)])
        self.assertEqual(ran, [])
        optional = SessionProxyMiddleware(app, secret=SECRET, required=False)
        asyncio.run(run(optional, "websocket", receive_messages=[{"type": "websocket.connect"}]))
        self.assertFalse(ran[0]["session"].verified)


class VectorsTest(unittest.TestCase):
    """The shared vectors, through the middleware."""

    def test_patches(self):
        """A session that arrived as before and is after when the response
        starts sends exactly patch, or no directive at all."""
        for tc in load_vectors()["patches"]:
            def fn(s, tc=tc):
                for k in list(s):
                    if k not in tc["after"]:
                        del s[k]
                for k, val in tc["after"].items():
                    s[k] = json.loads(json.dumps(val))
            with self.subTest(tc["name"]):
                got = call(SessionProxyMiddleware(app_doing(fn), secret=SECRET),
                           mint_token(SECRET, tc["before"], new=False))
                d = directives(got["headers"])
                self.assertEqual(d["set"], [tc["patch"]] if tc["patch"] is not None else [])
                self.assertEqual((d["destroy"], d["renew"], d["max_age"]), (False, False, None))

    def test_tokens(self):
        """Each token vector opens the session (200, its sess) or is
        refused with 401; those without a secret through the vectors'
        JWKS, which the middleware fetches in a worker thread."""
        v = load_vectors()
        server = JWKSServer([SimpleNamespace(jwk=jwk) for jwk in v["jwks"]["keys"]])
        self.addCleanup(server.close)
        for tc in v["tokens"]:
            seen = {}
            opts = {"secret": tc["secret"]} if "secret" in tc else {"jwks_url": server.url}
            mw = SessionProxyMiddleware(app_doing(lambda s: seen.update(sess=dict(s))), audience=tc.get("audience"), **opts)
            with self.subTest(tc["name"]):
                got = call(mw, tc["token"])
                if "error" in tc:
                    self.assertEqual(got["status"], 401)
                    self.assertEqual(seen, {})
                else:
                    self.assertEqual(got["status"], 200)
                    self.assertEqual(seen["sess"], sessionproxy.Session(tc["claims"]))

    def test_directives_table_in_httpx_headers(self):
        """What Starlette's TestClient gives: httpx's Headers, whose
        items() joins a repeated name; directives() reads each line."""
        from test_directives import DirectivesTest
        checker = DirectivesTest()
        for case in CASES:
            with self.subTest(case["name"]):
                checker.check(case, httpx.Headers(lines(case), encoding="utf-8"))


class JWKSTest(unittest.TestCase):
    def setUp(self):
        self.ed = Key("EdDSA")
        self.server = JWKSServer([self.ed])
        self.addCleanup(self.server.close)

    def test_a_jwks_fetch_does_not_block_the_event_loop(self):
        """While one request waits for the JWKS (which hangs), another,
        HS256, is answered on the same loop."""
        self.server.hang = threading.Event()
        self.addCleanup(self.server.hang.set)
        done = []

        def app_fn(s):
            done.append(s["user"])
        mw = SessionProxyMiddleware(app_doing(app_fn), secret=SECRET, jwks_url=self.server.url)

        async def both():
            slow = asyncio.ensure_future(run(mw, token=self.ed.sign(claims(sess={"user": "eddsa"}))))
            deadline = time.monotonic() + 5
            while self.server.fetches == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.005)  # the JWKS fetch has begun, and hangs
            sent, _ = await asyncio.wait_for(run(mw, token=mint_token(SECRET, {"user": "hs256"})), 2)
            self.assertEqual(sent[0]["status"], 200)
            self.assertEqual(done, ["hs256"], "the HS256 request was answered while the JWKS hung")
            self.server.hang.set()
            sent, _ = await asyncio.wait_for(slow, 5)
            self.assertEqual(sent[0]["status"], 200)
        asyncio.run(both())
        self.assertEqual(done, ["hs256", "eddsa"])

    def test_an_outage_is_503(self):
        self.server.fail = True
        token = self.ed.sign(claims())
        got = call(SessionProxyMiddleware(app_doing(lambda s: None), jwks_url=self.server.url), token)
        self.assertEqual(got["status"], 503)
        seen = {}
        got = call(SessionProxyMiddleware(app_doing(lambda s: seen.update(v=s.verified)), jwks_url=self.server.url,
                                          required=False), token)
        self.assertEqual((got["status"], seen["v"]), (200, False))
        self.assertIsInstance(got["scope"]["sessionproxy.error"], sessionproxy.KeySetError)


# Starlette and FastAPI, through Starlette's TestClient.

def starlette_app(**kwargs):
    async def get(request):
        s = request.session
        return JSONResponse({"session": dict(s), "id": s.id, "new": s.is_new})

    async def set_(request):
        request.session["user"] = {"name": "john doe", "age": 30}
        return PlainTextResponse("session set")

    async def delete(request):
        del request.session["a"]
        return PlainTextResponse("ok")

    async def pop(request):
        return JSONResponse({"popped": request.session.pop("a", None)})

    async def none(request):
        request.session["a"] = None
        return PlainTextResponse("ok")

    async def append(request):
        request.session["cart"].append(3)
        return PlainTextResponse("ok")

    async def nested(request):
        request.session["user"]["age"] += 1
        return PlainTextResponse("ok")

    async def clear(request):
        request.session.clear()
        return PlainTextResponse("ok")

    async def clear_then_set(request):
        request.session.clear()
        request.session["a"] = 1
        return PlainTextResponse("ok")

    async def renew(request):
        regenerate(request)
        return PlainTextResponse("ok")

    async def login(request):
        request.session["user"] = "jo"
        regenerate(request.scope)  # the scope does as well as the request
        return PlainTextResponse("ok")

    async def max_age(request):
        value = request.path_params["value"]
        set_max_age(request, value if value == "session" else int(value))
        return PlainTextResponse("ok")

    async def remember_then_clear(request):
        set_max_age(request, 30 * 24 * 3600 * 1000)
        destroy(request)
        return PlainTextResponse("bye")

    async def others(request):
        destroy_others(request)
        return PlainTextResponse("ok")

    async def all_(request):
        destroy_all(request)
        return PlainTextResponse("ok")

    async def touch(request):
        request.session  # Starlette's request.session marks it accessed, as for its own session
        return PlainTextResponse("ok")

    async def plain(request):
        return PlainTextResponse("no session here")

    async def flash(request):
        request.session.setdefault("_flashes", []).append("hi")
        return PlainTextResponse("ok")

    async def stream(request):
        async def body():
            yield b"one "
            try:
                request.session["late"] = True
            except sessionproxy.SessionSealedError as e:
                yield b"refused: " + type(e).__name__.encode()
        return StreamingResponse(body())

    async def stream_nested(request):
        cart = request.session["cart"]

        async def body():
            yield b"one "
            cart.append(99)
            yield b"two"
        return StreamingResponse(body())

    async def http_error(request):
        request.session["tried"] = True
        raise HTTPException(403, "no")

    async def handled(request):
        request.session["handled"] = True
        raise LookupError("answered by the app's handler")

    async def unhandled(request):
        request.session["lost"] = True
        raise RuntimeError("no handler")

    async def background(request):
        cart = request.session["cart"]
        return PlainTextResponse("ok", background=BackgroundTask(lambda: cart.append(1)))

    async def bad_value(request):
        request.session["x"] = {1, 2}
        return PlainTextResponse("ok")

    async def on_lookup_error(request, exc):
        return PlainTextResponse("handled", status_code=409)

    async def ws(websocket):
        await websocket.accept()
        s = websocket.session
        try:
            s["x"] = 1
            refused = False
        except sessionproxy.SessionSealedError:
            refused = True
        await websocket.send_json({"session": dict(s), "refused": refused})
        await websocket.close()

    routes = [Route("/get", get), Route("/set", set_), Route("/del", delete), Route("/pop", pop),
              Route("/none", none), Route("/append", append), Route("/nested", nested), Route("/clear", clear),
              Route("/clear-then-set", clear_then_set), Route("/renew", renew), Route("/login", login),
              Route("/max-age/{value}", max_age), Route("/remember-then-clear", remember_then_clear),
              Route("/others", others), Route("/all", all_), Route("/touch", touch), Route("/plain", plain),
              Route("/flash", flash), Route("/stream", stream), Route("/stream-nested", stream_nested),
              Route("/http-error", http_error), Route("/handled", handled), Route("/unhandled", unhandled),
              Route("/background", background), Route("/bad-value", bad_value), WebSocketRoute("/ws", ws)]
    app = Starlette(routes=routes, exception_handlers={LookupError: on_lookup_error})
    app.add_middleware(SessionProxyMiddleware, secret=SECRET, **kwargs)
    return app


class StarletteTest(unittest.TestCase):
    """The cases of test_flask.py, with Starlette's request.session."""

    def setUp(self):
        self.app = starlette_app()
        self.client = TestClient(self.app)
        self.addCleanup(self.client.close)

    def call(self, path, sess=None, **kw):
        return self.client.get(path, headers=headers(SECRET, sess, **kw))

    def assertNoDirectives(self, r):
        self.assertEqual([k for k in r.headers if k.lower().startswith("x-session")], [])

    def test_read(self):
        r = self.call("/get", {"user": "jo"}, sid="abc", new=False)
        self.assertEqual(r.status_code, 200)
        self.assertEqual(r.json(), {"session": {"user": "jo"}, "id": "abc", "new": False})
        self.assertNoDirectives(r)

    def test_set(self):
        r = self.call("/set")
        self.assertEqual(r.headers.get_list("X-Session-Set"), ['{"user":{"name":"john doe","age":30}}'])
        self.assertNoDirectives(self.call("/set", {"user": {"age": 30, "name": "john doe"}}))

    def test_delete_pop_none(self):
        for path in ("/del", "/pop", "/none"):
            with self.subTest(path):
                r = self.call(path, {"a": 1, "b": 2})
                self.assertEqual(directives(r.headers)["set"], [{"a": None}])
        r = self.call("/pop", {"b": 2})  # nothing to pop: a read
        self.assertEqual(r.json(), {"popped": None})
        self.assertNoDirectives(r)

    def test_nested(self):
        self.assertEqual(directives(self.call("/append", {"cart": [1, 2], "o": 1}).headers)["set"], [{"cart": [1, 2, 3]}])
        self.assertEqual(directives(self.call("/nested", {"user": {"name": "jo", "age": 30}}).headers)["set"],
                         [{"user": {"age": 31}}])

    def test_clear_destroys(self):
        """As sessionproxy.flask's session.clear(): Starlette's own clear()
        empties its cookie, which here is the proxy's destroy."""
        r = self.call("/clear", {"a": 1})
        self.assertEqual(r.headers["X-Session-Destroy"], "true")
        self.assertNotIn("X-Session-Set", r.headers)
        r = self.call("/clear-then-set", {"a": 5, "b": 2})
        self.assertEqual(r.headers["X-Session-Destroy"], "true")
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"a": 1})
        r = self.call("/remember-then-clear", {"user": "jo"})
        self.assertEqual(r.headers.get_list("X-Session-Destroy"), ["true"])
        self.assertNotIn("X-Session-Max-Age", r.headers)

    def test_renew_login_max_age(self):
        r = self.call("/renew", {"a": 1})
        self.assertEqual(r.headers["X-Session-Renew"], "true")
        self.assertNotIn("X-Session-Set", r.headers)
        r = self.call("/login")
        self.assertEqual(r.headers["X-Session-Renew"], "true")
        self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"user": "jo"})
        self.assertEqual(self.call("/max-age/5000").headers["X-Session-Max-Age"], "5000")
        self.assertEqual(self.call("/max-age/session").headers["X-Session-Max-Age"], "session")
        with self.assertRaises(ValueError):
            self.call("/max-age/0")

    def test_others_and_all(self):
        d = directives(self.call("/others", {"user": {"id": 1}}).headers)
        self.assertEqual((d["destroy"], d["destroy_others"], d["set"]), (False, True, []))
        d = directives(self.call("/all", {"user": {"id": 1}}).headers)
        self.assertEqual((d["destroy"], d["destroy_others"]), (True, True))

    def test_vary(self):
        """Any use of request.session, as with Starlette's own session."""
        for path in ("/get", "/set", "/touch", "/pop"):
            with self.subTest(path):
                self.assertIn("Cookie", self.call(path, {"user": "jo"}).headers.get("Vary", ""))
        self.assertNotIn("Vary", self.call("/plain", {"user": "jo"}).headers)

    def test_reserved_keys(self):
        jar = SessionJar(SECRET)
        jar.apply(self.client.get("/flash", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {"python:_flashes": ["hi"]})
        self.assertEqual(self.client.get("/get", headers=jar.headers()).json()["session"], {"_flashes": ["hi"]})

    def test_401(self):
        for name, h in {"none": {}, "garbage": {"X-Session": "garbage"},
                        "another secret": headers(OTHER), "expired": headers(SECRET, exp=1)}.items():
            with self.subTest(name):
                r = self.client.get("/get", headers=h)
                self.assertEqual(r.status_code, 401)
                self.assertNoDirectives(r)

    def test_required_false(self):
        with TestClient(starlette_app(required=False)) as c:
            r = c.get("/get")
            self.assertEqual((r.status_code, r.json()["session"]), (200, {}))

    def test_change_after_the_headers_in_a_streamed_body(self):
        r = self.call("/stream", {"a": 1})
        self.assertEqual(r.text, "one refused: SessionSealedError")
        self.assertNoDirectives(r)
        with self.assertRaises(sessionproxy.SessionSealedError):
            self.call("/stream-nested", {"cart": [1]})

    def test_error_responses_carry_the_changes(self):
        """HTTPException and the app's exception handlers answer inside the
        middleware: their responses carry the changes. An exception no
        handler takes is answered 500 outside it, and nothing is sent, as
        with Starlette's own SessionMiddleware."""
        r = self.call("/http-error")
        self.assertEqual(r.status_code, 403)
        self.assertEqual(directives(r.headers)["set"], [{"tried": True}])
        r = self.call("/handled")
        self.assertEqual((r.status_code, r.text), (409, "handled"))
        self.assertEqual(directives(r.headers)["set"], [{"handled": True}])
        with TestClient(self.app, raise_server_exceptions=False) as c:
            r = c.get("/unhandled", headers=headers(SECRET))
        self.assertEqual(r.status_code, 500)
        self.assertNoDirectives(r)

    def test_a_change_in_a_background_task_is_an_error(self):
        with self.assertRaises(sessionproxy.SessionSealedError):
            self.call("/background", {"cart": []})

    def test_a_value_json_cannot_hold_is_an_error(self):
        with self.assertRaisesRegex(TypeError, r"session\['x'\]"):
            self.call("/bad-value")

    def test_websocket(self):
        with self.client.websocket_connect("/ws", headers=headers(SECRET, {"user": "jo"})) as ws:
            self.assertEqual(ws.receive_json(), {"session": {"user": "jo"}, "refused": True})
        with self.assertRaises(WebSocketDenialResponse) as cm:
            with self.client.websocket_connect("/ws"):
                pass
        self.assertEqual(cm.exception.status_code, 401)

    def test_get_session_needs_the_middleware(self):
        with self.assertRaises(RuntimeError):
            get_session({"type": "http"})
        with self.assertRaises(RuntimeError):
            regenerate(object())

    def test_jar_over_several_requests(self):
        jar = SessionJar(SECRET)
        jar.apply(self.client.get("/set", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {"user": {"name": "john doe", "age": 30}})
        sid = jar.sid
        jar.apply(self.client.get("/renew", headers=jar.headers()).headers)
        self.assertNotEqual(jar.sid, sid)
        self.assertEqual(self.client.get("/get", headers=jar.headers()).json()["session"],
                         {"user": {"name": "john doe", "age": 30}})
        jar.apply(self.client.get("/clear", headers=jar.headers()).headers)
        self.assertEqual(jar.data, {})


class FastAPITest(unittest.TestCase):
    def test_request_session(self):
        from fastapi import Request as FastAPIRequest

        app = FastAPI()
        app.add_middleware(SessionProxyMiddleware, secret=SECRET)

        @app.get("/count")
        def count(request: FastAPIRequest):  # a sync view, in FastAPI's thread pool
            request.session["views"] = request.session.get("views", 0) + 1
            return {"views": request.session["views"]}

        @app.get("/logout")
        async def logout(request: FastAPIRequest):
            request.session.clear()
            return Response(status_code=204)

        with TestClient(app) as c:
            jar = SessionJar(SECRET)
            for want in (1, 2):
                r = c.get("/count", headers=jar.headers())
                self.assertEqual(r.json(), {"views": want})
                jar.apply(r.headers)
            self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"views": 2})
            self.assertTrue(jar.apply(c.get("/logout", headers=jar.headers()).headers)["destroy"])
            self.assertEqual(c.get("/count").status_code, 401)


class ExampleAppTest(unittest.TestCase):
    """examples/fastapi/app.py, unit-tested the way the README shows."""

    def test_seed(self):
        import importlib.util

        path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "fastapi", "app.py")
        os.environ["UPSTREAM_SECRET"] = SECRET
        spec = importlib.util.spec_from_file_location("fastapi_example", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        with TestClient(mod.app) as client:
            jar = SessionJar(SECRET)
            self.assertEqual(client.get("/get", headers=jar.headers()).status_code, 204)
            r = client.get("/set", headers=jar.headers())
            self.assertEqual(r.text, "session set")
            jar.apply(r.headers)
            self.assertEqual(client.get("/get", headers=jar.headers()).json(), {"name": "john doe", "age": 30})
            jar.apply(client.get("/count", headers=jar.headers()).headers)
            r = client.get("/count", headers=jar.headers())
            self.assertEqual(r.json(), {"views": 2})
            self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"views": 2})
            r = client.get("/cart/add?item=x", headers=jar.headers())
            self.assertEqual(json.loads(r.headers["X-Session-Set"]), {"cart": ["x"]})
            jar.apply(client.get("/flash?msg=saved", headers=jar.headers()).headers)
            r = client.get("/messages", headers=jar.headers())
            self.assertEqual(r.json(), {"messages": ["saved"]})
            jar.apply(r.headers)
            self.assertEqual(client.get("/messages", headers=jar.headers()).json(), {"messages": []})
            self.assertEqual(client.get("/destroy", headers=jar.headers()).headers["X-Session-Destroy"], "true")


if __name__ == "__main__":
    unittest.main()
