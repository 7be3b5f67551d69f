"""The upstream of the black-box tests: the Flask example plus test routes.

The example's session comes from sessionproxy's library (sdk/python); the
test routes answer with raw directive headers, added outside the library
(RawHeaders), so a test can send anything.

Every response tells what the upstream saw, and the query string asks for
directives, so a test can drive any case:

    /echo?set={"a":1}&set={"b":2}&destroy=true&renew=1&maxage=5000&status=200
    /slow?ms=2000&id=x    answers after 2 s, printing "slow request started: x" first
"""
import os
import sys
import time

from flask import g, request, session

_root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(_root, "sdk", "python"))
sys.path.insert(0, os.path.join(_root, "examples", "flask"))
import app as example  # noqa: E402

app = example.app


class RawHeaders:
    """Adds the headers a test route asked for (environ["test.raw_headers"])
    outside the library: it drops directive headers an app sets by hand,
    and the test routes must send any directive, as written."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            headers = list(headers) + environ.get("test.raw_headers", [])
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)
        return self.wsgi_app(environ, start)


app.wsgi_app = RawHeaders(app.wsgi_app)


@app.before_request
def expose_session():
    """What the proxy sent, as the test routes report it (requests without
    a valid token never get here: the library answers 401)."""
    g.claims = session.claims
    g.session = dict(session)


@app.route("/echo", methods=["GET", "POST"])
def echo():
    headers = [("X-Session-Set", v) for v in request.args.getlist("set")]
    for name, arg in (("X-Session-Destroy", "destroy"), ("X-Session-Renew", "renew"), ("X-Session-Max-Age", "maxage")):
        if arg in request.args:
            headers.append((name, request.args[arg]))
    for raw in request.args.getlist("header"):  # any header, "Name: value"
        name, _, value = raw.partition(":")
        headers.append((name.strip(), value.strip()))
    body = {
        "session": g.session,
        "claims": g.claims,
        "headers": {k: v for k, v in request.headers.items()},
        "environ_keys": sorted(k for k in request.environ if k.startswith("HTTP_")),
    }
    request.environ["test.raw_headers"] = headers
    return app.json.response(body), int(request.args.get("status", 200))


@app.get("/slow")
def slow():
    """Answers after ?ms= milliseconds; prints when it starts, so a test
    knows the request is in flight."""
    print(f"slow request started: {request.args.get('id', '')}", flush=True)
    time.sleep(int(request.args.get("ms", 1000)) / 1000)
    return "slow done"


if __name__ == "__main__":
    example.serve(app)
