"""Verify sessionproxy's X-Session token with nothing but the standard library.

The token is a JWT signed HS256 with token.secret. Any JWT library does
this too (PyJWT: jwt.decode(tok, secret, algorithms=["HS256"], issuer="sessionproxy")).
"""
import base64
import hashlib
import hmac
import json
import time


def _b64(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def verify(token, secret):
    """Return the token's claims, or raise ValueError if it is not genuine."""
    try:
        header, payload, signature = token.split(".")
    except (AttributeError, ValueError):
        raise ValueError("not a JWT")
    if json.loads(_b64(header)).get("alg") != "HS256":
        raise ValueError("unexpected algorithm")
    expected = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64(signature)):
        raise ValueError("bad signature")
    claims = json.loads(_b64(payload))
    if claims.get("iss") != "sessionproxy" or claims.get("exp", 0) < time.time():
        raise ValueError("expired or not from sessionproxy")
    return claims  # {"sid": ..., "sess": {...}, "new": bool, "iat": ..., "exp": ...}
