'use strict';
// Fastify plugin: request.session with @fastify/session's API, backed by
// the proxy.

const { createVerifier, InvalidTokenError } = require('./verify');
const { State, LateChangeError, checkMaxAge, varyCookie, withoutDirectives, discard } = require('./state');
const { guarded, settle, isOptional } = require('./guard');
const { Cookie } = require('./express');

const HANDLE = Symbol('sessionproxy.handle');
const MOUNTED = Symbol('sessionproxy.mounted');
const ATTACHED = Symbol('sessionproxy.attached');

/**
 * Session is @fastify/session's Session: the data as own properties, and
 * get(key), set(key, value), sessionId, cookie, regenerate([fields], cb),
 * destroy(cb), reload(cb), save(cb), touch(), options(opts), isModified(),
 * and destroyOthers(cb) / destroyAll(cb) for the user's other sessions.
 * The methods that take a callback return a promise without one, as
 * @fastify/session's do.
 */
class Session {
  constructor(handle, data) {
    Object.defineProperty(this, HANDLE, { value: handle });
    Object.defineProperty(this, 'cookie', { value: handle.cookie, enumerable: false, writable: true });
    for (const [k, v] of Object.entries(data)) {
      if (!isMember(k)) this[k] = v;
    }
  }

  /** sessionId is the session id the proxy sent (undefined after regenerate: the proxy picks the new one). */
  get sessionId() {
    return this[HANDLE].sid;
  }

  get(key) {
    return isMember(key) ? undefined : this[key];
  }

  /** set puts value under key; undefined or null removes it, as a merge patch does. */
  set(key, value) {
    if (isMember(key)) throw new TypeError('sessionproxy: ' + JSON.stringify(key) + ' names a member of request.session; keep the data under another key');
    if (value === undefined || value === null) delete this[key];
    else this[key] = value;
  }

  /**
   * regenerate starts a new session with a new id holding only the keys
   * named in ignoreFields, as @fastify/session's does: pass
   * Object.keys(request.session) to keep them all.
   */
  regenerate(ignoreFields, cb) {
    if (typeof ignoreFields === 'function') [ignoreFields, cb] = [undefined, ignoreFields];
    const h = this[HANDLE];
    if (h.state.sent !== null) return promised(cb, new LateChangeError('request.session.regenerate()'));
    const kept = {};
    for (const k of Array.isArray(ignoreFields) ? ignoreFields : []) {
      if (Object.hasOwn(this, k)) kept[k] = this[k];
    }
    const { state } = h;
    state.destroyed = true;
    state.regenerated = true;
    state.renew = false;
    h.sid = undefined;
    h.current = newSession(h, kept);
    return promised(cb);
  }

  /** destroy drops the session; request.session is null afterwards. */
  destroy(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return promised(cb, new LateChangeError('request.session.destroy()'));
    h.destroy();
    return promised(cb);
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
    if (h.state.sent !== null) return promised(cb, new LateChangeError('request.session.destroyOthers()'));
    h.state.others = true;
    return promised(cb);
  }

  /**
   * destroyAll is destroy() that also ends every other session of the
   * user this session had ("log out everywhere"). The proxy needs
   * session.userKey, else it answers 502.
   */
  destroyAll(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return promised(cb, new LateChangeError('request.session.destroyAll()'));
    h.destroy();
    h.state.others = true;
    return promised(cb);
  }

  /** reload brings back the session as the request arrived with it. */
  reload(cb) {
    const h = this[HANDLE];
    if (h.state.sent !== null) return promised(cb, new LateChangeError('request.session.reload()'));
    const data = structuredClone(h.state.arrived);
    for (const k of h.state.hidden) delete data[k];
    h.current = newSession(h, data);
    return promised(cb);
  }

  /**
   * save settles at once: the directives go out with the response
   * headers. After the headers were sent, a change not in them is an error.
   */
  save(cb) {
    const h = this[HANDLE];
    return promised(cb, h.state.lateChange(h.current) ? new LateChangeError('request.session.save()') : undefined);
  }

