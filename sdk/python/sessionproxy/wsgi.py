"""The proxy's session for any WSGI app (Bottle, Pyramid, plain WSGI; for
Django's own ``request.session``, :mod:`sessionproxy.django`).

::

    from sessionproxy.wsgi import SessionMiddleware

    app = SessionMiddleware(app, secret=os.environ["UPSTREAM_SECRET"])

    def app(environ, start_response):          # inside the app
        session = environ["sessionproxy.session"]
        session["views"] = session.get("views", 0) + 1
        ...

The session's changes are written as headers when the app calls
``start_response``: after that, changing the session raises
:class:`~sessionproxy.SessionSealedError`, and a nested change found when
the body ends raises it from the response iterator, so a lost change is
never silent.
"""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from ._session import Session, SessionSealedError, is_directive
from ._token import DEFAULT_LEEWAY, InvalidToken, KeySetError, Verifier

__all__ = ["SessionMiddleware", "WSGISession", "ENVIRON_KEY", "ERROR_KEY"]

#: Where the session is in the WSGI environ.
ENVIRON_KEY = "sessionproxy.session"
#: Where the InvalidToken (or KeySetError) is, for a request let through
#: without a session.
ERROR_KEY = "sessionproxy.error"

StartResponse = Callable[..., Any]
WSGIApp = Callable[[Dict[str, Any], StartResponse], Iterable[bytes]]


class WSGISession(Session):
    """The session in ``environ["sessionproxy.session"]``: a dict whose
    changes reach the proxy, with ``destroy()`` (also ``clear()``),
    ``destroy_others()``, ``destroy_all()``, ``regenerate()``,
    ``max_age`` (settable), ``id``, ``is_new``, ``claims`` and
    ``verified``."""

    _sealed_message = "start_response was already called, so the session headers are written"


class SessionMiddleware:
    """Wraps a WSGI app with the proxy's session.

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
      (``503`` when the JWKS cannot be fetched: an outage);
      False, or a function of the environ returning False, lets the request
      through with an empty, read-only session (``verified`` False) and the
      :class:`~sessionproxy.InvalidToken` (or
      :class:`~sessionproxy.KeySetError`) in ``environ["sessionproxy.error"]``;
    - ``verifier``: a :class:`~sessionproxy.Verifier` to share instead.
    """

    def __init__(
        self,
        app: WSGIApp,
        secret: Union[str, bytes, None] = None,
        *,
        old_secrets: Optional[Iterable[Union[str, bytes]]] = None,
        jwks_url: Optional[str] = None,
        audience: Optional[str] = None,
        header: str = "X-Session",
        leeway: float = DEFAULT_LEEWAY,
        required: Union[bool, Callable[[Dict[str, Any]], bool]] = True,
        verifier: Optional[Verifier] = None,
    ) -> None:
        self.app = app
        self.verifier = verifier or Verifier(secret, old_secrets=old_secrets, jwks_url=jwks_url,
                                             audience=audience, leeway=leeway)
        self.header = header
        self.environ_header = "HTTP_" + header.upper().replace("-", "_")
        self.required = required

    def __call__(self, environ: Dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            claims = self.verifier.verify(environ.get(self.environ_header))
        except (InvalidToken, KeySetError) as e:
            required = self.required(environ) if callable(self.required) else self.required
            if required and isinstance(e, KeySetError):
                return _unavailable(start_response)  # an outage, not a bad token
            if required:
                return _unauthorized(start_response)
            environ[ENVIRON_KEY] = WSGISession(None, self.header)
            environ[ERROR_KEY] = e
            return self.app(environ, start_response)

        session = WSGISession(claims, self.header)
        environ[ENVIRON_KEY] = session
        written: List[Tuple[str, str]] = []

        def session_start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Any:
            if not session._sealed:
                if session.accessed:
                    headers = _vary_cookie(headers)
                written.extend(session.seal())
            headers = [(k, v) for k, v in headers if not is_directive(k, self.header)]
            if exc_info is None:  # as the app called it: some servers take two arguments
                return start_response(status, list(headers) + written)
            return start_response(status, list(headers) + written, exc_info)

        result = self.app(environ, session_start_response)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            # A file the server sends as it is (sendfile): no app code runs
            # after this, so the check for a change the headers missed is
            # complete here.
            if session.changed_since_sealed():
                result.close()
                raise SessionSealedError("sessionproxy: the session changed after start_response; the change is lost")
            return result
        return _Watched(result, session, "after start_response")


class _Watched:
    """A response body, passed through; when it ends, a change the headers
    did not carry raises :class:`~sessionproxy.SessionSealedError`, so a
    lost change is never silent. ``close()`` reaches the wrapped body's
    whether or not the server iterated it (PEP 3333), and makes the check
    when the body was not iterated to its end (a HEAD request, a client
    gone)."""

    def __init__(self, body: Iterable[bytes], session: Session, when: str) -> None:
        self._body = body
        self._session = session
        self._when = when
        self._checked = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._body
        self._check()

    def _check(self) -> None:
        if not self._checked:
            self._checked = True
            if self._session.changed_since_sealed():
                raise SessionSealedError(f"sessionproxy: the session changed {self._when}; the change is lost")

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._check()


def _vary_cookie(headers: List[Tuple[str, str]]) -> List[Tuple[str, str]]:
    """headers with Cookie in its Vary, as a response that read the
    session depends on the cookie (Django's SessionMiddleware does so)."""
    for name, value in headers:
        if name.lower() == "vary":
            fields = {f.strip().lower() for f in value.split(",")}
            if "cookie" in fields or "*" in fields:
                return list(headers)
    return list(headers) + [("Vary", "Cookie")]


def _unavailable(start_response: StartResponse) -> List[bytes]:
    """503 for a JWKS that cannot be fetched: an outage, which a load
    balancer retries, as the Go and Node libraries answer it."""
    body = b"503 Service Unavailable: the session keys are unavailable\n"
    start_response("503 Service Unavailable", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def _unauthorized(start_response: StartResponse) -> List[bytes]:
    body = b"401 Unauthorized: no valid session token\n"
    start_response("401 Unauthorized", [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(body))),
    ])
    return [body]
