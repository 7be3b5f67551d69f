"""koa-session's "full application example" in Flask, behind sessionproxy.

The app uses Flask's own ``session``; sessionproxy's library
(``pip install ./sdk/python``) backs it with the proxy's session, so the
app never touches a cookie or a token:

    UPSTREAM_SECRET=... python3 app.py --port 8080   # then run sessionproxy in front of it

/set, /get, /destroy and /renew are koa-session's example; /login renews
after a login; /count, /cart/add and /put change one key each (/put?ms=
waits first, so that two requests of one session can overlap); /whoami
shows what the proxy sent; /flash?msg= and /messages are Flask's
flash() and get_flashed_messages(), which work unchanged. /signin?id= logs
user ID in (session["user"]["id"]), /logout-others ends that user's other
sessions and /logout-all all of them: these two need the proxy's
session.userKey set to user.id.
"""
import argparse
import os
import time

from flask import Flask, flash, get_flashed_messages, request, session

from sessionproxy.flask import SessionProxy, destroy_all, destroy_others, regenerate

app = Flask(__name__)
# UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
# UPSTREAM_OLD_SECRET: the token.secret before a rotation, accepted too
# until token.ttl after the proxy switched (docs/rotate-keys.md).
old_secret = os.environ.get("UPSTREAM_OLD_SECRET")
SessionProxy(app, secret=os.environ.get("UPSTREAM_SECRET"), old_secrets=[old_secret] if old_secret else None,
             header=os.environ.get("UPSTREAM_HEADER") or "X-Session")


@app.get("/set")
def set_session():
    session["user"] = {"name": "john doe", "age": 30}
    return "session set"


@app.get("/get")
def get_session():
    user = session.get("user")
    if user is None:
        return "", 204  # no session: empty, as koa answers an unset body
    return app.json.response(user)


@app.get("/destroy")
def destroy():
    session.clear()
    return "session destroyed"


@app.get("/renew")
def renew():
    regenerate()
    return "session renewed"


@app.get("/login")
def login():
    session["user"] = {"name": request.args["name"], "age": 30}
    regenerate()  # a new id after a login, against session fixation
    return "logged in"


@app.get("/signin")
def signin():
    session["user"] = {"id": request.args["id"]}
    regenerate()
    return "signed in"


@app.get("/logout-others")
def logout_others():
    destroy_others()  # "log out my other devices": this session stays
    return "other devices logged out"


@app.get("/logout-all")
def logout_all():
    destroy_all()  # "log out everywhere", this device too
    return "logged out everywhere"


@app.get("/count")
def count():
    session["views"] = session.get("views", 0) + 1
    return {"views": session["views"]}


@app.get("/cart/add")
def cart_add():
    session.setdefault("cart", []).append(request.args["item"])  # a nested change is sent too
    return {"cart": session["cart"]}


@app.get("/put")
def put():
    time.sleep(int(request.args.get("ms", 0)) / 1000)
    session[request.args["key"]] = request.args["value"]
    return "session changed"


@app.get("/flash")
def flash_message():
    flash(request.args["msg"])  # kept in session["_flashes"] until shown
    return "flashed"


@app.get("/messages")
def messages():
    return {"messages": get_flashed_messages()}


@app.get("/whoami")
def whoami():
    return {"sid": session.id, "new": session.new, "session": dict(session)}


def serve(flask_app):
    """Serve on --host (default 127.0.0.1; 0.0.0.0 in a container); with
    --port 0 a free port is picked and printed."""
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = make_server(args.host, args.port, flask_app, threaded=True)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(app)
