'use strict';
// The express middleware in a real Express app: express-session's API,
// with the directives written however the route ends its response.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Readable } = require('node:stream');
const express = require('express');
const sessionproxy = require('..');
const { mintToken, readDirectives } = require('../testing');
const { SECRET, listen, request, none, varyCases, writeHeadHeaders, byHand, forms } = require('./helpers');

const user = { name: 'john doe', age: 30 };

async function startApp(t, opts = {}) {
  const app = express();
  const late = [];
  const reported = [];
  app.use(sessionproxy.express({ secret: SECRET, onError: (err) => reported.push(err), ...opts }));
  app.get('/set', (req, res) => {
    req.session.user = { name: 'john doe', age: 30 };
    res.send('session set');
  });
  app.get('/get', (req, res) => {
    if (req.session.user) res.json(req.session.user);
    else res.status(204).end();
  });
  app.get('/destroy', (req, res, next) => {
    req.session.destroy((err) => (err ? next(err) : res.send('session destroyed')));
  });
  app.get('/renew', (req, res, next) => {
    const saved = req.session.user;
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = saved;
      res.send('session renewed');
    });
  });
  app.get('/ids', (req, res) => res.json({ sessionID: req.sessionID, id: req.session.id, keys: Object.keys(req.session) }));
  app.get('/json', (req, res) => {
    req.session.n = 1;
    res.json({ ok: true });
  });
  app.get('/redirect', (req, res) => {
    req.session.n = 2;
    res.redirect('/elsewhere');
  });
  app.get('/end', (req, res) => {
    req.session.n = 3;
    res.end();
  });
  app.get('/pipe', (req, res) => {
    req.session.n = 4;
    Readable.from(['a', 'b', 'c']).pipe(res);
  });
  app.get('/writehead', (req, res) => {
    req.session.n = 5;
    res.writeHead(201, { 'Content-Type': 'text/plain' });
    res.end('made');
  });
  app.get('/maxage', (req, res) => {
    req.session.cookie.maxAge = req.query.ms === 'null' ? null : Number(req.query.ms);
    res.json({ maxAge: req.session.cookie.maxAge });
  });
  app.get('/save', (req, res, next) => {
    req.session.n = 6;
    req.session.save((err) => (err ? next(err) : res.redirect('/')));
  });
  app.get('/reload', (req, res) => {
    req.session.user = 'changed';
    req.session.reload(() => res.json(req.session));
  });
  app.get('/late', (req, res) => {
    res.write('headers out; ');
    try {
      req.session.late = true;
    } catch (err) {
      late.push(err);
    }
    req.session.save((err) => {
      late.push(err);
      req.session.user.age = 99; // nested: no trap can see it, the finish check does
      req.session.save((err2) => {
        late.push(err2);
        res.end('done');
      });
    });
  });
  app.get('/optional', (req, res) => res.json({ session: req.session ?? null, sessionID: req.sessionID ?? null }));
  return { url: await listen(t, app), late, reported };
}

const token = (sess, extra = {}) => mintToken({ secret: SECRET, sess, sid: 'sid-1', ...extra });

test('express: koa-session full application example', async (t) => {
  const { url } = await startApp(t);
  let r = await request(url, '/get', token({}));
  assert.equal(r.status, 204);
  assert.deepEqual(r.directives, none);
  r = await request(url, '/set', token({}));
  assert.equal(r.body, 'session set');
  assert.deepEqual(r.directives, { ...none, set: { user } });
  r = await request(url, '/get', token({ user }));
  assert.deepEqual(JSON.parse(r.body), user);
  assert.deepEqual(r.directives, none);
  // express-session's regenerate() gives an empty session with a new id:
  // the whole new data goes with Destroy.
  r = await request(url, '/renew', token({ user }));
  assert.deepEqual(r.directives, { ...none, destroy: true, set: { user } });
  r = await request(url, '/destroy', token({ user }));
  assert.deepEqual(r.directives, { ...none, destroy: true });
});

