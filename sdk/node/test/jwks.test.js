'use strict';
// EdDSA and ES256 tokens verified with keys from a JWKS URL: keys made
// here, served from a local server on a random port.

const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { createVerifier, InvalidTokenError } = require('..');
const { mintToken } = require('../testing');
const { listen } = require('./helpers');

function newKey(type, kid) {
  const { publicKey, privateKey } = type === 'ed25519'
    ? crypto.generateKeyPairSync('ed25519')
    : crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = type === 'ed25519' ? 'EdDSA' : 'ES256';
  return { kid, alg, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' } };
}

function sign(key, claims, header = {}) {
  const enc = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const signed = enc({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }) + '.' + enc(claims);
  const sig = key.alg === 'EdDSA'
    ? crypto.sign(null, Buffer.from(signed), key.privateKey)
    : crypto.sign('sha256', Buffer.from(signed), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return signed + '.' + sig.toString('base64url');
}

const claims = () => ({ sid: 's', sess: { user: 'john' }, new: false, iss: 'sessionproxy', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 60 });

async function jwksServer(t, keys) {
  const served = { keys, fetches: 0, hang: null }; // hang: a promise a fetch waits for (a JWKS that hangs)
  const url = await listen(t, async (req, res) => {
    served.fetches++;
    if (served.hang) await served.hang;
    if (served.fail) {
      res.statusCode = 503;
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ keys: served.keys.map((k) => k.jwk), pad: 'x'.repeat(served.pad || 0) }));
  });
  served.url = url + '/.well-known/jwks.json';
  return served;
}

const refused = (reason) => (err) => {
  assert.ok(err instanceof InvalidTokenError, String(err));
  assert.equal(err.reason, reason);
  return true;
};

test('EdDSA and ES256 from a JWKS, an unknown kid refetched once', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const es = newKey('p256', 'es-1');
  const srv = await jwksServer(t, [ed, es]);
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 60_000 });

  const c = claims();
  assert.deepEqual(await v.verify(sign(ed, c)), c);
  assert.deepEqual(await v.verify(sign(es, c)), c);
  assert.equal(srv.fetches, 1, 'the key set is fetched once and cached');

  // A key published after the first fetch: one refetch finds it.
  const ed2 = newKey('ed25519', 'ed-2');
  srv.keys = [ed, es, ed2];
  assert.deepEqual(await v.verify(sign(ed2, c)), c);
  assert.equal(srv.fetches, 2);

  // An unknown kid within the cooldown: refused without a fetch.
  await assert.rejects(v.verify(sign(newKey('ed25519', 'nobody'), c)), refused('kid'));
  assert.equal(srv.fetches, 2, 'refetches are rate-limited');

  // Refused for what the token is, not for the key set.
  // One character of the signature changed to another: writing fixed
  // characters over its end would leave it as it was if it ended in them.
  const token = sign(ed, c);
  const i = token.length - 10;
  const tampered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1);
  await assert.rejects(v.verify(tampered), refused('signature'));
  await assert.rejects(v.verify(sign({ ...es, alg: 'ES256' }, c, { kid: 'ed-1' })), refused('alg'));
  await assert.rejects(v.verify(sign(ed, c, { kid: undefined })), refused('kid'));
  await assert.rejects(v.verify(sign(ed, { ...c, exp: 1 })), refused('expired'));
  await assert.rejects(v.verify(mintToken({ secret: 'a-secret-that-is-not-configured', sess: {} })), refused('alg'));
  const der = crypto.sign('sha256', Buffer.from('x'), es.privateKey).toString('base64url');
  const [h, p] = sign(es, c).split('.');
  await assert.rejects(v.verify(h + '.' + p + '.' + der), refused('signature'));
  assert.equal(srv.fetches, 2);
});

test('JWKS: without a cooldown every unknown kid refetches once', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 0 });
  await v.verify(sign(ed, claims()));
  assert.equal(srv.fetches, 1);
  await assert.rejects(v.verify(sign(newKey('p256', 'gone'), claims())), refused('kid'));
  assert.equal(srv.fetches, 2);
  // Concurrent requests share one fetch.
  await Promise.all([1, 2, 3].map(() => assert.rejects(v.verify(sign(newKey('p256', 'gone'), claims())), refused('kid'))));
  assert.equal(srv.fetches, 3);
});

test('JWKS: requests that arrive together with a rotated key all wait for its one refetch', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 60_000 });
  await v.verify(sign(ed, claims()));
  const ed2 = newKey('ed25519', 'ed-2');
  srv.keys = [ed, ed2];
  const results = await Promise.allSettled([1, 2, 3].map(() => v.verify(sign(ed2, claims()))));
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled']);
  assert.equal(srv.fetches, 2);
});

