'use strict';
// Express (and plain node:http / Connect) middleware: req.session with
// express-session's API, backed by the proxy.

const { createVerifier, InvalidTokenError } = require('./verify');
const { State, LateChangeError, checkMaxAge, hookResponse } = require('./state');
const { guarded, settle, isOptional } = require('./guard');

const HANDLE = Symbol('sessionproxy.handle');
const MOUNTED = Symbol('sessionproxy.mounted');
const NAME = Symbol('sessionproxy.name');

/**
 * Cookie stands for express-session's req.session.cookie: setting maxAge
 * (ms, or null for a browser-session cookie) or expires sets this
 * session's lifetime at the proxy (X-Session-Max-Age). name is how the
 * app reaches it, for the error of a change made too late. The Fastify
 * plugin's request.session.cookie is the same.
 */
class Cookie {
  constructor(state, name = 'req.session.cookie') {
    Object.defineProperty(this, HANDLE, { value: state });
    Object.defineProperty(this, NAME, { value: name });
  }

  get maxAge() {
    const v = this[HANDLE].maxAge;
    return typeof v === 'number' ? v : null;
  }

  set maxAge(v) {
    const state = this[HANDLE];
    state.guard(this[NAME] + '.maxAge');
    state.setMaxAge(v === null || v === undefined ? 'session' : checkMaxAge(v));
  }

  get originalMaxAge() {
    return this.maxAge;
  }

  get expires() {
    const v = this.maxAge;
    return v === null ? null : new Date(Date.now() + v);
  }

  set expires(d) {
    this.maxAge = d === null || d === undefined ? null : new Date(d).getTime() - Date.now();
  }

  toJSON() {
    return { originalMaxAge: this.originalMaxAge, expires: this.expires };
  }
}

/**
 * Session is express-session's Session: the data as own properties, and
 * id, cookie, regenerate(cb), destroy(cb), save(cb), reload(cb), touch(),
 * and destroyOthers(cb) / destroyAll(cb) for the user's other sessions.
 */
class Session {
  constructor(handle, data) {
    Object.defineProperty(this, HANDLE, { value: handle });
    Object.defineProperty(this, 'id', { value: handle.sid, enumerable: false });
    Object.defineProperty(this, 'cookie', { value: handle.cookie, enumerable: false, writable: true });
    for (const [k, v] of Object.entries(data)) {
      if (!isMember(k)) this[k] = v;
    }
  }

  /** regenerate starts a new, empty session with a new id (express-session's semantics); fill it in cb. */
  regenerate(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return settle(cb, new LateChangeError('req.session.regenerate()'));
    h.destroy();
    h.state.regenerated = true;
    h.sid = undefined;
    h.current = newSession(h, {});
    return settle(cb);
  }

  /** destroy drops the session; req.session is undefined afterwards. */
  destroy(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return settle(cb, new LateChangeError('req.session.destroy()'));
    h.destroy();
    h.current = undefined;
    return settle(cb);
  }

  /**
   * destroyOthers ends every other session of this session's user ("log
   * out my other devices"); this one stays. With destroy() in the same
   * request, in either order, it is destroyAll(); with regenerate(), the
   * user is the new session's once it is filled (left empty, it is
   * destroyAll() too). The proxy needs session.userKey, else it answers
   * 502.
   */
  destroyOthers(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return settle(cb, new LateChangeError('req.session.destroyOthers()'));
    h.state.others = true;
    return settle(cb);
  }

  /**
   * destroyAll is destroy() that also ends every other session of the
   * user this session had ("log out everywhere"). The proxy needs
   * session.userKey, else it answers 502.
   */
  destroyAll(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return settle(cb, new LateChangeError('req.session.destroyAll()'));
    h.destroy();
    h.state.others = true;
    h.current = undefined;
    return settle(cb);
  }

  /**
   * save calls back at once: the directives go out with the response
   * headers. After the headers were sent, a change not in them is an error.
   */
  save(cb) {
    const h = this[HANDLE];
    settle(cb, h.state.lateChange(h.current) ? new LateChangeError('req.session.save()') : undefined);
    return this;
  }