test('express: the directives go out however the route ends', async (t) => {
  const { url } = await startApp(t);
  for (const [path, n, status] of [['/json', 1, 200], ['/redirect', 2, 302], ['/end', 3, 200], ['/pipe', 4, 200], ['/writehead', 5, 201], ['/save', 6, 302]]) {
    const r = await request(url, path, token({ user }));
    assert.equal(r.status, status, path);
    assert.deepEqual(r.directives, { ...none, set: { n } }, path);
  }
});

test('express: sessionID, cookie.maxAge, reload', async (t) => {
  const { url } = await startApp(t);
  let r = await request(url, '/ids', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { sessionID: 'sid-1', id: 'sid-1', keys: ['user'] });
  r = await request(url, '/maxage?ms=86400000', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { maxAge: 86400000 });
  assert.deepEqual(r.directives, { ...none, maxAge: 86400000 });
  r = await request(url, '/maxage?ms=null', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { maxAge: null });
  assert.deepEqual(r.directives, { ...none, maxAge: 'session' });
  r = await request(url, '/reload', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { user });
  assert.deepEqual(r.directives, none);
});

test('express: a change after the headers were sent is an error the app sees', async (t) => {
  const { url, late, reported } = await startApp(t);
  const r = await request(url, '/late', token({ user }));
  assert.equal(r.body, 'headers out; done');
  assert.deepEqual(r.directives, none);
  assert.equal(late.length, 3);
  assert.equal(late[0].name, 'LateChangeError', 'a setter after the headers throws');
  assert.equal(late[1], undefined, 'save with nothing changed calls back without an error');
  assert.equal(late[2]?.name, 'LateChangeError', 'save after a nested change calls back with an error');
  assert.equal(reported.length, 1, 'the change is reported once the response finished');
});

test('express: without a valid token', async (t) => {
  const { url } = await startApp(t);
  for (const tok of [undefined, 'a.b.c', mintToken({ secret: 'another-secret-0123456789', sess: {} })]) {
    const r = await request(url, '/get', tok);
    assert.equal(r.status, 401);
  }
  // The reason goes to onRefused (by default a console.info line), not to
  // the client: a secret that differs from the proxy's shows there.
  const refused = [];
  const told = await startApp(t, { onRefused: (err, req) => refused.push([err.reason, req.path]) });
  const refusal = await request(told.url, '/get', mintToken({ secret: 'another-secret-0123456789', sess: {} }));
  assert.equal(refusal.status, 401);
  assert.doesNotMatch(refusal.body, /signature/);
  assert.deepEqual(refused, [['signature', '/get']]);
  const opt = await startApp(t, { optional: true });
  let r = await request(opt.url, '/optional');
  assert.deepEqual(JSON.parse(r.body), { session: null, sessionID: null });
  r = await request(opt.url, '/optional', token({ a: 1 }));
  assert.deepEqual(JSON.parse(r.body), { session: { a: 1 }, sessionID: 'sid-1' });
});

test('express: an empty secret is refused at construction', () => {
  assert.throws(() => sessionproxy.express({ secret: '' }), TypeError);
  assert.throws(() => sessionproxy.express({ secret: SECRET, oldSecrets: [''] }), TypeError);
});

test('express: oldSecrets accepts the previous token.secret, and no other', async (t) => {
  const old = 'node-old-secret-0123456789abcdef';
  const { url } = await startApp(t, { oldSecrets: [old] });
  assert.equal((await request(url, '/get', mintToken({ secret: SECRET, sess: { user } }))).status, 200);
  assert.equal((await request(url, '/get', mintToken({ secret: old, sess: { user } }))).status, 200);
  assert.equal((await request(url, '/get', mintToken({ secret: 'another-secret-0123456789', sess: {} }))).status, 401);
  const without = await startApp(t);
  assert.equal((await request(without.url, '/get', mintToken({ secret: old, sess: { user } }))).status, 401);
});

