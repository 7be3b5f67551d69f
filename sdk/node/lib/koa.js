'use strict';
// Koa middleware: ctx.session with koa-session's API, backed by the proxy.

const { Stream } = require('node:stream');
const { createVerifier, InvalidTokenError } = require('./verify');
const { State, LateChangeError, checkMaxAge, hookResponse, discard } = require('./state');
const { guarded, isOptional } = require('./guard');

const HANDLE = Symbol('sessionproxy.handle');
const MOUNTED = Symbol('sessionproxy.mounted');

/**
 * Session is koa-session's Session: the data as own properties, isNew,
 * toJSON(), length, populated, maxAge, regenerate(), save(), and
 * destroyOthers() / destroyAll() for the user's other sessions.
 */
class Session {
  constructor(handle, data, isNew) {
    Object.defineProperty(this, HANDLE, { value: handle });
    this.isNew = isNew;
    for (const [k, v] of Object.entries(data)) {
      if (!isMember(k)) this[k] = v;
    }
  }

  toJSON() {
    const obj = {};
    for (const key in this) {
      if (key === 'isNew' || key[0] === '_') continue;
      const value = this[key];
      if (typeof value === 'function') continue;
      obj[key] = value;
    }
    return obj;
  }

  get length() {
    return Object.keys(this.toJSON()).length;
  }

  get populated() {
    return !!this.length;
  }

  /** maxAge is the lifetime set during this request (ms or 'session'), else undefined. */
  get maxAge() {
    return this[HANDLE].state.maxAge;
  }

  set maxAge(v) {
    const { state } = this[HANDLE];
    state.guard('ctx.session.maxAge');
    state.setMaxAge(checkMaxAge(v));
  }

  /** externalKey is the session id the proxy sent (undefined in the koa cookie format). */
  get externalKey() {
    return this[HANDLE].state.sid;
  }

  /** regenerate asks the proxy for a new session id with the same data (call after login). */
  regenerate(callback) {
    return commitLike(this[HANDLE], 'ctx.session.regenerate()', (state) => {
      state.renew = true;
    }, callback);
  }

  /**
   * destroyOthers ends every other session of this session's user ("log
   * out my other devices"); this one stays. With ctx.session = null in
   * the same request, in either order, it is destroyAll(). The proxy needs
   * session.userKey, else it answers 502.
   */
  destroyOthers() {
    const { state } = this[HANDLE];
    state.guard('ctx.session.destroyOthers()');
    state.others = true;
  }

  /**
   * destroyAll is ctx.session = null that also ends every other session
   * of the user this session had ("log out everywhere"). The proxy needs
   * session.userKey, else it answers 502.
   */
  destroyAll() {
    const handle = this[HANDLE];
    handle.state.guard('ctx.session.destroyAll()');
    handle.state.destroyed = true;
    handle.state.others = true;
    handle.session = null;
  }

  /** save is accepted for koa-session compatibility: the directives are always sent. */
  save(callback) {
    return commitLike(this[HANDLE], 'ctx.session.save()', null, callback);
  }

  manuallyCommit() {
    return commitLike(this[HANDLE], 'ctx.session.manuallyCommit()', null);
  }

  commit(options, callback) {
    if (typeof options === 'function') return this.save(options);
    return this.save(callback);
  }
}

// commitLike runs change (null for none) and answers as koa-session's
// commit does: a promise, or callback(err) when one is given. Once the
// headers are out, a change, or a session that differs from what was
// sent, is a LateChangeError.
function commitLike(handle, what, change, callback) {
  let p;
  const { state } = handle;
  if (state.sent !== null && (change !== null || state.lateChange(handle.session))) {
    p = Promise.reject(new LateChangeError(what));
  } else {
    if (change !== null) change(state);
    p = Promise.resolve();
  }
  if (typeof callback === 'function') {
    p.then(() => callback(), callback);
    return undefined;
  }
  return p;
}

// isMember reports whether a data key is named like a member of Session,
// which the session object cannot hold as data.
function isMember(k) {
  return k === 'isNew' || k in Session.prototype;
}

function newSession(handle, data, isNew) {
  return guarded(new Session(handle, data, isNew), handle.state, 'ctx.session');
}

/**
 * koa returns Koa middleware that verifies the X-Session token and gives
 * ctx.session (koa-session's API) and ctx.sessionHandler (regenerateId,
 * getId, setMaxAge). Options: secret (and oldSecrets) or jwksUrl, audience, header,
 * leeway, optional (true, or (ctx) => boolean: run without a session
 * instead of answering 401, or 503 when the JWKS cannot be fetched), onError(err, ctx) for a change made after
 * the headers were sent (default: ctx.app.emit('error', err, ctx)).
 */