  /** reload brings back the session as the request arrived with it. */
  reload(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return settle(cb, new LateChangeError('req.session.reload()'));
    if (h.state.destroyed) return settle(cb, new Error('sessionproxy: the session was destroyed'));
    const data = structuredClone(h.state.arrived);
    for (const k of h.state.hidden) delete data[k];
    h.current = newSession(h, data);
    return settle(cb);
  }

  touch() {
    return this;
  }

  resetMaxAge() {
    return this;
  }
}

// isMember reports whether a data key is named like a member of Session,
// which the session object cannot hold as data.
function isMember(k) {
  return k === 'id' || k === 'cookie' || k in Session.prototype;
}

function newSession(handle, data) {
  return guarded(new Session(handle, data), handle.state, 'req.session');
}

/**
 * express returns Express / Connect middleware that verifies the
 * X-Session token and gives req.session (express-session's API) and
 * req.sessionID. Options: secret (and oldSecrets) or jwksUrl, audience, header, leeway,
 * optional (true, or (req) => boolean: run without a session instead of
 * answering 401, or 503 when the JWKS cannot be fetched), onError(err, req) for a change made after the headers
 * were sent that no call could report, or a session that cannot be
 * encoded, answered 500 (default: console.error),
 * onRefused(err, req) told of a request answered 401 with the
 * InvalidTokenError the client is not shown (default: one console.info
 * line with its reason).
 */
function express(opts = {}) {
  const verifier = createVerifier(opts);
  const name = opts.header || 'X-Session';
  const header = name.toLowerCase();
  const optional = opts.optional;
  const report = typeof opts.onError === 'function' ? opts.onError : (err) => console.error(err);
  const refused = typeof opts.onRefused === 'function' ? opts.onRefused
    : (err, req) => console.info('sessionproxy: %s %s refused with 401: %s', req.method, req.path, err.message);

  return function sessionproxy(req, res, next) {
    verifier.verify(req.headers[header]).then(
      (claims) => {
        // Mounted again (say optional on the app, required on a router):
        // this one's own check holds, and the session stays the first one's.
        if (req[MOUNTED]) return next();
        req[MOUNTED] = true;
        attach(req, res, claims, name, report);
        next();
      },
      (err) => {
        // An optional route runs without a session, whether the token is
        // bad or the JWKS is down (an error whose status is 503); a
        // required one gets 401, or the outage.
        const bad = err instanceof InvalidTokenError;
        if ((bad || err.status === 503) && isOptional(optional, req)) return next();
        if (!bad) return next(err);
        refused(err, req);
        res.statusCode = 401;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('invalid session token\n');
      },
    );
  };
}

function attach(req, res, claims, header, report) {
  const state = new State(claims, header);
  const handle = {
    req,
    state,
    sid: state.sid, // req.sessionID, which the library reads without marking the session accessed
    cookie: new Cookie(state),
    current: undefined,
    destroy() {
      state.destroyed = true;
      state.regenerated = false;
      state.renew = false;
      state.maxAge = undefined;
    },
  };
  handle.current = newSession(handle, state.visible(isMember));
  Object.defineProperty(req, 'sessionID', {
    configurable: true,
    enumerable: true,
    get: () => {
      state.accessed = true;
      return handle.sid;
    },
    set: (val) => {
      handle.sid = val;
    },
  });
  Object.defineProperty(req, 'session', {
    configurable: true,
    enumerable: true,
    get: () => {
      state.accessed = true;
      return handle.current;
    },
    set: (val) => {
      state.guard('req.session assigned');
      state.accessed = true;
      if (val === null || val === undefined) {
        handle.destroy();
        handle.current = undefined;
      } else if (typeof val === 'object') {
        state.hidden = [];
        handle.current = newSession(handle, JSON.parse(JSON.stringify(val)));
      } else {
        throw new TypeError('req.session can only be set to an object or null');
      }
    },
  });

  // Write the directives as the headers go out, however the route ends:
  // res.send, res.end, res.writeHead, a piped stream (res.sendFile's
  // too). Express has no hook before a pipe's first write, nor catches
  // what a callback, a pipe or its own final handler throws: a session
  // that cannot be encoded is answered 500 there and told to onError.
  hookResponse(res, state, () => handle.current ?? null, (err) => report(err, req));
  res.once('finish', () => {
    if (state.lateChange(handle.current ?? null)) report(new LateChangeError('the session changed'), req);
  });
}

module.exports = { express, Session, Cookie };