test('JWKS: a known key never waits for the key set, even one that hangs', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const v = createVerifier({ jwksUrl: srv.url, jwksMaxAge: 0 }); // every use finds the set old
  await v.verify(sign(ed, claims()));
  let release;
  srv.hang = new Promise((resolve) => { release = resolve; });
  t.after(() => release());
  // The guard is shorter than the 5 s a JWKS request may take: a
  // deadlock guard, not a speed check.
  let timer;
  const guard = new Promise((resolve) => { timer = setTimeout(resolve, 2000, 'waited for the JWKS'); });
  const results = await Promise.race([Promise.all([1, 2, 3].map(() => v.verify(sign(ed, claims())))), guard]);
  clearTimeout(timer);
  assert.deepEqual(Array.isArray(results) ? results.map((c) => c.sid) : results, ['s', 's', 's'], 'verified while the refetch hangs');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(srv.fetches, 2, 'one background refetch for all three');
});

test('JWKS: requests that arrive during a failing first fetch share it', async (t) => {
  let fetches = 0;
  const url = await listen(t, (req, res) => {
    fetches++;
    setTimeout(() => { res.statusCode = 503; res.end(); }, 100);
  });
  const v = createVerifier({ jwksUrl: url + '/.well-known/jwks.json' });
  const ed = newKey('ed25519', 'ed-1');
  const outage = (err) => !(err instanceof InvalidTokenError) && /fetching JWKS/.test(err.message);
  const first = v.verify(sign(ed, claims()));
  await new Promise((resolve) => setTimeout(resolve, 20));
  await Promise.all([assert.rejects(first, outage), assert.rejects(v.verify(sign(ed, claims())), outage)]);
  assert.equal(fetches, 1, 'one fetch for both');
});

test('JWKS: after a failed first fetch, requests fail at once until the cooldown (10 s by default) has passed', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  srv.fail = true;
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const v = createVerifier({ jwksUrl: srv.url });
  const outage = (err) => err.status === 503 && /fetching JWKS/.test(err.message);
  await assert.rejects(v.verify(sign(ed, claims())), outage);
  for (let i = 0; i < 3; i++) await assert.rejects(v.verify(sign(ed, claims())), outage);
  t.mock.timers.tick(9_000);
  await assert.rejects(v.verify(sign(ed, claims())), outage);
  assert.equal(srv.fetches, 1, 'no request waits for a fetch that failed lately');
  t.mock.timers.tick(1_000);
  srv.fail = false;
  assert.equal((await v.verify(sign(ed, claims()))).sid, 's', 'fetched again after the cooldown');
  assert.equal(srv.fetches, 2);
});

test('JWKS: requests that arrive while a first fetch hangs share it, and the ones after it fail at once', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  srv.fail = true;
  let release;
  srv.hang = new Promise((resolve) => { release = resolve; });
  t.after(() => release());
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 30_000 });
  const outage = (err) => err.status === 503 && /fetching JWKS/.test(err.message);
  const during = [1, 2, 3].map(() => assert.rejects(v.verify(sign(ed, claims())), outage));
  while (srv.fetches === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  t.mock.timers.tick(5_000); // it hangs until its timeout, then fails
  release();
  await Promise.all(during);
  srv.hang = null;
  await assert.rejects(v.verify(sign(ed, claims())), outage);
  assert.equal(srv.fetches, 1, 'one fetch for the three, none right after it failed');
});

test('JWKS: an unknown kid while the key set cannot be fetched is an outage, not a bad token', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 60_000 });
  await v.verify(sign(ed, claims()));
  srv.fail = true;
  const outage = (err) => !(err instanceof InvalidTokenError) && /fetching JWKS/.test(err.message);
  await assert.rejects(v.verify(sign(newKey('p256', 'es-new'), claims())), outage); // its refetch fails
  await assert.rejects(v.verify(sign(newKey('p256', 'es-newer'), claims())), outage); // no refetch so soon; the last one failed
  assert.equal((await v.verify(sign(ed, claims()))).sid, 's', 'a known key verifies meanwhile');
  assert.equal(srv.fetches, 2);
});

test('JWKS: an unknown kid whose refetch fails is an outage, with no cooldown too', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const v = createVerifier({ jwksUrl: srv.url, jwksCooldown: 0 }); // every unknown kid fetches
  await v.verify(sign(ed, claims()));
  srv.fail = true;
  await assert.rejects(v.verify(sign(newKey('p256', 'es-new'), claims())), (err) => !(err instanceof InvalidTokenError) && /fetching JWKS/.test(err.message));
});

test('JWKS: a key set past 1 MiB is an outage, not read whole (as in the Go library)', async (t) => {
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  srv.pad = 2 << 20;
  const v = createVerifier({ jwksUrl: srv.url });
  await assert.rejects(v.verify(sign(ed, claims())), (err) => err.status === 503 && /larger than/.test(err.message));
});

test('JWKS: an unreachable key set is an outage, not a bad token', async (t) => {
  const srv = await jwksServer(t, []);
  const v = createVerifier({ jwksUrl: 'http://127.0.0.1:1/jwks.json' });
  await assert.rejects(v.verify(sign(newKey('ed25519', 'k'), claims())), (err) => !(err instanceof InvalidTokenError) && /fetching JWKS/.test(err.message));
  assert.equal(srv.fetches, 0);
});

