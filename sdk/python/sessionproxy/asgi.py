"""The proxy's session for any ASGI app: Starlette's and FastAPI's ``request.session``.

::

    from fastapi import FastAPI, Request
    from sessionproxy.asgi import SessionProxyMiddleware, regenerate

    app = FastAPI()
    app.add_middleware(SessionProxyMiddleware, secret=os.environ["UPSTREAM_SECRET"])

    @app.get("/login")
    def login(request: Request):
        request.session["user"] = "jo"   # reaches the proxy as X-Session-Set
        regenerate(request)              # X-Session-Renew: a new id after a login
        return "ok"

The middleware is plain ASGI (it imports no framework): it puts the
session in ``scope["session"]``, where Starlette's ``Request.session``
(and so FastAPI's) reads it, in place of Starlette's own
``SessionMiddleware``. The session's changes are added to the headers of
the ``http.response.start`` message, however the response is made; after
that, changing the session raises :class:`~sessionproxy.SessionSealedError`,
and a nested change found when the body ends (or when the app returns) is
raised too, so a lost change is never silent.

Verifying a token against a JWKS may fetch it, which blocks: that runs in
a worker thread (``asyncio``'s default executor), never on the event loop.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Iterable, List, MutableMapping, Optional, Tuple, Union

from ._session import MaxAge, Session, SessionSealedError, is_directive
from ._token import DEFAULT_LEEWAY, InvalidToken, KeySetError, Verifier

__all__ = [
    "SessionProxyMiddleware",
    "ASGISession",
    "SCOPE_KEY",
    "ERROR_KEY",
    "get_session",
    "regenerate",
    "destroy",
    "destroy_others",
    "destroy_all",
    "set_max_age",
]

#: Where the session is in the ASGI scope: where Starlette's
#: ``Request.session`` and ``WebSocket.session`` read it.
SCOPE_KEY = "session"
#: Where the InvalidToken (or KeySetError) is, for a request let through
#: without a session.
ERROR_KEY = "sessionproxy.error"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_log = logging.getLogger("sessionproxy.asgi")


class ASGISession(Session):
    """The session in ``scope["session"]`` (``request.session``): a dict
    whose changes reach the proxy, with ``clear()`` (destroys, as
    ``destroy()``), ``destroy_others()``, ``destroy_all()``,
    ``regenerate()``, ``max_age`` (settable), ``id``, ``is_new``,
    ``claims`` and ``verified``."""

    _sealed_message = "http.response.start was already sent, so the session headers are written"

    def mark_accessed(self) -> None:
        """Called by Starlette's ``request.session``, as for its own
        session: the response then gets ``Vary: Cookie``."""
        self.accessed = True


class _WebSocketSession(ASGISession):
    """A WebSocket's session: read-only, since no response headers carry
    a change back to the proxy."""

    _sealed_message = ("a WebSocket's session is read-only: its handshake answer carries no session headers "
                       "to the proxy (change the session in an HTTP request)")

    def __init__(self, claims: Optional[Dict[str, Any]], header: str) -> None:
        super().__init__(claims, header)
        self._sealed = True


class SessionProxyMiddleware:
    """Wraps an ASGI app with the proxy's session: ``scope["session"]``,
    Starlette's and FastAPI's ``request.session``.

    ``app.add_middleware(SessionProxyMiddleware, secret=...)`` in
    Starlette or FastAPI, or ``SessionProxyMiddleware(app, secret=...)``
    around any ASGI app. The options are :class:`sessionproxy.wsgi.SessionMiddleware`'s:

    - ``secret``: the proxy's ``token.secret`` (HS256); empty is refused;
    - ``old_secrets``: a list of secrets the proxy signed with before
      ``token.secret`` was rotated: tokens they verify are accepted too
      (for ``token.ttl`` after the switch); ``secret`` is tried first;
    - ``jwks_url``: where the proxy's public keys are (EdDSA, ES256);
    - ``audience``: refuse tokens not made for this audience;
    - ``header``: the token's request header (default ``X-Session``), the
      proxy's ``token.header``; the directives are named after it;
    - ``leeway``: seconds of clock skew allowed on ``exp`` (default 5);
    - ``required``: True (default) answers ``401`` without a valid token
      (``503`` when the JWKS cannot be fetched: an outage); False, or a
      function of the scope returning False (``lambda scope:
      scope["path"] != "/healthz"``), lets the request through with an
      empty, read-only session (``verified`` False) and the
      :class:`~sessionproxy.InvalidToken` (or
      :class:`~sessionproxy.KeySetError`) in ``scope["sessionproxy.error"]``;
    - ``verifier``: a :class:`~sessionproxy.Verifier` to share instead.

    ``lifespan`` (and any other non-HTTP) scopes pass through untouched.
    A WebSocket gets the session read-only (changing it raises
    :class:`~sessionproxy.SessionSealedError`); without a valid token, when
    required, its handshake is refused: ``401`` (``503``) where the server
    offers the ASGI ``websocket.http.response`` extension, else a close
    before accepting (code 1008; 1013 for an outage), which servers answer
    with ``403``.
    """

    def __init__(
        self,
        app: ASGIApp,
        secret: Union[str, bytes, None] = None,
        *,
        old_secrets: Optional[Iterable[Union[str, bytes]]] = None,
        jwks_url: Optional[str] = None,
        audience: Optional[str] = None,
        header: str = "X-Session",
        leeway: float = DEFAULT_LEEWAY,
        required: Union[bool, Callable[[Scope], bool]] = True,
        verifier: Optional[Verifier] = None,
    ) -> None:
        self.app = app
        self.verifier = verifier or Verifier(secret, old_secrets=old_secrets, jwks_url=jwks_url,
                                             audience=audience, leeway=leeway)
        self.header = header
        self._header_name = header.lower().encode("latin-1")
        self.required = required

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        try:
            claims = await self._verify(self._token(scope))
        except (InvalidToken, KeySetError) as e:
            required = self.required(scope) if callable(self.required) else self.required
            if required:
                await self._refuse(scope, receive, send, e)
                return
            scope[SCOPE_KEY] = (_WebSocketSession if kind == "websocket" else ASGISession)(None, self.header)
            scope[ERROR_KEY] = e
            await self.app(scope, receive, send)
            return

        if kind == "websocket":
            scope[SCOPE_KEY] = _WebSocketSession(claims, self.header)

            async def websocket_send(message: Message) -> None:
                # The proxy applies directives on the handshake's answer
                # too: the session, read-only, sends none, and the app's
                # own are dropped, as on an HTTP response.
                if message["type"] in ("websocket.accept", "websocket.http.response.start") and "headers" in message:
                    message = dict(message, headers=[(k, v) for k, v in message["headers"]
                                                     if not is_directive(k.decode("latin-1"), self.header)])
                await send(message)

            await self.app(scope, receive, websocket_send)
            return

        session = ASGISession(claims, self.header)
        scope[SCOPE_KEY] = session

        async def session_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not session._sealed:
                headers = [(k, v) for k, v in message.get("headers", ())
                           if not is_directive(k.decode("latin-1"), self.header)]
                if session.accessed:
                    headers = _vary_cookie(headers)
                for name, value in session.seal():
                    headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
                message = dict(message, headers=headers)
            elif _body_ends(message):
                _check_late_change(session, "in the response body, after its headers were sent")
            await send(message)

        await self.app(scope, receive, session_send)
        # A change made after the body ended (a background task) cannot
        # reach the proxy: raised, so that the server logs it.
        _check_late_change(session, "after the response was sent")

    def _token(self, scope: Scope) -> Optional[bytes]:
        values = [v for k, v in scope.get("headers", ()) if k.lower() == self._header_name]
        if not values:
            return None
        # Twice is not a token (a WSGI server joins the two the same way).
        return b",".join(values)

    async def _verify(self, token: Optional[bytes]) -> Dict[str, Any]:
        if getattr(self.verifier, "keyset", True) is None:
            return self.verifier.verify(token)  # HS256 only: a few microseconds of CPU, never I/O
        # A JWKS fetch (the first, an unknown kid) blocks for up to its
        # timeout: not on the event loop.
        return await asyncio.get_running_loop().run_in_executor(None, self.verifier.verify, token)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        outage = isinstance(error, KeySetError)
        where = f"{scope['type']} {scope.get('path', '')}"
        if outage:
            # An outage, not a bad token: 503, which is retried, as the Go
            # and Node libraries answer it.
            _log.error("sessionproxy: %s refused with 503: %s", where, error)
            status, body = 503, b"503 Service Unavailable: the session keys are unavailable\n"
        else:
            _log.info("sessionproxy: %s refused with 401: %s", where, error)
            status, body = 401, b"401 Unauthorized: no valid session token\n"
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        message = await receive()  # websocket.connect, before any answer
        if message["type"] != "websocket.connect":
            return  # the client is gone
        if "websocket.http.response" in (scope.get("extensions") or {}):
            await send({"type": "websocket.http.response.start", "status": status, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1013 if outage else 1008})


def _body_ends(message: Message) -> bool:
    kind = message["type"]
    return (kind == "http.response.body" and not message.get("more_body", False)) \
        or kind == "http.response.pathsend"


def _check_late_change(session: Session, when: str) -> None:
    if session.changed_since_sealed():
        raise SessionSealedError(f"sessionproxy: the session changed {when}; the change is lost")


def _vary_cookie(headers: List[Tuple[bytes, bytes]]) -> List[Tuple[bytes, bytes]]:
    """headers with Cookie in its Vary, as a response that read the
    session depends on the cookie (Starlette's SessionMiddleware does so)."""
    for name, value in headers:
        if name.lower() == b"vary":
            fields = {f.strip().lower() for f in value.split(b",")}
            if b"cookie" in fields or b"*" in fields:
                return headers
    return headers + [(b"vary", b"Cookie")]


def get_session(conn: Any) -> ASGISession:
    """The session of a request: ``conn`` is Starlette's or FastAPI's
    ``Request`` (or ``WebSocket``), or the ASGI scope itself.
    RuntimeError when :class:`SessionProxyMiddleware` is not installed."""
    scope = conn if isinstance(conn, MutableMapping) else getattr(conn, "scope", None)
    session = scope.get(SCOPE_KEY) if isinstance(scope, MutableMapping) else None
    if not isinstance(session, ASGISession):
        raise RuntimeError("sessionproxy: SessionProxyMiddleware is not installed on this app "
                           "(pass the request, or its scope)")
    return session


def regenerate(conn: Any) -> None:
    """Renew the session id, keeping the data (X-Session-Renew). Call it
    after a login, against session fixation."""
    get_session(conn).regenerate()


def destroy(conn: Any) -> None:
    """Drop the session (X-Session-Destroy); same as ``request.session.clear()``."""
    get_session(conn).clear()


def destroy_others(conn: Any) -> None:
    """End the user's other sessions, keeping this one ("log out my other
    devices"; X-Session-Destroy: others). Needs the proxy's
    session.userKey."""
    get_session(conn).destroy_others()


def destroy_all(conn: Any) -> None:
    """End this session and the user's others ("log out everywhere";
    X-Session-Destroy: all). Needs the proxy's session.userKey."""
    get_session(conn).destroy_all()


def set_max_age(conn: Any, value: MaxAge) -> None:
    """This session's own lifetime: milliseconds, or ``"session"`` for a
    cookie that ends with the browser session (X-Session-Max-Age):
    "remember me"."""
    get_session(conn).max_age = value