test('express: data keys named like Session members are kept, not lost', async (t) => {
  const { url } = await startApp(t);
  const sess = { cookie: 'c', id: 'i', save: 's', user };
  let r = await request(url, '/json', token(sess));
  assert.deepEqual(r.directives, { ...none, set: { n: 1 } });
  r = await request(url, '/reload', token(sess));
  assert.deepEqual(JSON.parse(r.body), { user });
  assert.deepEqual(r.directives, none);
});

test('express: mounted twice, one session, and each mount its own check', async (t) => {
  const app = express();
  app.use(sessionproxy.express({ secret: SECRET, optional: true }));
  app.use('/private', sessionproxy.express({ secret: SECRET }));
  app.get('/private/set', (req, res) => {
    req.session.user = 'bob';
    res.send('ok');
  });
  const url = await listen(t, app);
  let r = await request(url, '/private/set', token({ a: 1 }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.directives, { ...none, set: { user: 'bob' } });
  r = await request(url, '/private/set');
  assert.equal(r.status, 401, 'optional on the app does not make the router\'s required mount optional');
});

test('express: nulls the session arrived with are no change', async (t) => {
  const { url } = await startApp(t);
  const r = await request(url, '/get', token({ user, ref: null, prefs: { theme: null }, cart: [null] }));
  assert.deepEqual(JSON.parse(r.body), user);
  assert.deepEqual(r.directives, none);
});

test('express: a header name names the directives too', async (t) => {
  const { url } = await startApp(t, { header: 'X-App-Session' });
  const r = await request(url, '/set', undefined, { 'X-App-Session': token({}) });
  assert.deepEqual(readDirectives(r.headers, 'X-App-Session'), { ...none, set: { user } });
  assert.deepEqual(r.directives, none, 'nothing under the default X-Session-* names');
});

test('express: a cookie.maxAge set in regenerate\'s callback goes with the new session', async (t) => {
  const app = express();
  app.use(sessionproxy.express({ secret: SECRET }));
  app.get('/', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.cookie.maxAge = 5000;
      res.send('ok');
    });
  });
  const url = await listen(t, app);
  const r = await request(url, '/', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, destroy: true, maxAge: 5000 });
});

test('readDirectives reads a Node client response too', async (t) => {
  const http = require('node:http');
  const url = await listen(t, (req, res) => {
    res.setHeader('X-Session-Set', '{"a":1}');
    res.end();
  });
  const res = await new Promise((resolve, reject) => http.get(url, resolve).on('error', reject));
  res.resume();
  assert.deepEqual(readDirectives(res), { ...none, set: { a: 1 } });
});

test('readDirectives tells a destroy from the end of the user\'s other sessions', () => {
  const read = (v) => readDirectives({ 'x-session-destroy': v });
  assert.deepEqual(read('true'), { ...none, destroy: true });
  assert.deepEqual(read('1'), { ...none, destroy: true });
  assert.deepEqual(read('others'), { ...none, destroyOthers: true });
  assert.deepEqual(read('all'), { ...none, destroy: true, destroyOthers: true });
});

