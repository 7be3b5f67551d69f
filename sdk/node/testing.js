'use strict';
/**
 * sessionproxy/testing: mint the tokens the proxy would send, and read the
 * directives an app answers with, so that routes are unit-tested without
 * the proxy.
 */

const crypto = require('node:crypto');
const { ISSUER } = require('./lib/verify');

/**
 * mintToken returns an HS256 X-Session token for sess (default {}), as the
 * proxy signs it. Options: secret (required), sess, sid, isNew (default:
 * true when sess is empty), ttl (seconds, default 60), audience, issuer
 * (default "sessionproxy"), now (seconds since the epoch, default the clock).
 */
function mintToken(opts = {}) {
  const { secret, sess = {}, sid, audience, issuer = ISSUER } = opts;
  if (!secret) throw new TypeError('sessionproxy/testing: mintToken needs a secret');
  const now = opts.now === undefined ? Math.floor(Date.now() / 1000) : opts.now;
  const ttl = opts.ttl === undefined ? 60 : opts.ttl;
  const isNew = opts.isNew === undefined ? Object.keys(sess).length === 0 : opts.isNew;
  const claims = {};
  if (sid !== undefined) claims.sid = sid;
  claims.sess = sess;
  claims.new = isNew;
  claims.iss = issuer;
  if (audience !== undefined) claims.aud = audience;
  claims.exp = now + ttl;
  claims.iat = now;
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signed = enc({ alg: 'HS256', typ: 'JWT' }) + '.' + enc(claims);
  return signed + '.' + crypto.createHmac('sha256', secret).update(signed).digest('base64url');
}

// The proxy's limits (proxy/directive.go): past them a response is 502.
const MAX_DIRECTIVES = 100; // header values
const MAX_DIRECTIVE_BYTES = 1 << 20; // their total length in bytes
const MAX_DEPTH = 32; // nesting of X-Session-Set, the object counting as 1
const LONGEST_MAX_AGE = 100 * 365 * 24 * 3600 * 1000; // ms, 100 years

/**
 * DirectiveError is a directive the proxy would answer with 502 (and apply
 * nothing of the response): header names it, reason says what is wrong.
 */
class DirectiveError extends Error {
  constructor(header, reason) {
    super(`sessionproxy/testing: ${header}: ${reason}`);
    this.name = 'DirectiveError';
    this.header = header;
    this.reason = reason;
  }
}

// lines returns the [name, value] header lines of headers, one per value:
// a Node client response's raw lines, a ServerResponse's or plain object's
// arrays, a fetch Headers' (or Map's) entries. A fetch Headers joins
// repeated headers with ", ", which reads as one value. A source that
// only has get() or getHeader() is asked for the directives' names alone.
function lines(headers, names) {
  const out = [];
  const add = (name, v) => {
    if (v === undefined || v === null) return;
    for (const one of Array.isArray(v) ? v : [v]) out.push([String(name), String(one)]);
  };
  if (!headers || typeof headers !== 'object') return out;
  if (Array.isArray(headers.rawHeaders)) { // an http.IncomingMessage
    for (let i = 0; i + 1 < headers.rawHeaders.length; i += 2) add(headers.rawHeaders[i], headers.rawHeaders[i + 1]);
  } else if (typeof headers.getHeaderNames === 'function' && typeof headers.getHeader === 'function') {
    for (const name of headers.getHeaderNames()) add(name, headers.getHeader(name));
  } else if (typeof headers.get === 'function' && typeof headers[Symbol.iterator] === 'function') {
    for (const [name, v] of headers) add(name, v);
  } else if (typeof headers.get === 'function' || typeof headers.getHeader === 'function') {
    for (const name of names) add(name, typeof headers.get === 'function' ? headers.get(name) : headers.getHeader(name));
  } else if (headers.headers && typeof headers.headers === 'object') {
    return lines(headers.headers, names);
  } else {
    for (const [name, v] of Object.entries(headers)) add(name, v);
  }
  return out;
}

// trim is Go's strings.TrimSpace on the bytes a header value can hold.
const trim = (v) => v.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');

