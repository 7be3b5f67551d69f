'use strict';
// The framework-neutral part of a request's session: what it arrived as,
// what the app asked for (destroy, renew, max-age), and the directives
// that tell the proxy about it.

const { mergePatch, headerJSON, isObject } = require('./patch');

// directiveNames returns the response headers that carry the directives
// for the token's request header: the proxy's token.header names both
// (X-Session: X-Session-Set, X-Session-Destroy, ...).
function directiveNames(header = 'X-Session') {
  return { set: header + '-Set', destroy: header + '-Destroy', renew: header + '-Renew', maxAge: header + '-Max-Age' };
}

/**
 * LateChangeError reports a session change made after the response
 * headers, which carry the directives, were sent: the change is lost.
 */
class LateChangeError extends Error {
  constructor(what) {
    super('sessionproxy: ' + what + ' after the response headers were sent; the change cannot reach the proxy');
    this.name = 'LateChangeError';
  }
}

// plain returns the JSON data of a session: what JSON.stringify makes of
// it (dates as strings, undefined dropped), without the reserved
// top-level members that start with "_".
function plain(data) {
  const out = JSON.parse(JSON.stringify(data === undefined ? {} : data));
  if (!isObject(out)) return {};
  for (const k of Object.keys(out)) if (k[0] === '_') delete out[k];
  return out;
}

// MAX_MAX_AGE is the longest lifetime the proxy accepts, 100 years in ms.
const MAX_MAX_AGE = 100 * 365 * 24 * 3600 * 1000;

// checkMaxAge validates a per-session lifetime: 'session', or whole
// milliseconds (a fraction is dropped) from 1 to 100 years, the range the
// proxy accepts: outside it the proxy would answer the response with 502.
function checkMaxAge(v) {
  if (v === 'session') return v;
  if (typeof v === 'number' && v >= 1 && v <= MAX_MAX_AGE) return Math.floor(v);
  throw new TypeError('sessionproxy: maxAge must be milliseconds from 1 to 100 years, or "session", got ' + JSON.stringify(v));
}

class State {
  constructor(claims, header) {
    this.names = directiveNames(header);
    this.claims = claims;
    this.sid = typeof claims.sid === 'string' ? claims.sid : undefined;
    this.isNew = claims.new === true;
    this.arrived = plain(claims.sess);
    this.destroyed = false;
    this.others = false; // the user's other sessions end too (X-Session-Destroy: others, or all)
    this.regenerated = false; // destroyed by express-session's regenerate(): a renew, as far as others go
    this.renew = false;
    this.maxAge = undefined; // ms, 'session' or undefined (unchanged)
    this.maxAgeAfterDestroy = false; // set once the session was destroyed: it is the new session's
    this.sent = null; // the directives sent, once the headers are out
    this.failed = false; // the session could not be encoded: nothing was sent
    this.hidden = []; // arrival keys the framework's session object cannot hold (its own member names)
    // accessed is set once the app read or changed the session: the
    // response then depends on the cookie and gets Vary: Cookie. The
    // library's own reads do not set it.
    this.accessed = false;
  }

  // visible returns the arrival data without the keys named like members
  // of the framework's session object (length, cookie, save, ...): those
  // stay in the session untouched instead of being read as removed.
  visible(isMember) {
    const data = {};
    for (const [k, v] of Object.entries(this.arrived)) {
      if (isMember(k)) this.hidden.push(k);
      else data[k] = structuredClone(v);
    }
    return data;
  }

  // setMaxAge sets this session's own lifetime, already checked.
  setMaxAge(v) {
    this.maxAge = v;
    this.maxAgeAfterDestroy = this.destroyed;
  }

  // directives returns the X-Session-* headers for data (the session's
  // data at response time, null when destroyed with nothing new).
  //
  // The user's other sessions end with this one (all) when it was
  // destroyed, whichever came first. A session regenerated and filled
  // again goes as a renew with the whole change instead: the proxy reads
  // the user of "others" after the change, that of "all" before it, and
  // a login that ends the user's earlier sessions means the new user. One
  // regenerated and left empty is a destroy, as without destroyOthers():
  // "others" would name no user and end nothing.
  directives(data) {
    const n = this.names;
    const h = {};
    const now = data === null ? {} : plain(data);
    if (!this.destroyed) {
      for (const k of this.hidden) if (!Object.hasOwn(now, k)) now[k] = this.arrived[k];
    }
    const relogin = this.others && this.regenerated && Object.keys(now).length > 0;
    if (this.destroyed && !relogin) {
      h[n.destroy] = this.others ? 'all' : 'true';
      if (Object.keys(now).length > 0) h[n.set] = headerJSON(now);
      // A max age set after the destroy asks for a new session with it,
      // data or not (express-session saves a regenerated session with its
      // cookie); one set before goes with the destroyed session, as with
      // koa-session's ctx.session = null, unless new data follows.
      else if (!this.maxAgeAfterDestroy) return h;
    } else {
      const patch = mergePatch(this.arrived, now);
      if (patch !== null) h[n.set] = headerJSON(patch);
      if (this.others) h[n.destroy] = 'others';
      if (this.renew || this.destroyed) h[n.renew] = 'true';
    }
    if (this.maxAge !== undefined) h[n.maxAge] = String(this.maxAge);
    return h;
  }