test('express: a session that cannot be encoded is a 500 told to onError, however the response is made, never a crash', async (t) => {
  // Express has no hook before a pipe's first write, and catches nothing
  // thrown from a pipe, a callback or its final handler: each of these
  // ended the process.
  const reported = [];
  const app = express();
  app.use(sessionproxy.express({ secret: SECRET, onError: (err) => reported.push(err) }));
  const files = [];
  const bodies = {
    '/send': (req, res) => res.send('ok'),
    '/later': (req, res) => setTimeout(() => res.send('ok'), 5),
    '/throw': () => {
      throw new Error('the route failed');
    },
    '/pipe': (req, res) => Readable.from(['a', 'b']).pipe(res),
    '/file': (req, res) => {
      const file = fs.createReadStream(__filename);
      files.push(file);
      file.pipe(res);
    },
    '/sendfile': (req, res) => res.sendFile(__filename),
  };
  const values = {
    bigint: () => 10n, // JSON cannot hold a BigInt (Prisma's BigInt column)
    cycle: () => {
      const c = { a: 1 };
      c.self = c;
      return c;
    },
  };
  app.get('/:value/:body', (req, res, next) => {
    if (req.params.value !== 'ok') req.session.bad = values[req.params.value]();
    return bodies['/' + req.params.body](req, res, next);
  });
  const url = await listen(t, app);
  for (const value of Object.keys(values)) {
    for (const body of Object.keys(bodies)) {
      const path = '/' + value + body;
      reported.length = 0;
      const r = await request(url, path, token({}));
      assert.equal(r.status, 500, path);
      assert.equal(r.body, 'Internal Server Error\n', path);
      assert.deepEqual(r.directives, none, path);
      assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8', path);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(reported.length, 1, path);
      assert.match(String(reported[0]), value === 'bigint' ? /BigInt/ : /circular/, path);
    }
  }
  assert.equal(files.length, 2);
  for (const file of files) assert.equal(file.destroyed, true, 'the file is released');
  const r = await request(url, '/ok/pipe', token({}));
  assert.equal(r.status, 200, 'the next request is served');
  assert.equal(r.body, 'ab');
});

test('express: a change that cannot be encoded, made after the headers were sent, is reported, not a crash', async (t) => {
  const app = express();
  const reported = [];
  app.use(sessionproxy.express({ secret: SECRET, onError: (err) => reported.push(err) }));
  const saved = [];
  app.get('/', (req, res) => {
    res.write('headers out; ');
    req.session.user.big = 10n; // nested: no trap sees it; JSON cannot hold a BigInt
    req.session.save((err) => {
      saved.push(err);
      res.end('done');
    });
  });
  const url = await listen(t, app);
  const r = await request(url, '/', token({ user }));
  assert.equal(r.body, 'headers out; done');
  assert.equal(saved[0]?.name, 'LateChangeError', 'save calls back with the error instead of throwing');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reported.length, 1, 'the change is reported once the response finished');
  assert.equal(reported[0].name, 'LateChangeError');
});

test('express: destroyOthers(cb) and destroyAll(cb) end the user\'s other sessions', async (t) => {
  const app = express();
  const late = [];
  app.use(sessionproxy.express({ secret: SECRET }));
  const ok = (res, next) => (err) => (err ? next(err) : res.send('ok'));
  app.get('/others', (req, res, next) => req.session.destroyOthers(ok(res, next)));
  app.get('/others-no-callback', (req, res) => {
    req.session.destroyOthers();
    req.session.b = 2;
    res.send('ok');
  });
  // express-session's login: regenerate, then fill the new session. Its
  // user is the one whose other sessions end.
  app.get('/login-others', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.user = { id: 2 };
      req.session.destroyOthers(ok(res, next));
    });
  });
  app.get('/all', (req, res, next) => req.session.destroyAll(ok(res, next)));
  app.get('/all-then-new', (req, res, next) => {
    req.session.destroyAll((err) => {
      if (err) return next(err);
      req.session = { a: 2 };
      res.send('ok');
    });
  });
  app.get('/others-then-destroy', (req, res, next) => {
    req.session.destroyOthers();
    req.session.destroy(ok(res, next));
  });
  // regenerate() with nothing put in the new session is a destroy (it
  // sends X-Session-Destroy: true): with destroyOthers(), in either
  // order, the user it had is logged out everywhere, as with destroy().
  app.get('/regenerate-then-others', (req, res, next) => {
    req.session.regenerate((err) => {
      if (err) return next(err);
      req.session.destroyOthers(ok(res, next));
    });
  });
  app.get('/others-then-regenerate', (req, res, next) => {
    req.session.destroyOthers();
    req.session.regenerate(ok(res, next));
  });
  app.get('/destroy-then-others', (req, res, next) => {
    const session = req.session;
    session.destroy();
    session.destroyOthers(ok(res, next));
  });
  app.get('/late', (req, res) => {
    const session = req.session;
    res.send('ok');
    session.destroyOthers((err) => late.push(err));
    try {
      session.destroyAll();
    } catch (err) {
      late.push(err);
    }
  });
  const url = await listen(t, app);
  const cases = [
    ['/others', { ...none, destroyOthers: true }],
    ['/others-no-callback', { ...none, destroyOthers: true, set: { b: 2 } }],
    ['/login-others', { ...none, destroyOthers: true, renew: true, set: { a: null, user: { id: 2 } } }],
    ['/all', { ...none, destroy: true, destroyOthers: true }],
    ['/all-then-new', { ...none, destroy: true, destroyOthers: true, set: { a: 2 } }],
    ['/others-then-destroy', { ...none, destroy: true, destroyOthers: true }],
    ['/destroy-then-others', { ...none, destroy: true, destroyOthers: true }],
    ['/regenerate-then-others', { ...none, destroy: true, destroyOthers: true }],
    ['/others-then-regenerate', { ...none, destroy: true, destroyOthers: true }],
  ];
  for (const [path, want] of cases) {
    const r = await request(url, path, token({ a: 1 }));
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.directives, want, path);
  }
  const r = await request(url, '/late', token({ a: 1 }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(r.directives, none);
  assert.deepEqual(late.map((err) => err?.name), ['LateChangeError', 'LateChangeError'], 'refused as destroy(cb) is');
});

