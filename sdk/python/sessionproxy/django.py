"""Django's own ``request.session``, backed by sessionproxy.

In settings.py, in place of Django's session middleware::

    MIDDLEWARE = [
        "django.middleware.security.SecurityMiddleware",
        "sessionproxy.django.SessionMiddleware",   # was django.contrib.sessions.middleware.SessionMiddleware
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        ...
    ]
    SESSIONPROXY = {"secret": os.environ["UPSTREAM_SECRET"]}   # the proxy's token.secret
    SESSION_ENGINE = "sessionproxy.django"                     # optional: see below

``request.session`` is then a :class:`ProxySession`, a
``django.contrib.sessions`` ``SessionBase`` whose data is the proxy's: a
view reads and changes it as usual, ``django.contrib.auth``'s ``login()``
and ``logout()``, ``@login_required``, the messages framework and
``CSRF_USE_SESSIONS`` work unchanged, and the changes reach the proxy as
``X-Session-*`` response headers. Nothing touches a database or a cookie.

- ``flush()`` destroys the session (X-Session-Destroy); ``cycle_key()``
  renews its id, keeping the data (X-Session-Renew), as ``login()`` does;
- ``set_expiry(seconds | timedelta | datetime | 0 | None)`` is
  X-Session-Max-Age (0: a browser-session cookie; None: the proxy's
  default);
- ``clear()`` empties it; a session left empty by ``clear()`` is
  destroyed, as Django deletes the cookie of an emptied session;
- Django keeps its own state in keys starting with ``_``
  (``_auth_user_id``, ``_csrftoken``, ``_session_expiry``, ``_messages``),
  which the proxy reserves: they are stored as ``python:_auth_user_id``
  and read back by their own names, as in :mod:`sessionproxy.flask`.

A request without a valid token is answered ``401`` before any view runs,
unless ``SESSIONPROXY["optional"]`` or :func:`session_optional` let it
through with an empty, read-only session (``request.session.verified`` is
False).

``SESSION_ENGINE = "sessionproxy.django"`` is for Django's test
``Client``: its ``session``, ``login()`` and ``force_login()`` then give a
session without a token, which refuses changes with a message, instead of
writing database sessions that the proxy never sees. In tests, send the
session with :mod:`sessionproxy.testing` and log a user in with
:func:`force_login`.
"""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, TypeVar

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.middleware import SessionMiddleware as _DjangoSessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.deprecation import MiddlewareMixin

from ._session import HEADER, Session, SessionSealedError, _to_stored, check_max_age, is_directive
from ._token import DEFAULT_LEEWAY, InvalidToken, KeySetError, Verifier

__all__ = ["SessionMiddleware", "ProxySession", "SessionStore", "session_optional", "force_login", "KEEP"]

logger = logging.getLogger("sessionproxy.django")

F = TypeVar("F", bound=Callable[..., Any])

#: What ``create()`` stores in a new, empty session so that the proxy
#: keeps it (a private key: on the wire ``python:_sessionproxy_keep``).
KEEP = "_sessionproxy_keep"

#: The keys SESSIONPROXY may hold.
SETTINGS = ("secret", "old_secrets", "jwks_url", "audience", "header", "leeway", "optional")


class _Data(Session):
    """The session's data: the library's dict, which finds the changes by
    comparison and stores the "_" keys under "python:"."""

    _sealed_message = "the response's session headers were already written (SessionMiddleware.process_response ran)"

    def _check_writable(self) -> None:
        if not self.verified:
            raise RuntimeError(
                "sessionproxy: this session has no valid X-Session token, so it cannot be changed: the "
                "request was let through without one (SESSIONPROXY['optional'] or @session_optional), or "
                "the session is not a request's own (Django's test Client.session, Client.login() and "
                "force_login() cannot carry a session to the proxy). In tests, send the session with "
                "sessionproxy.testing.headers(SECRET, {...}) or a SessionJar, and log a user in with "
                "sessionproxy.django.force_login(jar, user)")
        super()._check_writable()


