"""Flask's own ``flask.session``, backed by sessionproxy.

::

    from flask import Flask, session
    from sessionproxy.flask import SessionProxy, regenerate

    app = Flask(__name__)
    SessionProxy(app, secret=os.environ["UPSTREAM_SECRET"])

    @app.get("/login")
    def login():
        session["user"] = "jo"   # reaches the proxy as X-Session-Set
        regenerate()             # X-Session-Renew: a new id after a login
        return "ok"

A request without a valid token is answered ``401`` before any view runs,
unless the view is decorated with :func:`session_optional` (or the whole
app built with ``required=False``); there ``session.verified`` is False,
the session is empty, and changing it raises ``RuntimeError``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, TypeVar, Union

from flask import Flask, abort, current_app, request
from flask import session as _session
from flask.globals import request_ctx
from flask.sessions import SessionInterface, SessionMixin

from ._session import MaxAge, Session, is_directive
from ._token import DEFAULT_LEEWAY, InvalidToken, KeySetError, Verifier, _old_secrets
from .wsgi import _Watched

__all__ = [
    "SessionProxy",
    "ProxySession",
    "ProxySessionInterface",
    "session_optional",
    "get_session",
    "regenerate",
    "destroy",
    "destroy_others",
    "destroy_all",
    "set_max_age",
]

F = TypeVar("F", bound=Callable[..., Any])


class ProxySession(Session, SessionMixin):
    """What ``flask.session`` is under :class:`SessionProxy`: a dict whose
    changes reach the proxy, plus ``id`` (the ``sid``), ``new`` /
    ``is_new``, ``claims``, ``verified``, ``regenerate()``, ``destroy()``,
    ``destroy_others()``, ``destroy_all()`` and ``max_age``. ``clear()``
    destroys the session.

    ``permanent = False`` asks for a browser-session cookie
    (``max_age = "session"``); ``permanent = True`` for the app's
    ``PERMANENT_SESSION_LIFETIME``, as Flask's own session does.
    """

    _sealed_message = "Flask already wrote this response's session headers (save_session ran)"
    _watched = False  # the streamed body checks for late changes itself

    def __init__(self, claims: Optional[Mapping[str, Any]], permanent_ms: int = 0,
                 error: Optional[Exception] = None, header: str = "X-Session") -> None:
        Session.__init__(self, claims, header)
        self.error = error
        self._permanent_ms = permanent_ms

    @property  # type: ignore[override]
    def new(self) -> bool:
        """Flask's name for :attr:`is_new`. A property, so that reading it
        marks the session accessed (``Vary: Cookie``) on Flask before
        3.1.3 too, where ``flask.session`` itself does not."""
        return self.is_new

    @property  # type: ignore[override]
    def permanent(self) -> bool:
        return self._max_age is not None and self._max_age != "session"

    @permanent.setter
    def permanent(self, value: bool) -> None:
        self.max_age = self._permanent_ms if value else "session"


class ProxySessionInterface(SessionInterface):
    """Opens the session from the token and writes its directives in
    ``save_session``, which Flask calls before the headers go out."""

    def __init__(self, verifier: Verifier, header: str = "X-Session") -> None:
        self.verifier = verifier
        self.header = header

    def open_session(self, app: Flask, request: Any) -> ProxySession:
        permanent_ms = int(app.permanent_session_lifetime.total_seconds() * 1000)
        try:
            claims = self.verifier.verify(request.headers.get(self.header))
        except (InvalidToken, KeySetError) as e:
            # A KeySetError (the JWKS is down) is answered 503 by
            # _require_session; a view that runs without a session runs.
            return ProxySession(None, permanent_ms, error=e, header=self.header)
        return ProxySession(claims, permanent_ms, header=self.header)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if not isinstance(session, ProxySession):
            return
        if session.accessed:
            # The response depends on the session, so on the cookie: a
            # shared cache must not hand it to another visitor.
            response.vary.add("Cookie")
        if not session.verified or session._sealed:
            return
        headers = session.directives()
        if headers and session is not _quiet_session():
            # Not the request's own session: the test client's
            # session_transaction(), whose response is thrown away.
            raise RuntimeError(
                "sessionproxy: these session changes cannot reach the proxy: the session is not this "
                "request's own (the test client's session_transaction()?). In tests, send the session "
                "with sessionproxy.testing.headers(SECRET, {...}) or a SessionJar")
        for name in {n for n in response.headers.keys() if is_directive(n, self.header)}:
            del response.headers[name]
        for name, value in session.seal():
            response.headers.add(name, value)
        if response.is_streamed and not response.direct_passthrough:
            # A generator body runs after this, and after teardown unless
            # the view used stream_with_context: a change made there
            # raises from the body, as with the WSGI middleware. (A file
            # from send_file runs no app code and keeps its sendfile.)
            response.response = _Watched(response.response, session,
                                         "in the streamed body, after its headers were sent")
            session._watched = True


class SessionProxy:
    """Installs the proxy's session as Flask's ``flask.session``.

    ``SessionProxy(app, secret=...)``, or ``ext = SessionProxy(secret=...)``
    then ``ext.init_app(app)``. Options left None are read from the app's
    config at ``init_app``: ``SESSIONPROXY_SECRET``,
    ``SESSIONPROXY_OLD_SECRETS``, ``SESSIONPROXY_JWKS_URL``,
    ``SESSIONPROXY_AUDIENCE``. An empty secret (or old secret) raises
    ``ValueError``.

    - ``secret``: the proxy's ``token.secret`` (HS256);
    - ``old_secrets``: a list of secrets the proxy signed with before
      ``token.secret`` was rotated: tokens they verify are accepted too
      (for ``token.ttl`` after the switch); ``secret`` is tried first;
    - ``jwks_url``: where the proxy's public keys are (EdDSA, ES256);
    - ``audience``: refuse tokens not made for this audience;
    - ``header``: the token's request header (default ``X-Session``), the
      proxy's ``token.header``; the directives are named after it;
    - ``leeway``: seconds of clock skew allowed on ``exp`` (default 5);
    - ``required``: answer ``401`` when the token is missing or invalid,
      ``503`` when the JWKS cannot be fetched (default True); per view,
      :func:`session_optional` lets a view run without a session;
    - ``verifier``: a :class:`~sessionproxy.Verifier` to share instead.
    """

    def __init__(
        self,
        app: Optional[Flask] = None,
        secret: Union[str, bytes, None] = None,
        *,
        old_secrets: Optional[Iterable[Union[str, bytes]]] = None,
        jwks_url: Optional[str] = None,
        audience: Optional[str] = None,
        header: str = "X-Session",
        leeway: float = DEFAULT_LEEWAY,
        required: bool = True,
        verifier: Optional[Verifier] = None,
    ) -> None:
        if secret is not None and len(secret) == 0:
            raise ValueError("sessionproxy: the secret is empty; pass token.secret of the proxy")
        self.secret = secret
        self.old_secrets = _old_secrets(old_secrets) if old_secrets is not None else None
        self.jwks_url = jwks_url
        self.audience = audience
        self.header = header
        self.leeway = leeway
        self.required = required
        self.verifier = verifier
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        verifier = self.verifier
        if verifier is None:
            verifier = Verifier(
                self.secret if self.secret is not None else app.config.get("SESSIONPROXY_SECRET"),
                old_secrets=self.old_secrets if self.old_secrets is not None
                else app.config.get("SESSIONPROXY_OLD_SECRETS"),
                jwks_url=self.jwks_url or app.config.get("SESSIONPROXY_JWKS_URL"),
                audience=self.audience or app.config.get("SESSIONPROXY_AUDIENCE"),
                leeway=self.leeway,
            )
        app.session_interface = ProxySessionInterface(verifier, self.header)
        app.extensions["sessionproxy"] = self
        # First, so no other hook runs for a request the proxy did not send.
        app.before_request_funcs.setdefault(None, []).insert(0, self._require_session)
        app.teardown_request(_check_late_changes)

    def _require_session(self) -> None:
        s = _quiet_session()
        if not isinstance(s, ProxySession) or s.verified:
            return
        view = current_app.view_functions.get(request.endpoint or "")
        if not self.required or getattr(view, "_sessionproxy_optional", False):
            return
        if isinstance(s.error, KeySetError):
            # An outage, not a bad token: 503, which is retried, as the Go
            # and Node libraries answer it.
            current_app.logger.error("sessionproxy: %s %s refused with 503: %s", request.method, request.path, s.error)
            abort(503)
        current_app.logger.info("sessionproxy: %s %s refused with 401: %s", request.method, request.path, s.error)
        abort(401)


def _check_late_changes(_exc: Optional[BaseException]) -> None:
    """A change made after save_session outside a streamed body (which
    checks itself), say in a teardown_request hook, never reaches the
    proxy: say so loudly, since nothing else can."""
    s = _quiet_session()
    if isinstance(s, ProxySession) and not s._watched and s.changed_since_sealed():
        current_app.logger.error(
            "sessionproxy: the session changed after its headers were sent (%s %s); the change is lost",
            request.method, request.path)


def _quiet_session() -> Any:
    """The request's session, for the library's own look, or None when it
    was not opened (open_session raised): since Flask 3.1.3 reaching it
    through ``flask.session`` marks it accessed (and the response ``Vary:
    Cookie``), which is for the app's reads only, and asserts that it was
    opened, which would turn the teardown of a failed request into a
    second error."""
    ctx = request_ctx._get_current_object()
    if isinstance(getattr(type(ctx), "session", None), property):
        return ctx._session  # Flask 3.1.3+: the property marks it accessed
    return ctx.session  # before, a plain attribute


def session_optional(view: F) -> F:
    """Let a view run without a valid token (no ``401``): there
    ``session.verified`` is False and the session is empty and read-only."""
    view._sessionproxy_optional = True  # type: ignore[attr-defined]
    return view


def get_session() -> ProxySession:
    """The current request's session, or RuntimeError when
    :class:`SessionProxy` is not installed on the app."""
    s = _session._get_current_object()
    if not isinstance(s, ProxySession):
        raise RuntimeError("sessionproxy: SessionProxy(app) is not installed on this Flask app")
    return s


def regenerate() -> None:
    """Renew the session id, keeping the data (X-Session-Renew). Call it
    after a login, against session fixation."""
    get_session().regenerate()


def destroy() -> None:
    """Drop the session (X-Session-Destroy); same as ``session.clear()``."""
    get_session().clear()


def destroy_others() -> None:
    """End the user's other sessions, keeping this one ("log out my other
    devices"; X-Session-Destroy: others). Needs the proxy's
    session.userKey."""
    get_session().destroy_others()


def destroy_all() -> None:
    """End this session and the user's others ("log out everywhere";
    X-Session-Destroy: all). Needs the proxy's session.userKey."""
    get_session().destroy_all()


def set_max_age(value: MaxAge) -> None:
    """This session's own lifetime: milliseconds, or ``"session"`` for a
    cookie that ends with the browser session (X-Session-Max-Age)."""
    get_session().max_age = value