  // commit writes the directives with setHeader (removing any the app
  // set by hand) and remembers them: a later change is an error. A
  // session that cannot be encoded (a BigInt, a cycle) throws, once: the
  // framework answers that error with a 500, which goes out without
  // directives instead of failing the same way again.
  commit(data, setHeader, removeHeader) {
    let h;
    try {
      h = this.directives(data);
    } catch (err) {
      this.sent = {};
      this.failed = true;
      throw err;
    }
    for (const name of Object.values(this.names)) {
      if (h[name] !== undefined) setHeader(name, h[name]);
      else removeHeader(name);
    }
    this.sent = h;
    return h;
  }

  // check throws what commit would for data (a session that cannot be
  // encoded), and then counts as commit's failure: nothing is sent. For a
  // framework that can still answer the error with a 500 where commit,
  // called from a stream's first write, could not.
  check(data) {
    try {
      this.directives(data);
    } catch (err) {
      this.sent = {};
      this.failed = true;
      throw err;
    }
  }

  // lateChange reports whether data now gives other directives than the
  // ones sent with the headers. Data that cannot be encoded (a BigInt or
  // a cycle added to a nested member) is a change too: it runs from the
  // response's finish event, where a throw would end the process.
  lateChange(data) {
    if (this.sent === null || this.failed) return false;
    let now;
    try {
      now = this.directives(data);
    } catch {
      return true;
    }
    const keys = new Set([...Object.keys(now), ...Object.keys(this.sent)]);
    for (const k of keys) if (now[k] !== this.sent[k]) return true;
    return false;
  }

  // guard throws a LateChangeError for what once the headers are out.
  guard(what) {
    if (this.sent !== null) throw new LateChangeError(what);
  }
}