class ProxySession(SessionBase):
    """What ``request.session`` is under :class:`SessionMiddleware`: Django's
    ``SessionBase``, its data the proxy's session.

    Besides SessionBase's interface: ``verified`` (False for a request let
    through without a token, whose session is empty and read-only),
    ``claims`` (the token's), ``is_new``, ``error`` (why there is no
    token), ``destroy_others()`` and ``destroy_all()`` (the proxy's
    ``session.userKey``). ``session_key`` is the proxy's session id
    (``sid``; None in the koa cookie format): the new id that ``cycle_key()``
    asks for is the proxy's to make, seen from the next request on.
    """

    def __init__(self, session_key: Optional[str] = None, *, claims: Optional[Mapping[str, Any]] = None,
                 header: str = HEADER, error: Optional[Exception] = None) -> None:
        # session_key is SessionStore's signature (Django's test Client
        # calls it so); without claims this is a session without a token.
        self._data = _Data(claims, header)
        self._cleared = False
        self._created = False
        super().__init__(None)
        self._session_cache = self._data
        self.error = error

    # Django's SessionMiddleware reads accessed for Vary: Cookie. Any read,
    # through SessionBase or the data's own methods, counts.
    @property
    def accessed(self) -> bool:  # type: ignore[override]
        return self._data.accessed

    @accessed.setter
    def accessed(self, value: bool) -> None:
        self._data.accessed = value

    @property
    def session_key(self) -> Optional[str]:  # type: ignore[override]
        """The proxy's session id (``sid``); None after ``flush()`` (the
        next session's id is the proxy's to make), in the koa cookie
        format, which has none, and, as in Django, for a new session that
        holds nothing yet: the proxy keeps no empty session, so its id
        would change with every request. ``create()`` (or ``save()``)
        makes it one the proxy keeps, as Django's does."""
        if self._data._destroyed:
            return None
        sid = self._data.id
        if self._new_and_empty():
            return None
        return sid

    def _new_and_empty(self) -> bool:
        d = self._data
        return not self._created and d.verified and d._claims_new() and dict.__len__(d) == 0

    @property
    def verified(self) -> bool:
        return self._data.verified

    @property
    def claims(self) -> Dict[str, Any]:
        """The token's claims, as the proxy sent them."""
        return self._data.claims

    @property
    def is_new(self) -> bool:
        """True when the session did not exist before this request."""
        return self._data.is_new

    def is_empty(self) -> bool:
        """True when the session holds no data."""
        return not dict.__len__(self._data)

    def clear(self) -> None:
        """Empty the session, keeping its id, as Django's ``clear()`` does.
        If nothing is set after it in this request, the session is
        destroyed when the response goes out, as Django deletes the cookie
        of a session left empty."""
        self._data._check_writable()
        self.accessed = self.modified = True
        for key in list(dict.keys(self._data)):
            self._data[key] = None
        self._cleared = True

    def flush(self) -> None:
        """Destroy the session (X-Session-Destroy), as ``logout()`` does.
        Keys set afterwards start a new session with a new id, as
        ``login()`` does after a flush."""
        self._data.destroy()
        self.modified = True

    def cycle_key(self) -> None:
        """A new session id, same data (X-Session-Renew), as ``login()``
        asks for against session fixation."""
        self._data.regenerate()
        self.modified = True

    def destroy_others(self) -> None:
        """End every other session of this session's user ("log out my
        other devices"; X-Session-Destroy: others). Needs the proxy's
        session.userKey."""
        self._data.destroy_others()

    def destroy_all(self) -> None:
        """``flush()``, and every other session of this session's user ends
        ("log out everywhere"; X-Session-Destroy: all). Needs the proxy's
        session.userKey."""
        self._data.destroy_all()
        self.modified = True

    def set_expiry(self, value: Any) -> None:
        """This session's lifetime from now on (X-Session-Max-Age), kept as
        Django keeps it (``_session_expiry``), so that ``get_expiry_age()``
        and ``get_expire_at_browser_close()`` read it on later requests too.

        Seconds (an int > 0), a ``timedelta``, or a ``datetime`` (the
        seconds until it): that lifetime; ``0``: a browser-session cookie;
        ``None``: the proxy's own ``session.maxAge``, withdrawing a max age
        set earlier in this request (one sent in an earlier request stays
        with the proxy, as koa-session's maxAge does). A lifetime that is
        not in the future, or past 100 years, raises ValueError."""
        if value is None:
            self._data._check_writable()
            self._data._max_age = None
            self.pop("_session_expiry", None)
            return
        if isinstance(value, bool) or not isinstance(value, (int, timedelta, datetime)):
            raise TypeError(f"sessionproxy: set_expiry takes seconds (int), a timedelta, a datetime or None, "
                            f"not {value!r}")
        if isinstance(value, timedelta):
            value = timezone.now() + value
        if isinstance(value, datetime):
            ms = math.ceil((value - timezone.now()).total_seconds() * 1000)
            if ms <= 0:
                raise ValueError(f"sessionproxy: set_expiry({value!r}) is not in the future")
            self._data.max_age = check_max_age(ms)
            self["_session_expiry"] = value.isoformat()
            return
        if value == 0:
            self._data.max_age = "session"
        elif value < 0:
            raise ValueError(f"sessionproxy: set_expiry({value!r}): want seconds > 0, 0 for a browser-session "
                             "cookie, or None")
        else:
            self._data.max_age = check_max_age(value * 1000)
        self["_session_expiry"] = value

    # The async interface (Django 5.1+, alogin() and alogout()) does what
    # the sync one does: nothing here waits on a store.
    async def aflush(self) -> None:
        self.flush()

    async def acycle_key(self) -> None:
        self.cycle_key()

    async def aset_expiry(self, value: Any) -> None:
        self.set_expiry(value)

    # What SessionBase asks of a store: there is none. The session is the
    # token's, and its changes go out as response headers.
    def load(self) -> Dict[str, Any]:
        return self._data

    def exists(self, session_key: Optional[str]) -> bool:
        return session_key is not None and session_key == self._data._claims.get("sid")

    def create(self) -> None:
        """Makes a new, empty session one the proxy keeps, so that its
        ``session_key`` lasts (Django's ``if not session_key: create()``,
        for an anonymous visitor's cart): the proxy keeps no empty
        session, so this stores :data:`KEEP` in it. A session that holds
        data already is kept anyway."""
        if self._new_and_empty():
            self._data[KEEP] = True
        self._created = True

    def save(self, must_create: bool = False) -> None:
        """Nothing to save, the middleware sends the changes with the
        response; but a new, empty session is created (:meth:`create`), as
        Django's ``save()`` does to give it a key."""
        if self._new_and_empty():
            self.create()

    def delete(self, session_key: Optional[str] = None) -> None:
        """Destroy this session, as ``flush()`` does. Another session cannot
        be deleted from here: that is the proxy's admin ``/sessions`` API."""
        if session_key is not None and session_key != self._data._claims.get("sid"):
            raise NotImplementedError(
                "sessionproxy: only the request's own session can be deleted here; end another "
                "with the proxy's admin /sessions API")
        self.flush()

    @classmethod
    def clear_expired(cls) -> None:
        """Nothing to clear: the proxy expires its sessions
        (``manage.py clearsessions`` does nothing)."""

    def _seal(self) -> List[Tuple[str, str]]:
        """The directives for the response, after which no change is taken."""
        d = self._data
        if self._cleared and d.verified and not d._destroyed and not dict.__len__(d) and d._before:
            d.destroy()
        return d.seal()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self._data)}>"


