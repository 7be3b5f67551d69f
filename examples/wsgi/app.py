"""koa-session's "full application example" as a plain WSGI app, behind sessionproxy.

No framework: sessionproxy's WSGI middleware puts the session in
environ["sessionproxy.session"], a dict whose changes reach the proxy.
The same middleware wraps a Bottle or Pyramid app (a Django project has
sessionproxy.django instead: examples/django).

    UPSTREAM_SECRET=... python3 app.py --port 8080   # then run sessionproxy in front of it

/set, /get, /destroy and /renew are koa-session's example; /login renews
after a login, /put changes one key (?ms= waits first, so that two requests
of one session can overlap), /whoami shows what the proxy sent.
/signin?id= logs user ID in (session["user"]["id"]), /logout-others ends
that user's other sessions and /logout-all all of them: these two need the
proxy's session.userKey set to user.id.
"""
import argparse
import json
import os
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from sessionproxy.wsgi import SessionMiddleware


def routes(environ, start_response):
    session = environ["sessionproxy.session"]
    query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    path = environ.get("PATH_INFO", "/")

    def reply(body, status="200 OK"):
        if isinstance(body, str):
            data, kind = body.encode(), "text/plain; charset=utf-8"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        start_response(status, [("Content-Type", kind), ("Content-Length", str(len(data)))])
        return [data]

    if path == "/set":
        session["user"] = {"name": "john doe", "age": 30}
        return reply("session set")
    if path == "/get":
        user = session.get("user")
        if user is None:
            start_response("204 No Content", [])
            return []
        return reply(user)
    if path == "/destroy":
        session.destroy()
        return reply("session destroyed")
    if path == "/renew":
        session.regenerate()
        return reply("session renewed")
    if path == "/login":
        session["user"] = {"name": query.get("name"), "age": 30}
        session.regenerate()  # a new id after a login, against session fixation
        return reply("logged in")
    if path == "/signin":
        session["user"] = {"id": query["id"]}
        session.regenerate()
        return reply("signed in")
    if path == "/logout-others":
        session.destroy_others()  # "log out my other devices": this session stays
        return reply("other devices logged out")
    if path == "/logout-all":
        session.destroy_all()  # "log out everywhere", this device too
        return reply("logged out everywhere")
    if path == "/put":
        time.sleep(int(query.get("ms", 0)) / 1000)
        session[query["key"]] = query["value"]
        return reply("session changed")
    if path == "/whoami":
        return reply({"sid": session.id, "new": session.is_new, "session": dict(session)})
    return reply("not found", "404 Not Found")


# UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
app = SessionMiddleware(routes, secret=os.environ.get("UPSTREAM_SECRET"), header=os.environ.get("UPSTREAM_HEADER") or "X-Session")


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = make_server(args.host, args.port, app, server_class=ThreadingServer, handler_class=QuietHandler)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
