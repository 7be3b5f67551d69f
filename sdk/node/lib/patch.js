'use strict';
// The smallest RFC 7396 merge patch between two sessions, and the
// X-Session-* response headers that carry it to the proxy.

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function deepEqual(a, b) {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !deepEqual(a[k], b[k])) return false;
  return true;
}

// put sets obj[k] as an own data member, even for "__proto__", which
// plain assignment would take as the object's prototype.
function put(obj, k, v) {
  Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
}

// stripNulls is what a merge patch leaves of value when applied to
// nothing: members set to null inside objects are absent. Arrays are
// stored whole, so a null in one is data and stays.
function stripNulls(value) {
  if (!isObject(value)) return value;
  const out = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) put(out, k, stripNulls(v));
  return out;
}

/**
 * mergePatch returns the smallest RFC 7396 merge patch turning before into
 * after (both JSON objects): only changed members, removed ones as null,
 * nested objects diffed, arrays and scalars replaced whole. A member that
 * is null counts as absent, on either side: a null the session arrived
 * with (a Koa app can store one) is no change. Returns null when nothing
 * changed.
 */
function mergePatch(before, after) {
  const patch = {};
  let changed = false;
  for (const k of Object.keys(before)) {
    if ((!Object.hasOwn(after, k) || after[k] === null) && before[k] !== null) {
      put(patch, k, null);
      changed = true;
    }
  }
  for (const [k, a] of Object.entries(after)) {
    if (a === null) continue;
    const b = Object.hasOwn(before, k) ? before[k] : null;
    if (b === null) {
      put(patch, k, stripNulls(a));
      changed = true;
    } else if (isObject(a) && isObject(b)) {
      const sub = mergePatch(b, a);
      if (sub !== null) {
        put(patch, k, sub);
        changed = true;
      }
    } else if (!deepEqual(a, b)) {
      put(patch, k, stripNulls(a));
      changed = true;
    }
  }
  return changed ? patch : null;
}

/**
 * headerJSON is JSON.stringify with every character outside printable
 * ASCII escaped as \uXXXX, so the text survives as an HTTP header value
 * (Node refuses characters above U+00FF and sends U+0080..U+00FF as Latin-1).
 */
function headerJSON(value) {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

module.exports = { mergePatch, deepEqual, headerJSON, isObject };
