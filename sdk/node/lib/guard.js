'use strict';
// guarded wraps a session object so that setting or deleting a member once
// the response headers are out throws a LateChangeError, instead of a
// change that silently never reaches the proxy.

function guarded(target, state, name) {
  const check = (k) => state.guard(name + '.' + String(k) + ' changed');
  return new Proxy(target, {
    set(t, k, v, receiver) {
      check(k);
      return Reflect.set(t, k, v, receiver);
    },
    deleteProperty(t, k) {
      check(k);
      return Reflect.deleteProperty(t, k);
    },
    defineProperty(t, k, d) {
      check(k);
      return Reflect.defineProperty(t, k, d);
    },
  });
}

// callback runs cb(err) on a later tick, as a session store would; with
// no cb, an error is thrown (or the promise rejected, where one is
// returned) so that it is never lost.
function settle(cb, err) {
  if (typeof cb === 'function') {
    process.nextTick(cb, err || undefined);
    return undefined;
  }
  if (err) throw err;
  return undefined;
}

// isOptional evaluates the optional option (a boolean or a predicate).
function isOptional(optional, arg) {
  return typeof optional === 'function' ? !!optional(arg) : !!optional;
}

module.exports = { guarded, settle, isOptional };