#: For ``SESSION_ENGINE = "sessionproxy.django"``: Django's test Client
#: makes its sessions with it, which then refuse changes loudly.
SessionStore = ProxySession


class SessionMiddleware(_DjangoSessionMiddleware):
    """Puts the proxy's session in ``request.session``: list it in
    ``MIDDLEWARE`` where Django's ``SessionMiddleware`` was (it is a
    subclass, so the admin's check for one passes).

    Its options are ``settings.SESSIONPROXY``, a dict, read when Django
    builds the middleware; a bad one raises ``ImproperlyConfigured``
    naming it:

    - ``secret``: the proxy's ``token.secret`` (HS256);
    - ``old_secrets``: a list of secrets the proxy signed with before
      ``token.secret`` was rotated, accepted too;
    - ``jwks_url``: where the proxy's public keys are (EdDSA, ES256);
    - ``audience``: refuse tokens not made for this audience;
    - ``header``: the token's request header (default ``X-Session``), the
      proxy's ``token.header``; the directives are named after it;
    - ``leeway``: seconds of clock skew allowed on ``exp`` (default 5);
    - ``optional``: ``False`` (default) answers ``401`` to a request
      without a valid token (``503`` when the JWKS cannot be fetched);
      ``True``, or a function of the request returning True, lets it
      through with an empty, read-only session. Per view:
      :func:`session_optional`.
    """

    def __init__(self, get_response: Callable[..., Any]) -> None:
        # Not Django's __init__, which imports SESSION_ENGINE's store.
        MiddlewareMixin.__init__(self, get_response)
        opts = _options()
        self.header = opts["header"]
        self.meta_header = "HTTP_" + self.header.upper().replace("-", "_")
        self.optional = opts["optional"]
        self.verifier = opts["verifier"]
        self.SessionStore = ProxySession

    def process_request(self, request: Any) -> Optional[HttpResponse]:
        try:
            claims = self.verifier.verify(request.META.get(self.meta_header))
        except (InvalidToken, KeySetError) as e:
            request.session = ProxySession(header=self.header, error=e)
            if self._optional(request):
                return None
            if isinstance(e, KeySetError):
                # An outage, not a bad token: 503, which is retried.
                logger.error("sessionproxy: %s %s refused with 503: %s", request.method, request.path, e)
                return _plain(503, "503 Service Unavailable: the session keys are unavailable\n")
            logger.info("sessionproxy: %s %s refused with 401: %s", request.method, request.path, e)
            return _plain(401, "401 Unauthorized: no valid session token\n")
        request.session = ProxySession(claims=claims, header=self.header)
        return None

    def _optional(self, request: Any) -> bool:
        optional = self.optional(request) if callable(self.optional) else self.optional
        if optional:
            return True
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False
        return getattr(match.func, "_sessionproxy_optional", False)

    def process_response(self, request: Any, response: Any) -> Any:
        session = getattr(request, "session", None)
        if not isinstance(session, ProxySession):
            return response
        if session.accessed:
            # The response depends on the session, so on the cookie, as
            # with Django's own sessions.
            patch_vary_headers(response, ("Cookie",))
            # Django's cache middleware keys such a response by the Cookie
            # header, which never holds the proxy's cookie: stored, it
            # would be served (X-Session-* directives and all) to every
            # visitor. UpdateCacheMiddleware, outside this one, reads this.
            request._cache_update_cache = False
        if not session.verified or session._data._sealed:
            return response
        headers = session._seal()
        for name in [n for n in response.headers if is_directive(n, self.header)]:
            del response.headers[name]
        if response.status_code >= 500:
            return response  # as Django saves no session on a 5xx response
        for name, value in headers:
            response.headers[name] = value
        if response.streaming and getattr(response, "file_to_stream", None) is None:
            # The body runs after this: a change made there raises from it.
            # (A file response runs no app code, and keeps its sendfile.)
            if getattr(response, "is_async", False):  # Django 4.2+
                response.streaming_content = _awatched(response.streaming_content, session)
            else:
                response.streaming_content = _watched(response.streaming_content, session)
        return response


