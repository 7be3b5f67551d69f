"""koa-session's "full application example", as an upstream of sessionproxy.

The app never touches a cookie: it reads the session from the verified
X-Session token and changes it with X-Session-* response headers.

    python3 app.py --port 8080      # then run sessionproxy in front of it
"""
import argparse
import json
import os

from flask import Flask, abort, g, request

import sessiontoken

app = Flask(__name__)
SECRET = os.environ.get("UPSTREAM_SECRET", "")


@app.before_request
def load_session():
    try:
        g.claims = sessiontoken.verify(request.headers.get("X-Session", ""), SECRET)
        g.session = g.claims["sess"]
    except ValueError:
        abort(401)  # not sent by sessionproxy


@app.get("/set")
def set_session():
    return "session set", {"X-Session-Set": json.dumps({"user": {"name": "john doe", "age": 30}})}


@app.get("/get")
def get_session():
    user = g.session.get("user")
    if user is None:
        return "", 204  # no session: empty, as koa answers an unset body
    return app.json.response(user)


@app.get("/destroy")
def destroy():
    return "session destroyed", {"X-Session-Destroy": "true"}


@app.get("/renew")
def renew():
    return "session renewed", {"X-Session-Renew": "true"}


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