  /** isModified reports whether the session differs from the one the request arrived with. */
  isModified() {
    const h = this[HANDLE];
    return Object.keys(h.state.directives(h.current)).length > 0;
  }

  /** touch does nothing: the proxy's rolling / renew options extend the cookie. */
  touch() {}

  /**
   * options sets this session's lifetime, as @fastify/session's does for
   * its cookie: maxAge in ms (null: until the browser closes) or expires.
   * The cookie's other attributes are the proxy's session.* settings.
   */
  options(opts = {}) {
    const { cookie } = this[HANDLE];
    for (const k of Object.keys(opts)) {
      if (k !== 'maxAge' && k !== 'expires') {
        throw new TypeError('sessionproxy: request.session.options() takes maxAge or expires; the cookie\'s ' + k + ' is the proxy\'s session.' + k);
      }
    }
    if (Object.hasOwn(opts, 'maxAge')) cookie.maxAge = opts.maxAge;
    else if (Object.hasOwn(opts, 'expires')) cookie.expires = opts.expires;
  }
}

// promised answers as @fastify/session's methods do: cb(err) on a later
// tick when there is a cb, else a promise.
function promised(cb, err) {
  if (typeof cb === 'function') return settle(cb, err);
  return err ? Promise.reject(err) : Promise.resolve();
}

// isMember reports whether a data key is named like a member of Session,
// which the session object cannot hold as data.
function isMember(k) {
  return k === 'cookie' || k in Session.prototype;
}

function newSession(handle, data) {
  return guarded(new Session(handle, data), handle.state, 'request.session');
}

/**
 * fastify is a Fastify plugin that verifies the X-Session token of every
 * request and gives request.session (@fastify/session's API):
 *
 *   app.register(sessionproxy.fastify, { secret: process.env.UPSTREAM_SECRET })
 *
 * Its hooks apply to the context it is registered in, as
 * fastify-plugin's do. Options: secret (and oldSecrets) or jwksUrl,
 * audience, header, leeway, optional (true, or (request) => boolean: run
 * without a session instead of answering 401, or 503 when the JWKS cannot
 * be fetched), onError(err, request) for a change made after the headers
 * were sent that no call could report (default: request.log.error, or
 * console.error when Fastify's logger is off). Bad options fail the
 * registration, so app.ready() and app.listen() reject.
 */