// tooDeep reports whether the JSON text v nests objects and arrays deeper
// than MAX_DEPTH outside its strings.
function tooDeep(v) {
  let depth = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (c === '"') {
      for (i++; i < v.length && v[i] !== '"'; i++) if (v[i] === '\\') i++;
    } else if (c === '{' || c === '[') {
      if (++depth > MAX_DEPTH) return true;
    } else if (c === '}' || c === ']') {
      depth--;
    }
  }
  return false;
}

/**
 * readDirectives reads the X-Session-* directives from response headers (a
 * fetch Headers, a plain object such as supertest's res.headers, a Node
 * ServerResponse, or a Node client response, whose raw lines it reads):
 * { set: object | null, destroy, destroyOthers, renew, maxAge: number |
 * 'session' | null }. set is the first X-Session-Set patch (the proxy
 * applies each, in order); destroy is true when this session ends
 * (X-Session-Destroy "true", "1" or "all"), destroyOthers when the user's
 * other sessions end ("others" or "all").
 * header is the token's header (the middleware's header option), which
 * names the directives; default 'X-Session'.
 *
 * It throws a DirectiveError, naming the header, for what the proxy
 * answers with 502: an X-Session-Set that is not a JSON object, nests
 * deeper than 32 or sets a top-level key starting with "_"; a Destroy other
 * than "true", "1", "others" or "all"; a Renew other than "true" or "1"; a
 * Max-Age that is neither a positive number of milliseconds (at most 100
 * years) nor "session"; any other header named header + "-..." (or with
 * "_", in any case: a typo such as X-Session-Sett); more than 100 such
 * header values, or more than 1 MiB of them (in UTF-8, the most the proxy
 * may count of a value Node sends).
 */
function readDirectives(headers, header = 'X-Session') {
  return read(headers, header).directives;
}

// read is readDirectives, with every X-Session-Set patch in order (sets).
function read(headers, header) {
  const prefix = header.toLowerCase();
  const own = prefix.replace(/_/g, '-');
  const names = [header, header + '-Set', header + '-Destroy', header + '-Renew', header + '-Max-Age'];
  const d = { set: null, destroy: false, destroyOthers: false, renew: false, maxAge: null };
  const sets = [];
  let count = 0;
  let size = 0;
  for (const [name, value] of lines(headers, names)) {
    const lname = name.toLowerCase();
    const norm = lname.replace(/_/g, '-');
    if (norm !== own && !norm.startsWith(own + '-')) continue;
    if (++count > MAX_DIRECTIVES) throw new DirectiveError(name, `more than ${MAX_DIRECTIVES} session headers in one response`);
    // Bytes, as the proxy counts them: Node sends a header's characters
    // as UTF-8 when the body's first write is a string (res.end('ok')),
    // as Latin-1 otherwise, so UTF-8 is the most the proxy may count.
    if ((size += Buffer.byteLength(value, 'utf8')) > MAX_DIRECTIVE_BYTES) {
      throw new DirectiveError(name, `the session headers of one response are longer than ${MAX_DIRECTIVE_BYTES} bytes`);
    }
    const v = trim(value);
    switch (lname) {
      case prefix: // the token, echoed back: the proxy drops it
        break;
      case prefix + '-set': {
        if (tooDeep(value)) throw new DirectiveError(name, `want a JSON object: objects and arrays nested deeper than ${MAX_DEPTH}`);
        let patch;
        try {
          patch = JSON.parse(value);
        } catch (err) {
          throw new DirectiveError(name, 'want a JSON object: ' + err.message);
        }
        if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
          throw new DirectiveError(name, 'want a JSON object: not a JSON object');
        }
        const reserved = Object.keys(patch).find((k) => k.startsWith('_'));
        if (reserved !== undefined) {
          throw new DirectiveError(name, `top-level key ${JSON.stringify(reserved)}: keys starting with "_" are reserved for the proxy's bookkeeping`);
        }
        if (d.set === null) d.set = patch;
        sets.push(patch);
        break;
      }
      case prefix + '-destroy':
        if (v === 'true' || v === '1' || v === 'all') d.destroy = true;
        if (v === 'others' || v === 'all') d.destroyOthers = true;
        if (!['true', '1', 'others', 'all'].includes(v)) {
          throw new DirectiveError(name, `${JSON.stringify(value)}: want "true", "1", "others" or "all"`);
        }
        break;
      case prefix + '-renew':
        if (v !== 'true' && v !== '1') throw new DirectiveError(name, `${JSON.stringify(value)}: want "true" or "1"`);
        d.renew = true;
        break;
      case prefix + '-max-age':
        if (v === 'session') {
          d.maxAge = 'session';
        } else if (/^[+-]?[0-9]+$/.test(v) && Number(v) > 0 && Number(v) <= LONGEST_MAX_AGE) {
          d.maxAge = Number(v);
        } else {
          throw new DirectiveError(name, `${JSON.stringify(value)}: want a positive number of milliseconds (at most 100 years) or "session"`);
        }
        break;
      default:
        throw new DirectiveError(name, 'unknown session directive');
    }
  }
  return { directives: d, sets };
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// mergePatch applies an RFC 7396 merge patch to target and returns the
// result, a new value; "__proto__" is a key like any other.
function mergePatch(target, patch) {
  if (!isObject(patch)) return patch;
  const out = {};
  const put = (k, v) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  if (isObject(target)) for (const [k, v] of Object.entries(target)) put(k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else put(k, mergePatch(Object.hasOwn(out, k) ? out[k] : undefined, v));
  }
  return out;
}

