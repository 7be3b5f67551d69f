"""sessionproxy's app-side library: the proxy's session in your framework.

sessionproxy owns the session cookie and hands the session to the app as a
signed JWT in the ``X-Session`` request header; the app changes it with
``X-Session-*`` response headers. This package verifies the token and
writes those headers for you:

- :func:`verify` / :class:`Verifier`: the token's claims, or
  :class:`InvalidToken` naming the reason;
- :mod:`sessionproxy.flask`: Flask's own ``flask.session``, backed by the proxy;
- :mod:`sessionproxy.django`: Django's own ``request.session``, backed by the proxy;
- :mod:`sessionproxy.wsgi`: a middleware for any WSGI app;
- :mod:`sessionproxy.asgi`: a middleware for any ASGI app, Starlette's
  and FastAPI's ``request.session``;
- :mod:`sessionproxy.testing`: tokens for unit tests, without the proxy.
"""
from ._session import ReservedKeyError, Session, SessionSealedError, diff, merge_patch
from ._token import DEFAULT_LEEWAY, ISSUER, InvalidToken, KeySetError, Verifier, verify

__all__ = [
    "DEFAULT_LEEWAY",
    "ISSUER",
    "InvalidToken",
    "KeySetError",
    "ReservedKeyError",
    "Session",
    "SessionSealedError",
    "Verifier",
    "diff",
    "merge_patch",
    "verify",
]

__version__ = "0.1.0"