test('express: a response that read or changed req.session varies on Cookie; one that did not, not', async (t) => {
  const app = express();
  app.use(sessionproxy.express({ secret: SECRET }));
  app.use((req, res, next) => {
    if (req.query.vary !== undefined) res.set('Vary', req.query.vary);
    next();
  });
  app.get('/plain', (req, res) => res.send('plain'));
  app.get('/get', (req, res) => res.json(req.session.user));
  app.get('/id', (req, res) => res.send(String(req.sessionID)));
  app.get('/set', (req, res) => {
    req.session.n = 1;
    res.send('ok');
  });
  app.get('/writehead', (req, res) => { // with its Vary among the headers given
    const name = req.session.user.name;
    res.writeHead(200, writeHeadHeaders(req.query, { 'X-User': name }));
    res.end('raw');
  });
  const url = await listen(t, app);
  const tok = token({ user });
  for (const [path, want] of varyCases) {
    const r = await request(url, path, tok);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('vary'), want, path);
  }
});

test('express: directives given by hand to res.writeHead are replaced by the session\'s', async (t) => {
  const app = express();
  app.use(sessionproxy.express({ secret: SECRET }));
  app.get('/', (req, res) => {
    req.session.n = 1;
    res.writeHead(200, writeHeadHeaders(req.query, byHand));
    res.end('raw');
  });
  // Only the proxy's names, from the header option: X-Session-Set is the app's own then.
  const named = express();
  named.use(sessionproxy.express({ secret: SECRET, header: 'X-App-Session' }));
  named.get('/', (req, res) => {
    res.writeHead(200, writeHeadHeaders(req.query, { 'x-app-session-set': '{"hand":1}', 'X-Session-Set': '{"own":1}' }));
    res.end('raw');
  });
  const url = await listen(t, app);
  const namedURL = await listen(t, named);
  for (const form of forms) {
    let r = await request(url, '/?form=' + form, token({ a: 1 }));
    assert.equal(r.status, 200, form);
    assert.deepEqual(r.directives, { ...none, set: { n: 1 } }, form);
    assert.equal(r.headers.get('x-other'), 'kept', form);
    r = await request(namedURL, '/?form=' + form, undefined, { 'X-App-Session': token({ a: 1 }) });
    assert.deepEqual(readDirectives(r.headers, 'X-App-Session'), none, form);
    assert.equal(r.headers.get('x-session-set'), '{"own":1}', form);
  }
});