function koa(opts = {}) {
  const verifier = createVerifier(opts);
  const header = opts.header || 'X-Session';
  const optional = opts.optional;

  const report = (err, ctx) => {
    if (typeof opts.onError === 'function') opts.onError(err, ctx);
    else ctx.app.emit('error', err, ctx);
  };

  return async function sessionproxy(ctx, next) {
    let claims = null;
    try {
      claims = await verifier.verify(ctx.get(header) || undefined);
    } catch (err) {
      // An optional route runs without a session, whether the token is
      // bad or the JWKS is down (an error whose status is 503); a
      // required one gets 401, or the outage.
      const bad = err instanceof InvalidTokenError;
      if (!(bad || err.status === 503) || !isOptional(optional, ctx)) {
        if (!bad) throw err;
        ctx.throw(401, 'invalid session token', { reason: err.reason });
      }
    }
    // Mounted again (say optional on the app, required on a router): this
    // one's own check above holds, and the session stays the first one's.
    if (ctx[MOUNTED]) return next();
    ctx[MOUNTED] = true;
    if (claims === null) {
      Object.defineProperty(ctx, 'session', {
        configurable: true,
        enumerable: true,
        get: () => null,
        set: () => {
          throw new Error('sessionproxy: this request has no session (no valid ' + header + ' token)');
        },
      });
      return next();
    }

    const state = new State(claims, header);
    const handle = { state, session: null };
    handle.session = newSession(handle, state.visible(isMember), state.isNew);
    Object.defineProperty(ctx, 'session', {
      configurable: true,
      enumerable: true,
      get: () => {
        state.accessed = true;
        return handle.session;
      },
      set: (val) => {
        state.guard('ctx.session assigned');
        state.accessed = true;
        if (val === null) {
          state.destroyed = true;
          handle.session = null;
          return;
        }
        if (typeof val === 'object') {
          const data = typeof val.toJSON === 'function' ? val.toJSON() : val;
          state.hidden = [];
          handle.session = newSession(handle, data, false);
          return;
        }
        throw new Error('this.session can only be set as null or an object.');
      },
    });
    ctx.sessionHandler = {
      /** regenerateId is regenerate() by the name a widely copied tutorial uses. */
      regenerateId() {
        state.guard('ctx.sessionHandler.regenerateId()');
        state.accessed = true;
        state.renew = true;
      },
      /** getId returns the id the session had when the request arrived. */
      getId() {
        state.accessed = true;
        return state.sid;
      },
      setMaxAge(ms) {
        state.guard('ctx.sessionHandler.setMaxAge()');
        state.accessed = true;
        state.setMaxAge(checkMaxAge(ms));
      },
    };

    // Write the directives as the headers go out, however the response is
    // made: Koa's own respond, ctx.flushHeaders() for a stream, a thrown
    // error answered by Koa or by an outer middleware, or the app writing
    // to ctx.res itself. All of them come through writeHead, write or end.
    hookResponse(ctx.res, state, () => handle.session, (err) => report(err, ctx));
    ctx.res.once('finish', () => {
      if (state.lateChange(handle.session)) report(new LateChangeError('the session changed'), ctx);
    });
    // Encode the session before Koa's respond pipes a stream body, or its
    // onerror answers an error: a session that cannot be encoded (a
    // BigInt, a cycle) is then an error Koa answers with a 500, not one
    // thrown from the stream's first write (hookResponse answers one
    // changed later, by an outer middleware, with a 500 of its own).
    const encode = () => {
      if (state.accessed && state.sent === null && ctx.respond !== false) state.check(handle.session);
    };
    try {
      await next();
    } catch (err) {
      try {
        encode();
      } catch (failed) {
        report(failed, ctx);
      }
      throw err;
    }
    try {
      encode();
    } catch (err) {
      if (streamBody(ctx.body)) discard(ctx.body);
      throw err;
    }
  };
}

// streamBody reports whether a body is one Koa sends as a stream (Node's,
// the web's, a Response's), which holds a resource to release. Any other
// object is the app's data, serialized as JSON: an ORM record's destroy()
// (Sequelize's deletes its row) or an order's cancel() is never called.
function streamBody(body) {
  return body instanceof Stream || body instanceof ReadableStream || body instanceof Response;
}

module.exports = { koa, Session };