// hookResponse writes the directives for current() on res as its
// headers go out, however they do: res.writeHead, or the first write() or
// end(), whether the app, the framework or a stream piped into res calls
// it. It never throws: a session that cannot be encoded (a BigInt, a
// cycle) is found as the headers go out, often inside a pipe's write or a
// framework's error handler, where a throw ends the process. The
// response is answered 500 instead (the headers are not sent yet), the
// streams piped into res are unpiped and destroyed (a file's descriptor
// released), what the app writes afterwards is dropped, and the error goes
// to fail.
function hookResponse(res, state, current, fail) {
  const { writeHead, write, end } = res;
  const sources = new Set();
  let headed = false;
  let dropped = false;
  // answering is set while the 500 goes out through the original
  // methods: HTTP/2's end() writes its body through res.write, which
  // must pass, not be dropped.
  let answering = false;
  res.on('pipe', (src) => sources.add(src));
  res.on('unpipe', (src) => sources.delete(src));
  // commit reports whether the response goes on: false when it was
  // answered 500 instead.
  const commit = () => {
    if (answering) return true;
    if (dropped) return false;
    if (state.sent !== null || res.headersSent) return true;
    try {
      state.commit(current(), (n, v) => res.setHeader(n, v), (n) => res.removeHeader(n));
      return true;
    } catch (err) {
      dropped = true;
      for (const src of sources) {
        src.unpipe(res);
        discard(src);
      }
      for (const n of res.getHeaderNames()) res.removeHeader(n);
      const body = 'Internal Server Error\n';
      answering = true;
      try {
        writeHead.call(res, 500, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
        end.call(res, body);
      } finally {
        answering = false;
      }
      fail(err);
      return false;
    }
  };
  res.writeHead = function sessionproxyWriteHead(...args) {
    if (answering) return writeHead.apply(this, args);
    if (headed) return dropped ? this : writeHead.apply(this, args);
    headed = true;
    if (!commit()) return this;
    withoutDirectives(args, state.names);
    if (state.accessed) varyCookie(res, args);
    return writeHead.apply(this, args);
  };
  res.write = function sessionproxyWrite(...args) {
    if (commit()) return write.apply(this, args);
    calledBack(args);
    return true;
  };
  res.end = function sessionproxyEnd(...args) {
    if (commit()) return end.apply(this, args);
    calledBack(args);
    return this;
  };
}

// calledBack calls the callback among a dropped write's arguments, as
// Node calls one it ignores.
function calledBack(args) {
  const cb = args.findLast((a) => typeof a === 'function');
  if (cb !== undefined) process.nextTick(cb);
}

// discard releases a stream that will not be sent (a file's descriptor):
// Node's, the web's, or a Response's body.
function discard(body) {
  if (body === null || typeof body !== 'object') return;
  if (typeof body.destroy === 'function') body.destroy();
  else if (typeof body.cancel === 'function') body.cancel().catch(() => {});
  else if (typeof body.body?.cancel === 'function') body.body.cancel().catch(() => {});
}

// givenHeaders returns the headers given to writeHead(...args): an
// object, a raw array [name, value, ...], or undefined. A nested array
// ([[name, value], ...]) is flattened, in args too: Node takes one only
// while nothing was set with setHeader, and the directives are. An array
// is copied into args, so the app's own is never changed.
function givenHeaders(args) {
  const i = args.length - 1;
  const last = i >= 1 ? args[i] : undefined;
  if (Array.isArray(last)) {
    args[i] = Array.isArray(last[0]) ? last.flat(1) : [...last];
    return args[i];
  }
  if (last !== null && typeof last === 'object') return last;
  return undefined;
}

// withoutDirectives drops the directives (names, as directiveNames gives
// them, in any case) from the headers given to writeHead(...args), which
// Node would otherwise put over the ones the session says, set on res
// with setHeader: the middleware owns them. An array whose length is odd
// is left for Node to refuse.
function withoutDirectives(args, names) {
  const own = new Set(Object.values(names).map((n) => n.toLowerCase()));
  const given = givenHeaders(args);
  if (Array.isArray(given)) {
    if (given.length % 2 !== 0) return;
    const kept = [];
    for (let i = 0; i < given.length; i += 2) {
      if (!own.has(String(given[i]).toLowerCase())) kept.push(given[i], given[i + 1]);
    }
    args[args.length - 1] = kept;
  } else if (given !== undefined && Object.keys(given).some((k) => own.has(k.toLowerCase()))) {
    const kept = {};
    for (const [k, v] of Object.entries(given)) if (!own.has(k.toLowerCase())) kept[k] = v;
    args[args.length - 1] = kept;
  }
}

// varyCookie adds Cookie to the Vary of a response whose app read the
// session, unless it is there or Vary is "*", just before writeHead(...args)
// sends the headers: a shared cache must not hand the response to another
// visitor, and the proxy says so only on a response that sets the cookie.
// Headers given to writeHead win over setHeader's, so a Vary among them is
// the one extended (see givenHeaders): in an object, or in a raw array,
// where the last Vary is the one Node keeps when it replaces rather than
// appends.
function varyCookie(res, args) {
  const given = givenHeaders(args);
  if (Array.isArray(given)) {
    let at = -1;
    for (let i = 0; i + 1 < given.length; i += 2) if (String(given[i]).toLowerCase() === 'vary') at = i + 1;
    if (at >= 0) {
      if (!hasCookie(given[at])) given[at] = [].concat(given[at], 'Cookie').join(', ');
      return;
    }
  } else if (given !== undefined) {
    const name = Object.keys(given).find((k) => k.toLowerCase() === 'vary');
    if (name !== undefined) {
      if (!hasCookie(given[name])) args[args.length - 1] = { ...given, [name]: [].concat(given[name], 'Cookie').join(', ') };
      return;
    }
  }
  const vary = res.getHeader('Vary');
  if (vary === undefined) res.setHeader('Vary', 'Cookie');
  else if (!hasCookie(vary)) res.setHeader('Vary', [].concat(vary, 'Cookie').join(', '));
}

// hasCookie reports whether a Vary value (a string or a list) names
// Cookie or is "*".
function hasCookie(vary) {
  return [].concat(vary).join(',').split(',').some((f) => {
    f = f.trim().toLowerCase();
    return f === 'cookie' || f === '*';
  });
}

module.exports = { State, hookResponse, discard, varyCookie, withoutDirectives, LateChangeError, checkMaxAge, plain, directiveNames };
