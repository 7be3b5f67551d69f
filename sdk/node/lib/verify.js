'use strict';
// Verifying the X-Session token: a compact JWT signed HS256 with a shared
// secret, or EdDSA / ES256 with a key from a JWKS URL (looked up by kid).

const crypto = require('node:crypto');

const ISSUER = 'sessionproxy';
const DEFAULT_LEEWAY = 5; // seconds of clock skew allowed on exp
const DEFAULT_JWKS_MAX_AGE = 10 * 60 * 1000; // ms a fetched key set is used before a refetch
const DEFAULT_JWKS_COOLDOWN = 10 * 1000; // ms between refetches caused by an unknown kid
const JWKS_TIMEOUT = 5000; // ms for one JWKS request

/**
 * InvalidTokenError is thrown (or rejected with) when a token is refused.
 * Its reason is one of: malformed, alg, signature, expired, issuer,
 * audience, kid.
 */
class InvalidTokenError extends Error {
  constructor(reason, detail) {
    super('invalid session token: ' + reason + (detail ? ' (' + detail + ')' : ''));
    this.name = 'InvalidTokenError';
    this.reason = reason;
  }
}

const B64URL = /^[A-Za-z0-9_-]*$/;

function b64urlDecode(s) {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  return Buffer.from(s, 'base64url');
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseJSONObject(buf) {
  if (buf === null) return null;
  try {
    const v = JSON.parse(buf.toString('utf8'));
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

/**
 * createVerifier checks its options once and returns { verify(token) },
 * an async function resolving to the token's claims or rejecting with an
 * InvalidTokenError. With jwksUrl it holds the fetched key set. HS256
 * tokens are checked with secret, then with each of oldSecrets (secrets
 * the proxy signed with before token.secret was rotated).
 */
function isSecret(s) {
  return (typeof s === 'string' || s instanceof Uint8Array) && s.length > 0;
}

function createVerifier(opts = {}) {
  const { secret, oldSecrets, jwksUrl, audience } = opts;
  if (secret === undefined && jwksUrl === undefined) {
    throw new TypeError('sessionproxy: secret or jwksUrl is required');
  }
  if (secret !== undefined && !isSecret(secret)) {
    throw new TypeError('sessionproxy: secret must be a non-empty string or Uint8Array');
  }
  if (oldSecrets !== undefined) {
    if (!Array.isArray(oldSecrets)) {
      throw new TypeError('sessionproxy: oldSecrets must be an array of secrets');
    }
    const i = oldSecrets.findIndex((s) => !isSecret(s));
    if (i >= 0) {
      throw new TypeError('sessionproxy: oldSecrets[' + i + '] must be a non-empty string or Uint8Array');
    }
    if (oldSecrets.length > 0 && secret === undefined) {
      throw new TypeError("sessionproxy: oldSecrets needs secret, the proxy's current token.secret");
    }
  }
  if (jwksUrl !== undefined) {
    try {
      const u = new URL(jwksUrl);
      if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
    } catch {
      throw new TypeError('sessionproxy: jwksUrl must be an http(s) URL, got ' + JSON.stringify(jwksUrl));
    }
  }
  if (audience !== undefined && (typeof audience !== 'string' || audience === '')) {
    throw new TypeError('sessionproxy: audience must be a non-empty string');
  }
  const leeway = opts.leeway === undefined ? DEFAULT_LEEWAY : opts.leeway;
  if (typeof leeway !== 'number' || !(leeway >= 0)) {
    throw new TypeError('sessionproxy: leeway must be a number of seconds >= 0');
  }
  // The secret first, then the old ones (a token.secret rotation): each
  // only ever verifies.
  const secretKeys = secret === undefined ? null : [secret, ...(oldSecrets || [])].map((s) => Buffer.from(s));
  const jwks = jwksUrl === undefined ? null : new JWKS(jwksUrl, opts);

  async function verify(token) {
    if (typeof token !== 'string') throw new InvalidTokenError('malformed', 'no token');
    const parts = token.split('.');
    if (parts.length !== 3) throw new InvalidTokenError('malformed', 'not three parts');
    const header = parseJSONObject(b64urlDecode(parts[0]));
    const payloadBytes = b64urlDecode(parts[1]);
    const sig = b64urlDecode(parts[2]);
    if (header === null || payloadBytes === null || sig === null) {
      throw new InvalidTokenError('malformed');
    }
    const signed = Buffer.from(parts[0] + '.' + parts[1], 'latin1');
    const alg = header.alg;
    if (alg === 'HS256' && secretKeys !== null) {
      if (!secretKeys.some((key) => hs256Matches(key, signed, sig))) {
        throw new InvalidTokenError('signature');
      }
    } else if ((alg === 'EdDSA' || alg === 'ES256') && jwks !== null) {
      if (typeof header.kid !== 'string' || header.kid === '') throw new InvalidTokenError('kid', 'no kid');
      const key = await jwks.key(header.kid);
      if (key === null) throw new InvalidTokenError('kid', 'unknown kid');
      if (key.alg !== alg) throw new InvalidTokenError('alg', 'key ' + header.kid + ' is ' + key.alg);
      let ok = false;
      if (alg === 'EdDSA') {
        ok = crypto.verify(null, signed, key.key, sig);
      } else {
        ok = sig.length === 64 && crypto.verify('sha256', signed, { key: key.key, dsaEncoding: 'ieee-p1363' }, sig);
      }
      if (!ok) throw new InvalidTokenError('signature');
    } else {
      throw new InvalidTokenError('alg', JSON.stringify(alg) + ' not allowed');
    }
    const claims = parseJSONObject(payloadBytes);
    if (claims === null) throw new InvalidTokenError('malformed', 'payload not a JSON object');
    // JSON.parse reads 1e400 as Infinity: such an exp would never expire.
    if (!Number.isFinite(claims.exp)) throw new InvalidTokenError('malformed', 'no exp, or not a finite number');
    if (Date.now() / 1000 >= claims.exp + leeway) throw new InvalidTokenError('expired');
    if (claims.iss !== ISSUER) throw new InvalidTokenError('issuer');
    if (audience !== undefined) {
      const aud = claims.aud;
      const ok = aud === audience || (Array.isArray(aud) && aud.includes(audience));
      if (!ok) throw new InvalidTokenError('audience');
    }
    if (!isObject(claims.sess)) throw new InvalidTokenError('malformed', 'sess not a JSON object');
    return claims;
  }

  return { verify };
}

function hs256Matches(key, signed, sig) {
  const mac = crypto.createHmac('sha256', key).update(signed).digest();
  return sig.length === mac.length && crypto.timingSafeEqual(sig, mac);
}

/**
 * verify checks token with opts (secret and oldSecrets, or jwksUrl, audience, leeway) and
 * resolves to its claims, or rejects with an InvalidTokenError. It builds
 * a verifier per call: use createVerifier to keep a JWKS cache.
 */
function verify(token, opts) {
  return createVerifier(opts).verify(token);
}

// JWKS is a key set fetched from a URL: cached for maxAge; a token naming
// a kid it does not hold makes it refetch, at most once per cooldown (so a
// stream of made-up kids costs one fetch per cooldown, and a key published
// just after a fetch is still found at once). After a failed fetch none is
// tried for a cooldown, counted from the failure, keys held or not: the
// requests in between fail at once as an outage rather than each wait for
// a JWKS that is down or hangs.
class JWKS {
  constructor(url, opts) {
    this.url = url;
    this.maxAge = opts.jwksMaxAge === undefined ? DEFAULT_JWKS_MAX_AGE : opts.jwksMaxAge;
    this.cooldown = opts.jwksCooldown === undefined ? DEFAULT_JWKS_COOLDOWN : opts.jwksCooldown;
    this.keys = null; // Map kid -> {alg, key}
    this.fetchedAt = 0;
    this.forcedAt = -Infinity; // last refetch for an unknown kid
    this.inflight = null;
    this.failure = null; // {at, err} of the last fetch, when it failed
  }

  async key(kid) {
    const asked = Date.now();
    // A known key verifies at once; an old set is fetched again in the
    // background, so that no request waits for the JWKS (nor for one that
    // hangs), and the key held verifies until then.
    if (this.keys !== null && this.keys.has(kid)) {
      if (Date.now() - this.fetchedAt >= this.maxAge) this.refresh(true).catch(() => {});
      return this.keys.get(kid);
    }
    // A fetch under way (another request's unknown kid: a rotation) may
    // bring this kid too: wait for it, and count it as this one's own
    // refetch, rather than refuse the token.
    const waited = this.inflight !== null;
    if (waited) {
      try {
        await this.inflight;
      } catch (err) {
        if (this.keys === null) throw err; // the outage that fetch met is this request's too
      }
    }
    const failedLately = this.failure !== null && Date.now() - this.failure.at < this.cooldown;
    if (this.keys === null && failedLately && !waited) throw this.failure.err;
    const age = Date.now() - this.fetchedAt;
    if (this.keys === null || age >= this.maxAge) {
      await this.refresh(this.keys !== null);
    } else if (!waited && !failedLately && !this.keys.has(kid) && Date.now() - this.forcedAt >= this.cooldown) {
      this.forcedAt = Date.now();
      await this.refresh(true);
    }
    const key = this.keys.get(kid);
    if (key) return key;
    // The key may have been published (a rotation) while the JWKS is
    // down: an outage, not a bad token, as the other libraries answer it,
    // when the fetch this call waited for failed, or one did lately.
    const f = this.failure;
    if (f !== null && (f.at >= asked || Date.now() - f.at < this.cooldown)) throw f.err;
    return null;
  }

  // refresh fetches the key set once for every caller waiting on it. When
  // the fetch fails and keys are already held (keepOld), they stay in use
  // until the next cooldown; with none held the failure is thrown: an
  // outage, not a bad token.
  refresh(keepOld) {
    if (!this.inflight) {
      this.inflight = this.fetchKeys().then(
        (keys) => {
          this.keys = keys;
          this.fetchedAt = Date.now();
          this.failure = null;
        },
        (err) => {
          this.failure = { at: Date.now(), err };
          if (!keepOld) throw err;
          // Keep the old keys; try again after a cooldown, not per request.
          this.fetchedAt = Math.max(this.fetchedAt, Date.now() - this.maxAge + this.cooldown);
        },
      ).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  async fetchKeys() {
    let body;
    try {
      const res = await fetch(this.url, { signal: AbortSignal.timeout(JWKS_TIMEOUT), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error('status ' + res.status);
      body = JSON.parse(await readCapped(res, MAX_JWKS_BYTES));
    } catch (err) {
      throw outage('sessionproxy: fetching JWKS from ' + this.url + ': ' + err.message, err);
    }
    if (!isObject(body) || !Array.isArray(body.keys)) {
      throw outage('sessionproxy: JWKS from ' + this.url + ' has no "keys" list');
    }
    const keys = new Map();
    for (const jwk of body.keys) {
      const k = importJWK(jwk);
      if (k !== null) keys.set(jwk.kid, k);
    }
    return keys;
  }
}

// MAX_JWKS_BYTES is the largest JWKS read, as the Go library's: a key set
// is a few hundred bytes, and a larger answer is not read into memory whole.
const MAX_JWKS_BYTES = 1 << 20;

// readCapped reads res's body as text, failing past max bytes.
async function readCapped(res, max) {
  const chunks = [];
  let n = 0;
  for await (const chunk of res.body) {
    n += chunk.length;
    if (n > max) throw new Error('the JWKS is larger than ' + max + ' bytes');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

// outage is the error of a key set that cannot be had: status 503, which
// Koa and Express (finalhandler) answer with, as the Go library does; the
// message, which names the URL, stays out of the response.
function outage(message, cause) {
  const err = new Error(message, cause === undefined ? undefined : { cause });
  err.status = 503;
  err.statusCode = 503;
  err.expose = false;
  return err;
}

// importJWK turns one JWKS entry into {alg, key}, or null for a key this
// library does not use (no kid, another use, another type).
function importJWK(jwk) {
  if (!isObject(jwk) || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) return null;
  let alg;
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') alg = 'EdDSA';
  else if (jwk.kty === 'EC' && jwk.crv === 'P-256') alg = 'ES256';
  else return null;
  if (jwk.alg !== undefined && jwk.alg !== alg) return null;
  try {
    const { kty, crv, x, y } = jwk;
    const pub = kty === 'EC' ? { kty, crv, x, y } : { kty, crv, x };
    return { alg, key: crypto.createPublicKey({ key: pub, format: 'jwk' }) };
  } catch {
    return null;
  }
}

module.exports = { InvalidTokenError, createVerifier, verify, ISSUER };
