"""The session an app sees, and the directives that carry its changes back.

The session is a dict. At response time the library sends the smallest
RFC 7396 merge patch from the session the request arrived with to the
session as it is then, so two requests in flight on one session that
change different keys both survive at the proxy.
"""
from __future__ import annotations

import copy
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

__all__ = ["Session", "diff", "merge_patch", "SessionSealedError", "ReservedKeyError", "MaxAge", "PRIVATE_PREFIX"]

MaxAge = Union[int, str]

#: The token's request header; the directives are named after it
#: (X-Session-Set, X-Session-Destroy, X-Session-Renew, X-Session-Max-Age),
#: as the proxy's token.header names both.
HEADER = "X-Session"

_MAX_AGE_LIMIT = 100 * 365 * 24 * 3600 * 1000  # the proxy's own bound, in ms


class SessionSealedError(RuntimeError):
    """The session changed after its directives were written: the change
    cannot reach the proxy any more."""


#: Where the app's top-level keys that start with "_" are kept. The proxy
#: reserves "_" keys for its own bookkeeping (as koa-session does) and
#: answers 502 to a change that names one, while Flask's flash() keeps
#: "_flashes" and Flask-Login "_user_id": so "_flashes" is stored as
#: "python:_flashes" and read back as "_flashes", and Flask's own features
#: work unchanged. Another language's app sees the stored name.
PRIVATE_PREFIX = "python:"


class ReservedKeyError(KeyError):
    """A top-level session key starting with "python:_": that is where the
    library stores the app's "_" keys, so setting one by that name would
    alias another."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key

    def __str__(self) -> str:
        return (f"sessionproxy: session key {self.key!r} is reserved: the library stores the app's "
                f"'_' keys as {PRIVATE_PREFIX!r} + key (set {self.key[len(PRIVATE_PREFIX):]!r} instead)")


def _check_keys(keys: Any) -> None:
    for k in keys:
        if isinstance(k, str) and k.startswith(PRIVATE_PREFIX + "_"):
            raise ReservedKeyError(k)


def _from_stored(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The session as the app sees it: "python:_x" as "_x". A bare "_"
    key (the proxy's own; it never sends one) is left out."""
    out: Dict[str, Any] = {}
    for k, v in data.items():
        if k.startswith(PRIVATE_PREFIX + "_"):
            out[k[len(PRIVATE_PREFIX):]] = v
        elif not k.startswith("_"):
            out[k] = v
    return out


def _to_stored(data: Mapping[str, Any]) -> Dict[str, Any]:
    """The session as the proxy keeps it: "_x" as "python:_x"."""
    return {(PRIVATE_PREFIX + k if k.startswith("_") else k): v for k, v in data.items()}


def _same(a: Any, b: Any) -> bool:
    """JSON equality: True is not 1, 1 is 1.0, objects by key."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if type(a) in (dict, list) or type(b) in (dict, list):
        return False
    return a == b


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the smallest merge patch that turns before into after.

    Only changed keys; a removed key as None; nested objects diffed key by
    key; arrays and scalars replaced whole. An empty dict means no change.
    An object member that is None on both sides, or None before and gone
    after, is no change: a merge patch reads it as absent (the proxy may
    hold one a Koa app wrote). Both sides must be plain JSON values (dict,
    list, str, int, float, bool, None).
    """
    patch: Dict[str, Any] = {}
    for k in before:
        if (k not in after or after[k] is None) and before[k] is not None:
            patch[k] = None
    for k, v in after.items():
        if v is None:
            continue  # a None value deletes, as in a merge patch
        if k not in before:
            patch[k] = _strip_none(v)
        elif isinstance(before[k], dict) and isinstance(v, dict):
            sub = diff(before[k], v)
            if sub:
                patch[k] = sub
        elif not _same(before[k], v):
            patch[k] = _strip_none(v)
    return patch


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply an RFC 7396 merge patch and return the result (a new value)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def _strip_none(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_none(x) for k, x in v.items() if x is not None}
    return v


def _to_json(v: Any) -> Any:
    """The session as JSON would carry it: tuples become lists, keys
    strings; a value JSON cannot hold raises TypeError. Infinities pass:
    Python's json reads a number past the float range (1e400, which the
    proxy keeps as written) as one, and an unchanged one must be no
    change; one that is sent raises ValueError in _dumps."""
    return json.loads(json.dumps(v))


