"""koa-session's "full application example" in FastAPI, behind sessionproxy.

The app uses Starlette's ``request.session``, as with Starlette's own
SessionMiddleware; sessionproxy's ASGI middleware
(``pip install ./sdk/python``) backs it with the proxy's session, so the
app never touches a cookie or a token:

    UPSTREAM_SECRET=... python3 app.py --port 8080   # uvicorn; then run sessionproxy in front of it

/set, /get, /destroy and /renew are koa-session's example; /login renews
after a login; /count, /cart/add and /put change one key each (/put?ms=
waits first, so that two requests of one session can overlap); /whoami
shows what the proxy sent; /flash?msg= and /messages keep a message in the
session until it is shown (under "_flashes", as Flask's flash() does).
/signin?id= logs user ID in (session["user"]["id"]), /logout-others ends
that user's other sessions and /logout-all all of them: these two need the
proxy's session.userKey set to user.id.
"""
import argparse
import asyncio
import os

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from sessionproxy import Verifier
from sessionproxy.asgi import SessionProxyMiddleware, destroy_all, destroy_others, regenerate

# UPSTREAM_OLD_SECRET: the token.secret before a rotation, accepted too
# until token.ttl after the proxy switched (docs/rotate-keys.md).
old_secret = os.environ.get("UPSTREAM_OLD_SECRET")
# Built here rather than by add_middleware, which Starlette runs at the
# first request: a missing or empty secret stops the app now.
verifier = Verifier(os.environ.get("UPSTREAM_SECRET"), old_secrets=[old_secret] if old_secret else None)

app = FastAPI()
# UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
app.add_middleware(SessionProxyMiddleware, verifier=verifier, header=os.environ.get("UPSTREAM_HEADER") or "X-Session")


@app.get("/set", response_class=PlainTextResponse)
async def set_session(request: Request):
    request.session["user"] = {"name": "john doe", "age": 30}
    return "session set"


@app.get("/get")
async def get_session(request: Request):
    user = request.session.get("user")
    if user is None:
        return Response(status_code=204)  # no session: empty, as koa answers an unset body
    return user


@app.get("/destroy", response_class=PlainTextResponse)
async def destroy(request: Request):
    request.session.clear()
    return "session destroyed"


@app.get("/renew", response_class=PlainTextResponse)
async def renew(request: Request):
    regenerate(request)
    return "session renewed"


@app.get("/login", response_class=PlainTextResponse)
async def login(request: Request, name: str):
    request.session["user"] = {"name": name, "age": 30}
    regenerate(request)  # a new id after a login, against session fixation
    return "logged in"


@app.get("/signin", response_class=PlainTextResponse)
async def signin(request: Request, id: str):
    request.session["user"] = {"id": id}
    regenerate(request)
    return "signed in"


@app.get("/logout-others", response_class=PlainTextResponse)
async def logout_others(request: Request):
    destroy_others(request)  # "log out my other devices": this session stays
    return "other devices logged out"


@app.get("/logout-all", response_class=PlainTextResponse)
async def logout_all(request: Request):
    destroy_all(request)  # "log out everywhere", this device too
    return "logged out everywhere"


@app.get("/count")
async def count(request: Request):
    request.session["views"] = request.session.get("views", 0) + 1
    return {"views": request.session["views"]}


@app.get("/cart/add")
async def cart_add(request: Request, item: str):
    request.session.setdefault("cart", []).append(item)  # a nested change is sent too
    return {"cart": request.session["cart"]}


@app.get("/put", response_class=PlainTextResponse)
async def put(request: Request, key: str, value: str, ms: int = 0):
    await asyncio.sleep(ms / 1000)
    request.session[key] = value
    return "session changed"


@app.get("/flash", response_class=PlainTextResponse)
async def flash(request: Request, msg: str):
    request.session.setdefault("_flashes", []).append(msg)  # stored as "python:_flashes"
    return "flashed"


@app.get("/messages")
async def messages(request: Request):
    return {"messages": request.session.pop("_flashes", [])}


@app.get("/whoami")
async def whoami(request: Request):
    session = request.session
    return {"sid": session.id, "new": session.is_new, "session": dict(session)}


def serve(asgi_app):
    """Serve with uvicorn on --host (default 127.0.0.1; 0.0.0.0 in a
    container); with --port 0 a free port is picked and printed."""
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()

    class Server(uvicorn.Server):
        async def startup(self, sockets=None):
            await super().startup(sockets)
            for server in self.servers:
                for sock in server.sockets:
                    print(f"listening on {args.host}:{sock.getsockname()[1]}", flush=True)

    Server(uvicorn.Config(asgi_app, host=args.host, port=args.port, log_level="warning", access_log=False)).run()


if __name__ == "__main__":
    serve(app)