function fastify(instance, opts, done) {
  // sessionproxy.koa(opts) and .express(opts) make a middleware; this one
  // is the plugin itself, and called like them it would fail on done.
  if (typeof done !== 'function') {
    throw new TypeError('sessionproxy: sessionproxy.fastify is a Fastify plugin: app.register(sessionproxy.fastify, { secret }), not app.register(sessionproxy.fastify({ secret }))');
  }
  let verifier;
  try {
    verifier = createVerifier(opts);
  } catch (err) {
    done(err);
    return;
  }
  const name = opts.header || 'X-Session';
  const header = name.toLowerCase();
  const optional = opts.optional;
  const report = typeof opts.onError === 'function' ? opts.onError : (err, request) => {
    if (typeof request.log?.isLevelEnabled === 'function') request.log.error({ err }, err.message);
    else console.error(err);
  };

  if (!instance.hasRequestDecorator('session')) instance.decorateRequest('session', null);
  instance.addHook('onRequest', async function sessionproxy(request, reply) {
    let claims = null;
    try {
      claims = await verifier.verify(request.headers[header]);
    } catch (err) {
      // An optional route runs without a session, whether the token is
      // bad or the JWKS is down (an error whose status is 503); a
      // required one gets 401, or the outage. Fastify's error handler
      // answers with the error's message, so neither names the cause.
      const bad = err instanceof InvalidTokenError;
      if (!(bad || err.status === 503) || !isOptional(optional, request)) {
        if (!bad) throw err.status === 503 ? httpError(503, 'session token keys unavailable', err) : err;
        throw Object.assign(httpError(401, 'invalid session token', err), { reason: err.reason });
      }
    }
    // Registered again (say optional on the app, required in a child
    // context): this one's own check above holds, and the session stays
    // the first one's.
    if (request[MOUNTED]) return;
    request[MOUNTED] = true;
    if (claims !== null) {
      attach(request, reply.raw, claims, name, report);
      return;
    }
    Object.defineProperty(request, 'session', {
      configurable: true,
      enumerable: true,
      get: () => null,
      set: () => {
        throw new Error('sessionproxy: this request has no session (no valid ' + name + ' token)');
      },
    });
  });
  // A stream (Node's or the web's, or a Response) sends the headers, and
  // so the directives, from its first write, inside a pipe or a promise:
  // a session that cannot be encoded (a BigInt, a cycle) would throw
  // there, out of Fastify's reach, and end the process. Encode it here
  // instead, where Fastify answers the error with its error handler.
  instance.addHook('onSend', function sessionproxyEncode(request, reply, payload, next) {
    const h = request[ATTACHED];
    // A session the app never touched is as it arrived, JSON.
    if (h === undefined || !h.state.accessed || h.state.sent !== null || payload === null || typeof payload !== 'object' || Buffer.isBuffer(payload)) {
      next(null, payload);
      return;
    }
    try {
      h.state.check(h.current);
    } catch (err) {
      discard(payload);
      next(err);
      return;
    }
    next(null, payload);
  });
  done();
}

// Set as fastify-plugin sets them: the hooks and the decorator belong to
// the context that registers the plugin, not to a child of its own.
fastify[Symbol.for('skip-override')] = true;
fastify[Symbol.for('fastify.display-name')] = 'sessionproxy';
fastify[Symbol.for('plugin-meta')] = { name: 'sessionproxy', fastify: '5.x' };

function httpError(statusCode, message, cause) {
  return Object.assign(new Error(message, { cause }), { statusCode });
}

function attach(request, res, claims, header, report) {
  const state = new State(claims, header);
  const handle = {
    state,
    sid: state.sid,
    cookie: new Cookie(state, 'request.session.cookie'),
    current: null,
    destroy() {
      state.destroyed = true;
      state.regenerated = false;
      state.renew = false;
      state.maxAge = undefined;
      handle.current = null;
    },
  };
  handle.current = newSession(handle, state.visible(isMember));
  request[ATTACHED] = handle;
  Object.defineProperty(request, 'session', {
    configurable: true,
    enumerable: true,
    get: () => {
      state.accessed = true;
      return handle.current;
    },
    set: (val) => {
      state.guard('request.session assigned');
      state.accessed = true;
      if (val === null || val === undefined) {
        handle.destroy();
      } else if (typeof val === 'object') {
        state.hidden = [];
        handle.current = newSession(handle, JSON.parse(JSON.stringify(val)));
      } else {
        throw new TypeError('request.session can only be set to an object or null');
      }
    },
  });

  // Write the directives as the headers go out, however the reply is
  // made: reply.send or a route's return value (a stream too), an error
  // reply, or the app writing to reply.raw itself. A session that cannot
  // be encoded throws here, inside reply.send, and Fastify answers 500 (a
  // stream's, from the onSend hook, before its first write).
  const writeHead = res.writeHead;
  res.writeHead = function sessionproxyWriteHead(...args) {
    if (state.sent === null) {
      withoutDirectives(args, state.names);
      state.commit(handle.current, (n, v) => res.setHeader(n, v), (n) => res.removeHeader(n));
      if (state.accessed) varyCookie(res, args);
    }
    return writeHead.apply(this, args);
  };
  res.once('finish', () => {
    if (state.lateChange(handle.current)) report(new LateChangeError('the session changed'), request);
  });
}

module.exports = { fastify, Session };