def _late_change() -> SessionSealedError:
    return SessionSealedError("sessionproxy: the session changed in the streamed body, after its headers "
                              "were sent; the change is lost")


def _watched(content: Iterable[bytes], session: ProxySession) -> Iterable[bytes]:
    yield from content
    if session._data.changed_since_sealed():
        raise _late_change()


async def _awatched(content: Any, session: ProxySession) -> Any:
    async for part in content:
        yield part
    if session._data.changed_since_sealed():
        raise _late_change()


def _plain(status: int, body: str) -> HttpResponse:
    return HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")


def _options() -> Dict[str, Any]:
    """settings.SESSIONPROXY, checked; ImproperlyConfigured names a bad key."""
    conf = getattr(settings, "SESSIONPROXY", None)
    if conf is None:
        raise ImproperlyConfigured(
            'sessionproxy: settings.SESSIONPROXY is not set: want a dict such as {"secret": ...}, '
            "the proxy's token.secret")
    if not isinstance(conf, Mapping):
        raise ImproperlyConfigured(f"sessionproxy: settings.SESSIONPROXY must be a dict, not {type(conf).__name__}")
    for key in conf:
        if key not in SETTINGS:
            raise ImproperlyConfigured(f"sessionproxy: SESSIONPROXY[{key!r}]: unknown setting; "
                                       f"known: {', '.join(SETTINGS)}")

    def bad(key: str, problem: str) -> ImproperlyConfigured:
        return ImproperlyConfigured(f"sessionproxy: SESSIONPROXY[{key!r}]: {problem}")

    secret, jwks_url = conf.get("secret"), conf.get("jwks_url")
    if secret is not None and (not isinstance(secret, (str, bytes)) or not secret):
        raise bad("secret", "must be the proxy's token.secret, a non-empty string")
    if jwks_url is not None and (not isinstance(jwks_url, str) or not jwks_url):
        raise bad("jwks_url", "must be the URL of the proxy's /.well-known/jwks.json")
    if secret is None and jwks_url is None:
        raise bad("secret", "not set: set it to the proxy's token.secret (or jwks_url, for EdDSA and ES256 tokens)")
    old = conf.get("old_secrets")
    if old is not None and (isinstance(old, (str, bytes)) or not isinstance(old, Iterable)
                            or not all(isinstance(s, (str, bytes)) and s for s in old)):
        raise bad("old_secrets", "must be a list of non-empty secrets")
    audience = conf.get("audience")
    if audience is not None and (not isinstance(audience, str) or not audience):
        raise bad("audience", "must be a non-empty string")
    header = conf.get("header", HEADER)
    if not isinstance(header, str) or not header.lower().startswith("x-") or not all(
            c.isascii() and (c.isalnum() or c == "-") for c in header):
        raise bad("header", f"must be the proxy's token.header, an X- name of letters, digits and dashes, not {header!r}")
    leeway = conf.get("leeway", DEFAULT_LEEWAY)
    if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway < math.inf:
        raise bad("leeway", f"must be seconds >= 0, not {leeway!r}")
    optional = conf.get("optional", False)
    if not isinstance(optional, bool) and not callable(optional):
        raise bad("optional", f"must be True, False or a function of the request, not {optional!r}")
    try:
        verifier = Verifier(secret, old_secrets=list(old) if old is not None else None, jwks_url=jwks_url,
                            audience=audience, leeway=leeway)
    except (ValueError, TypeError, ImportError) as e:
        raise bad("jwks_url" if jwks_url else "secret", str(e)) from e
    return {"header": header, "optional": optional, "verifier": verifier}


def session_optional(view: F) -> F:
    """Let a view run without a valid token (no ``401``): there
    ``request.session.verified`` is False and the session is empty and
    read-only. For a class-based view, wrap ``View.as_view()``."""
    view._sessionproxy_optional = True  # type: ignore[attr-defined]
    return view


def force_login(jar: Any, user: Any, backend: Optional[str] = None) -> None:
    """Log ``user`` in to a :class:`sessionproxy.testing.SessionJar`, as
    Django's ``Client.force_login()`` does to its own sessions: the jar's
    session gets the keys ``django.contrib.auth.login()`` sets (under their
    stored names) and a new id. ``backend`` defaults to the first of
    ``AUTHENTICATION_BACKENDS``."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    from .testing import new_sid

    if backend is None:
        backend = settings.AUTHENTICATION_BACKENDS[0]
    auth = {
        SESSION_KEY: user._meta.pk.value_to_string(user),
        BACKEND_SESSION_KEY: backend,
        HASH_SESSION_KEY: user.get_session_auth_hash() if hasattr(user, "get_session_auth_hash") else "",
    }
    jar.data = {**jar.data, **_to_stored(auth)}
    jar.sid, jar.new = new_sid(), False
