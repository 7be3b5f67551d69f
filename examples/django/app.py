"""koa-session's "full application example" in Django, behind sessionproxy.

A one-file Django project: the settings are below, and the views use
Django's own request.session, django.contrib.auth and
django.contrib.messages. sessionproxy's library (``pip install
./sdk/python``, and Django) backs request.session with the proxy's
session, so the app never touches a cookie, a token or a session table:

    UPSTREAM_SECRET=... python3 app.py --port 8080   # then run sessionproxy in front of it

/set, /get, /destroy and /renew are koa-session's example; /login renews
after a login; /count, /cart/add and /put change one key each (/put?ms=
waits first, so that two requests of one session can overlap); /whoami
shows what the proxy sent; /flash?msg= and /messages are Django's
messages framework, kept in the session. /signin?id= logs user ID in
(session["user"]["id"]), /logout-others ends that user's other sessions
and /logout-all all of them: these two need the proxy's session.userKey
set to user.id.

/accounts/login is django.contrib.auth's login() for a demo user (jo,
password jo-password), with CSRF protection kept in the session
(CSRF_USE_SESSIONS): GET it for the form's token, POST username,
password and csrfmiddlewaretoken. /accounts/me needs the login
(@login_required); POST /accounts/logout (with the token) ends it. The
user table is an in-memory SQLite database, made at start.
"""
import argparse
import os
import sys
import time
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
# UPSTREAM_OLD_SECRET: the token.secret before a rotation, accepted too
# until token.ttl after the proxy switched (docs/rotate-keys.md).
old_secret = os.environ.get("UPSTREAM_OLD_SECRET")
settings.configure(
    DEBUG=False,
    # Django's own secret (CSRF tokens, password reset links), not the proxy's.
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY") or os.urandom(32).hex(),
    ALLOWED_HOSTS=os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(","),
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.messages"],
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "sessionproxy.django.SessionMiddleware",  # in place of django.contrib.sessions' SessionMiddleware
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    SESSIONPROXY={
        "secret": os.environ.get("UPSTREAM_SECRET"),
        "old_secrets": [old_secret] if old_secret else None,
        "header": os.environ.get("UPSTREAM_HEADER") or "X-Session",
    },
    SESSION_ENGINE="sessionproxy.django",
    CSRF_USE_SESSIONS=True,
    MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage",
    LOGIN_URL="/accounts/login",
    # Shared by the server's threads, kept while the process runs.
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3",
                           "NAME": "file:sessionproxy-example?mode=memory&cache=shared"}},
    # A fast hash for the demo user only; keep Django's default in a real project.
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    USE_TZ=True,
)
django.setup()

from django.contrib import messages  # noqa: E402  (needs the settings)
from django.contrib.auth import authenticate, login, logout  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_GET, require_http_methods, require_POST  # noqa: E402


def text(body, status=200):
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


@require_GET
def set_session(request):
    request.session["user"] = {"name": "john doe", "age": 30}
    return text("session set")


@require_GET
def get_session(request):
    user = request.session.get("user")
    if user is None:
        return HttpResponse(status=204)  # no session: empty, as koa answers an unset body
    return JsonResponse(user)


@require_GET
def destroy(request):
    request.session.flush()
    return text("session destroyed")


@require_GET
def renew(request):
    request.session.cycle_key()  # X-Session-Renew: new id, same data
    return text("session renewed")


@require_GET
def login_name(request):
    request.session["user"] = {"name": request.GET["name"], "age": 30}
    request.session.cycle_key()  # a new id after a login, against session fixation
    return text("logged in")


@require_GET
def signin(request):
    request.session["user"] = {"id": request.GET["id"]}
    request.session.cycle_key()
    return text("signed in")


@require_GET
def logout_others(request):
    request.session.destroy_others()  # "log out my other devices": this session stays
    return text("other devices logged out")


@require_GET
def logout_all(request):
    request.session.destroy_all()  # "log out everywhere", this device too
    return text("logged out everywhere")


@require_GET
def count(request):
    request.session["views"] = request.session.get("views", 0) + 1
    return JsonResponse({"views": request.session["views"]})


@require_GET
def cart_add(request):
    request.session.setdefault("cart", []).append(request.GET["item"])  # a nested change is sent too
    return JsonResponse({"cart": request.session["cart"]})


@require_GET
def put(request):
    time.sleep(int(request.GET.get("ms", 0)) / 1000)
    request.session[request.GET["key"]] = request.GET["value"]
    return text("session changed")


@require_GET
def flash(request):
    messages.info(request, request.GET["msg"])  # kept in session["_messages"] until shown
    return text("flashed")


@require_GET
def show_messages(request):
    return JsonResponse({"messages": [m.message for m in messages.get_messages(request)]})


@require_GET
def visitor(request):
    # Django's idiom for a key that lasts, such as an anonymous visitor's
    # cart: a new, empty session has none until create().
    s = request.session
    if not s.session_key:
        s.create()
    return JsonResponse({"key": s.session_key})


def whoami(request):
    s = request.session
    return JsonResponse({"sid": s.session_key, "new": s.is_new, "session": dict(s.items())})


@require_http_methods(["GET", "POST"])
def accounts_login(request):
    if request.method == "GET":
        return HttpResponse(
            '<form method="post"><input type="hidden" name="csrfmiddlewaretoken" value="%s">'
            '<input name="username"> <input name="password" type="password"> <button>Log in</button></form>'
            % get_token(request))
    user = authenticate(request, username=request.POST.get("username"), password=request.POST.get("password"))
    if user is None:
        return text("wrong username or password", 403)
    login(request, user)  # cycle_key() and the user's keys: X-Session-Renew and X-Session-Set
    return text("welcome " + user.username)


@login_required
@require_GET
def accounts_me(request):
    return JsonResponse({"user": request.user.username})


@require_POST
def accounts_logout(request):
    logout(request)  # flush(): X-Session-Destroy
    return text("logged out")


urlpatterns = [
    path("set", set_session),
    path("get", get_session),
    path("destroy", destroy),
    path("renew", renew),
    path("login", login_name),
    path("signin", signin),
    path("logout-others", logout_others),
    path("logout-all", logout_all),
    path("count", count),
    path("cart/add", cart_add),
    path("put", put),
    path("flash", flash),
    path("messages", show_messages),
    path("whoami", whoami),
    path("visitor", visitor),
    path("accounts/login", accounts_login),
    path("accounts/me", accounts_me),
    path("accounts/logout", accounts_logout),
]


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    """Serve on --host (default 127.0.0.1; 0.0.0.0 in a container); with
    --port 0 a free port is picked and printed."""
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    application = get_wsgi_application()  # reads SESSIONPROXY: a bad one stops here
    call_command("migrate", verbosity=0, interactive=False)
    User.objects.create_user("jo", password="jo-password")
    server = make_server(args.host, args.port, application, server_class=ThreadingServer, handler_class=QuietHandler)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except ImproperlyConfigured as e:
        sys.exit(f"examples/django: {e}")
