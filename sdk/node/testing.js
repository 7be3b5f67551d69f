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

/**
 * readDirectives reads the X-Session-* directives from response headers (a
 * fetch Headers, a plain object such as supertest's res.headers, a Node
 * ServerResponse, or a Node client response, whose .headers it reads):
 * { set: object | null, destroy, destroyOthers, renew, maxAge: number |
 * 'session' | null }. destroy is true when this session ends (X-Session-Destroy
 * "true", "1" or "all"), destroyOthers when the user's other sessions end
 * ("others" or "all").
 * header is the token's header (the middleware's header option), which
 * names the directives; default 'X-Session'.
 */
function readDirectives(headers, header = 'X-Session') {
  if (headers && typeof headers.get !== 'function' && typeof headers.getHeader !== 'function' &&
      headers.headers && typeof headers.headers === 'object') {
    headers = headers.headers; // an http.IncomingMessage
  }
  const get = (name) => {
    let v;
    if (headers && typeof headers.get === 'function') v = headers.get(name);
    else if (headers && typeof headers.getHeader === 'function') v = headers.getHeader(name);
    else if (headers) v = headers[name.toLowerCase()] ?? headers[name];
    if (Array.isArray(v)) v = v.join(', ');
    return v === undefined || v === null || v === '' ? null : String(v);
  };
  const set = get(header + '-Set');
  const maxAge = get(header + '-Max-Age');
  const destroy = get(header + '-Destroy');
  return {
    set: set === null ? null : JSON.parse(set),
    destroy: destroy === 'true' || destroy === '1' || destroy === 'all',
    destroyOthers: destroy === 'others' || destroy === 'all',
    renew: get(header + '-Renew') === 'true',
    maxAge: maxAge === null ? null : maxAge === 'session' ? 'session' : Number(maxAge),
  };
}

const testing = { mintToken, readDirectives };
testing.default = testing;
module.exports = testing;