/**
 * applyDirectives returns the session data the proxy keeps once it
 * applied a response's directives to sess (the data the request's token
 * carried; sess itself is left as it is): {} when the response destroys
 * the session, then every X-Session-Set in order, as a merge patch. The
 * next request's token carries it (with a new id after a destroy or a
 * renew, which readDirectives tells). Headers and header as for
 * readDirectives; it throws the same DirectiveError, for a response of
 * which the proxy applies nothing.
 */
function applyDirectives(sess, headers, header = 'X-Session') {
  const { directives, sets } = read(headers, header);
  return apply(sess, directives, sets);
}

/**
 * applySession plays the proxy across requests: given the mintToken
 * options a request's token was minted with (opts, left as they are) and
 * its response's headers, it returns those of the next request's token:
 * sess as applyDirectives gives it, and isNew and sid (when opts has
 * one) as the proxy's next token carries them. The proxy saves a new
 * session, or the one a destroy starts, only when the response leaves it
 * with data, renews it or gives it a max age, and a destroy with neither a
 * set nor a max age only ends the session: until it is saved, isNew stays
 * true. The sid is a new one after a destroy, after a renew of a saved
 * session, and while isNew stays true, as nothing remembers the id of a
 * session the proxy left unsaved; a new session it saves keeps its id,
 * renewed or not. Header as for readDirectives; it throws the same
 * DirectiveError.
 */
function applySession(opts, headers, header = 'X-Session') {
  const { directives: d, sets } = read(headers, header);
  const sess = opts.sess ?? {};
  const next = { ...opts, sess: apply(sess, d, sets) };
  const wasNew = opts.isNew ?? Object.keys(sess).length === 0; // mintToken's default
  next.isNew = d.destroy || wasNew;
  const ended = d.destroy && sets.length === 0 && d.maxAge === null;
  if (!ended && (Object.keys(next.sess).length > 0 || d.renew || d.maxAge !== null)) {
    next.isNew = false; // saved: the proxy saves no new session left empty
  }
  const newSid = d.destroy || (d.renew && !wasNew) || next.isNew; // a new session saved keeps its id
  if (opts.sid !== undefined && newSid) next.sid = crypto.randomBytes(16).toString('base64url');
  return next;
}

// apply returns sess (left as it is) with the directives d and the
// patches sets applied.
function apply(sess, d, sets) {
  let data = d.destroy ? {} : structuredClone(sess ?? {});
  for (const patch of sets) data = mergePatch(data, patch);
  return data;
}

const testing = { mintToken, readDirectives, applyDirectives, applySession, DirectiveError };
testing.default = testing;
module.exports = testing;