test('JWKS in the koa middleware', async (t) => {
  const Koa = require('koa');
  const sessionproxy = require('..');
  const es = newKey('p256', 'es-1');
  const srv = await jwksServer(t, [es]);
  const app = new Koa();
  app.use(sessionproxy.koa({ jwksUrl: srv.url }));
  app.use((ctx) => { ctx.body = ctx.session.toJSON(); });
  const url = await listen(t, app.callback());
  const res = await fetch(url, { headers: { 'X-Session': sign(es, claims()) } });
  assert.deepEqual(await res.json(), { user: 'john' });
  assert.equal((await fetch(url)).status, 401);
});

test('JWKS in the fastify plugin', async (t) => {
  const sessionproxy = require('..');
  const ed = newKey('ed25519', 'ed-1');
  const srv = await jwksServer(t, [ed]);
  const app = require('fastify')();
  t.after(() => app.close());
  app.register(sessionproxy.fastify, { jwksUrl: srv.url });
  app.get('/', async (request) => ({ ...request.session }));
  const res = await app.inject({ url: '/', headers: { 'X-Session': sign(ed, claims()) } });
  assert.deepEqual(JSON.parse(res.body), { user: 'john' });
  assert.equal((await app.inject({ url: '/' })).statusCode, 401);
});

test('JWKS: an outage is answered 503 by Koa, Express and Fastify, not 401 nor 500', async (t) => {
  const Koa = require('koa');
  const express = require('express');
  const sessionproxy = require('..');
  const jwksUrl = 'http://127.0.0.1:1/jwks.json'; // nothing listens there
  const token = sign(newKey('ed25519', 'k'), claims());
  const app = new Koa();
  app.silent = true;
  app.use(sessionproxy.koa({ jwksUrl }));
  app.use((ctx) => { ctx.body = 'ok'; });
  const seen = [];
  const eapp = express();
  eapp.use(sessionproxy.express({ jwksUrl }));
  eapp.get('/', (req, res) => res.send('ok'));
  eapp.use((err, req, res, next) => {
    seen.push(err);
    next(err);
  });
  let res = await fetch(await listen(t, app.callback()), { headers: { 'X-Session': token } });
  assert.equal(res.status, 503, 'koa');
  assert.equal(await res.text(), 'Service Unavailable', 'the JWKS URL stays out of the response');
  res = await fetch(await listen(t, eapp), { headers: { 'X-Session': token } });
  assert.equal(res.status, 503, 'express');
  assert.match(String(seen[0]), /fetching JWKS/, 'the error middleware sees the cause');
  const fapp = require('fastify')();
  t.after(() => fapp.close());
  fapp.register(sessionproxy.fastify, { jwksUrl });
  fapp.get('/', async () => 'ok');
  fapp.setErrorHandler((err, request, reply) => {
    seen.push(err);
    reply.send(err);
  });
  const r = await fapp.inject({ url: '/', headers: { 'X-Session': token } });
  assert.equal(r.statusCode, 503, 'fastify');
  assert.doesNotMatch(r.body, /127\.0\.0\.1|jwks\.json/, 'the JWKS URL stays out of the response');
  assert.match(String(seen[1].cause), /fetching JWKS/, 'the error handler sees the cause');
});

test('JWKS: in an outage an optional route runs without a session in Koa, Express and Fastify; a required one gets 503', async (t) => {
  const Koa = require('koa');
  const express = require('express');
  const sessionproxy = require('..');
  const jwksUrl = 'http://127.0.0.1:1/jwks.json'; // nothing listens there
  const token = sign(newKey('ed25519', 'k'), claims());
  const app = new Koa();
  app.silent = true;
  app.use(sessionproxy.koa({ jwksUrl, optional: (ctx) => ctx.path === '/optional' }));
  app.use((ctx) => { ctx.body = { session: ctx.session }; });
  const eapp = express();
  eapp.set('env', 'test'); // finalhandler: no stack on stderr for the 503
  eapp.use(sessionproxy.express({ jwksUrl, optional: (req) => req.path === '/optional' }));
  eapp.use((req, res) => res.json({ session: req.session ?? null }));
  for (const [name, url] of [['koa', await listen(t, app.callback())], ['express', await listen(t, eapp)]]) {
    let res = await fetch(url + '/optional', { headers: { 'X-Session': token } });
    assert.equal(res.status, 200, name);
    assert.deepEqual(await res.json(), { session: null }, name);
    res = await fetch(url + '/required', { headers: { 'X-Session': token } });
    assert.equal(res.status, 503, name);
  }
  const fapp = require('fastify')();
  t.after(() => fapp.close());
  fapp.register(sessionproxy.fastify, { jwksUrl, optional: (request) => request.url === '/optional' });
  fapp.get('/*', async (request) => ({ session: request.session }));
  let r = await fapp.inject({ url: '/optional', headers: { 'X-Session': token } });
  assert.equal(r.statusCode, 200, 'fastify');
  assert.deepEqual(JSON.parse(r.body), { session: null }, 'fastify');
  r = await fapp.inject({ url: '/required', headers: { 'X-Session': token } });
  assert.equal(r.statusCode, 503, 'fastify');
});