def _dumps(v: Any) -> str:
    # ASCII only: a header value must be Latin-1, and \\u escapes are JSON.
    return json.dumps(v, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def _naming_key(convert: Any, data: Dict[str, Any]) -> Any:
    """convert(data), with a TypeError or ValueError that names the
    session key whose value JSON cannot carry: json's own message ("Object
    of type datetime is not JSON serializable") does not say where."""
    try:
        return convert(data)
    except (TypeError, ValueError) as e:
        for k, v in data.items():
            try:
                convert({k: v})
            except (TypeError, ValueError):
                raise type(e)(
                    f"sessionproxy: session[{k!r}] cannot be sent to the proxy: {e}. The session holds "
                    "what JSON holds (dict, list, str, int, float, bool, None): store a datetime as "
                    "its .isoformat(), bytes as base64") from e
        raise


def check_max_age(value: Any) -> MaxAge:
    """Validate an X-Session-Max-Age: "session", or milliseconds from 1 to
    100 years, the proxy's range. A float (``td.total_seconds() * 1000``)
    is taken as whole milliseconds, a fraction dropped."""
    if value == "session":
        return "session"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= _MAX_AGE_LIMIT:
        raise ValueError(f'sessionproxy: max_age must be milliseconds from 1 to 100 years or "session", not {value!r}')
    return int(value)


_DIRECTIVE_SUFFIXES = ("-set", "-destroy", "-renew", "-max-age")


def is_directive(name: str, header: str = HEADER) -> bool:
    """Whether the response header ``name`` (any case) is one of the
    directives named after ``header``. The library writes those from the
    session; ones the app wrote by hand would undo or add to its changes,
    so every integration drops them."""
    n, h = name.lower(), header.lower()
    return n.startswith(h) and n[len(h):] in _DIRECTIVE_SUFFIXES


class SessionBase:
    """What the Flask and WSGI sessions share. Mixed into a dict subclass."""

    _sealed_message = "the session's directives were already written"

    def _init_session(self, claims: Optional[Mapping[str, Any]], header: str = HEADER) -> None:
        self._header = header
        self._claims: Dict[str, Any] = dict(claims) if claims is not None else {}
        self.verified = claims is not None
        self._before: Dict[str, Any] = _to_stored(_from_stored(copy.deepcopy(self._claims.get("sess") or {})))
        self._destroyed = False
        self._destroy_others = False
        self._renew = False
        self._max_age: Optional[MaxAge] = None
        self._sealed = False
        self._sent: Optional[Dict[str, Any]] = None  # the session as the directives left it
        #: True once the app read or changed the session: the response
        #: then depends on the cookie and gets ``Vary: Cookie``, as with
        #: Flask's and Django's own sessions.
        self.accessed = False

    # What the proxy said: reading it is reading the session.
    @property
    def claims(self) -> Dict[str, Any]:
        """The token's claims, as the proxy sent them."""
        self.accessed = True
        return self._claims

    @property
    def id(self) -> Optional[str]:
        """The session id (``sid``); None in the koa cookie format or without a token."""
        self.accessed = True
        return self._claims.get("sid")

    @property
    def is_new(self) -> bool:
        """True when the session did not exist before this request."""
        self.accessed = True
        return self._claims_new()

    def _claims_new(self) -> bool:
        return bool(self._claims.get("new", not self.verified))

    # What the app asks for.
    def _check_writable(self) -> None:
        if not self.verified:
            raise RuntimeError(
                "sessionproxy: this request has no session (no valid X-Session token); "
                "it cannot be changed")
        if self._sealed:
            raise SessionSealedError(f"sessionproxy: {self._sealed_message}; this change would be lost")

    def destroy(self) -> None:
        """Drop the session (X-Session-Destroy). A max age or renewal asked
        for before goes with it, as with koa-session's ``ctx.session =
        null`` and Flask's ``clear()``. Keys (and a max age) set afterwards
        start a new session with a new id. With :meth:`destroy_others` in
        the same request, in either order, the user's other sessions end
        too, as with :meth:`destroy_all`."""
        self._check_writable()
        self.accessed = True
        dict.clear(self)  # type: ignore[arg-type]
        self._destroyed = True
        self._max_age = None
        self._renew = False

    def destroy_others(self) -> None:
        """End every other session of this session's user ("log out my
        other devices"; X-Session-Destroy: others); this one stays, with
        its changes. The user is the one the session has after this
        request's changes, so a login can end the user's earlier
        sessions. Needs the proxy's session.userKey, or it answers 502."""
        self._check_writable()
        self.accessed = True
        self._destroy_others = True

    def destroy_all(self) -> None:
        """End this session as :meth:`destroy` does and every other session
        of its user ("log out everywhere"; X-Session-Destroy: all). Keys
        set afterwards start a new session. Needs the proxy's
        session.userKey, or it answers 502."""
        self.destroy()
        self._destroy_others = True

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data (X-Session-Renew).
        Call it after a login, against session fixation."""
        self._check_writable()
        self.accessed = True
        self._renew = True

    @property
    def max_age(self) -> Optional[MaxAge]:
        """This session's own lifetime: milliseconds, ``"session"`` (a
        browser-session cookie), or None (the proxy's default)."""
        return self._max_age

    @max_age.setter
    def max_age(self, value: MaxAge) -> None:
        value = check_max_age(value)
        self._check_writable()
        self.accessed = True
        self._max_age = value

    def directives(self) -> List[Tuple[str, str]]:
        """The response headers that carry this request's changes to the
        proxy; an empty list when nothing changed."""
        if not self.verified:
            return []
        after = _to_stored(_naming_key(_to_json, dict.copy(self)))  # type: ignore[call-overload]
        h = self._header
        out: List[Tuple[str, str]] = []
        if self._destroyed:
            out.append((h + "-Destroy", "all" if self._destroy_others else "true"))
            data = _strip_none(after)
            if data:
                out.append((h + "-Set", _naming_key(_dumps, data)))
        else:
            if self._destroy_others:
                out.append((h + "-Destroy", "others"))
            patch = diff(self._before, after)
            if patch:
                out.append((h + "-Set", _naming_key(_dumps, patch)))
            if self._renew:  # a destroyed session's successor gets a new id anyway
                out.append((h + "-Renew", "true"))
        if self._max_age is not None:
            out.append((h + "-Max-Age", str(self._max_age)))
        return out

    def seal(self) -> List[Tuple[str, str]]:
        """Return the directives and refuse any later change: the headers
        are on their way. Nested changes made later are caught by
        :meth:`changed_since_sealed`."""
        headers = self.directives()
        self._sealed = True
        if self.verified:
            self._sent = _to_json(dict.copy(self))  # type: ignore[call-overload]
        return headers

    def changed_since_sealed(self) -> bool:
        """True when the data differs from what the directives carried (a
        nested change made after the headers went out)."""
        if self._sent is None:
            return False
        try:
            now = _to_json(dict.copy(self))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return True
        return not _same(now, self._sent)


def _reader(name: str):
    base = getattr(dict, name)

    def method(self, *args, **kwargs):
        self.accessed = True
        return base(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


def _writer(name: str):
    base = getattr(dict, name)

    def method(self, *args, **kwargs):
        self._check_writable()
        self.modified = self.accessed = True
        return base(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = base.__doc__
    return method


class Session(SessionBase, dict):
    """A dict-like session backed by the proxy.

    ``session[k] = v``, ``del session[k]``, nested changes
    (``session["cart"].append(x)``) all reach the proxy as a merge patch;
    setting a key to None deletes it. ``clear()`` and ``destroy()`` drop
    the session; ``destroy_others()`` ends the user's other sessions,
    ``destroy_all()`` all of them; ``regenerate()`` renews its id;
    ``max_age`` sets its lifetime. ``id``, ``is_new`` and ``claims`` tell what the proxy sent.
    """

    def __init__(self, claims: Optional[Mapping[str, Any]] = None, header: str = HEADER) -> None:
        dict.__init__(self, _from_stored(copy.deepcopy((claims or {}).get("sess") or {})))
        self._init_session(claims, header)
        self.modified = False

    # Reads mark the session accessed (a response that read it gets
    # Vary: Cookie); the library's own reads go through dict's methods.
    __getitem__ = _reader("__getitem__")
    __contains__ = _reader("__contains__")
    __iter__ = _reader("__iter__")
    __len__ = _reader("__len__")
    get = _reader("get")
    keys = _reader("keys")
    values = _reader("values")
    items = _reader("items")
    copy = _reader("copy")

    def __setitem__(self, key: str, value: Any) -> None:
        _check_keys((key,))
        self._check_writable()
        self.modified = self.accessed = True
        if value is None:  # None deletes, as in a merge patch
            dict.pop(self, key, None)
        else:
            dict.__setitem__(self, key, value)

    _delitem = _writer("__delitem__")
    _pop = _writer("pop")
    _setdefault = _writer("setdefault")

    def __delitem__(self, key: str) -> None:
        _check_keys((key,))
        self._delitem(key)

    def pop(self, key: str, *default: Any) -> Any:
        _check_keys((key,))
        if default and not dict.__contains__(self, key):
            self.accessed = True
            return default[0]  # nothing removed: a read, as for Flask's session
        return self._pop(key, *default)

    def popitem(self) -> Tuple[str, Any]:
        self._check_writable()
        self.modified = self.accessed = True
        return dict.popitem(self)  # every key the session holds is the app's to remove

    def setdefault(self, key: str, default: Any = None) -> Any:
        if dict.__contains__(self, key):
            self.accessed = True
            return dict.__getitem__(self, key)  # nothing set: a read, as for Flask's session
        _check_keys((key,))
        return self._setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        new = dict(*args, **kwargs)
        _check_keys(new)
        self._check_writable()
        for k, v in new.items():
            self[k] = v  # None deletes, as session[k] = None does

    def __ior__(self, other: Any) -> "Session":
        self.update(other)
        return self

    def clear(self) -> None:
        """Destroy the session, like koa-session's ``ctx.session = null``."""
        self.destroy()
        self.modified = True

    def destroy_all(self) -> None:
        super().destroy_all()
        self.modified = True

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {dict.__repr__(self)}>"
