'use strict';
// The fastify plugin in a real Fastify app, through inject(): the API of
// @fastify/session's request.session, with the directives written however
// the route ends its reply.

const test = require('node:test');
const assert = require('node:assert/strict');
const { Readable } = require('node:stream');
const Fastify = require('fastify');
const sessionproxy = require('..');
const { mintToken, readDirectives } = require('../testing');
const { SECRET, inject, none, varyCases, writeHeadHeaders, byHand, forms } = require('./helpers');

const user = { name: 'john doe', age: 30 };

// newApp is a Fastify app with the plugin registered, closed when the
// test ends.
function newApp(t, opts = {}) {
  const app = Fastify();
  app.register(sessionproxy.fastify, { secret: SECRET, ...opts });
  t.after(() => app.close());
  return app;
}

// startApp is koa-session's full application example in Fastify, with
// @fastify/session's API, plus routes for the rest of it.
function startApp(t, opts = {}) {
  const late = [];
  const reported = [];
  const app = newApp(t, { onError: (err) => reported.push(err), ...opts });
  app.get('/set', async (request) => {
    request.session.set('user', { name: 'john doe', age: 30 });
    return 'session set';
  });
  app.get('/get', async (request, reply) => {
    const u = request.session.get('user');
    if (u) return u;
    return reply.code(204).send();
  });
  app.get('/destroy', async (request) => {
    await request.session.destroy();
    return String(request.session);
  });
  app.get('/destroy-cb', (request, reply) => {
    request.session.destroy((err) => reply.send(err ?? 'session destroyed'));
  });
  app.get('/renew', async (request) => {
    await request.session.regenerate(Object.keys(request.session));
    return 'session renewed';
  });
  app.get('/regenerate', async (request) => {
    const before = request.session.sessionId;
    await request.session.regenerate(request.query.keep ? request.query.keep.split(',') : undefined);
    return { before, after: request.session.sessionId ?? null, data: { ...request.session } };
  });
  app.get('/regenerate-cb', (request, reply) => {
    request.session.regenerate(['user'], (err) => {
      if (err) return reply.send(err);
      request.session.n = 1;
      return reply.send('ok');
    });
  });
  app.get('/props', async (request) => {
    request.session.b = request.session.a + 1;
    delete request.session.a;
    request.session.set('c', undefined);
    request.session.set('d', null);
    return { sessionId: request.session.sessionId, keys: Object.keys(request.session), json: JSON.stringify(request.session) };
  });
  app.get('/maxage', async (request) => {
    request.session.cookie.maxAge = request.query.ms === 'null' ? null : Number(request.query.ms);
    return { maxAge: request.session.cookie.maxAge };
  });
  app.get('/options', async (request) => {
    request.session.options(JSON.parse(request.query.opts));
    return { maxAge: request.session.cookie.maxAge };
  });
  app.get('/replace', async (request) => {
    request.session = { a: 1 };
    return 'replaced';
  });
  app.get('/unset', async (request) => {
    request.session = null;
    return 'unset';
  });
  app.get('/reload', async (request) => {
    request.session.user = 'changed';
    const changed = request.session.isModified();
    await request.session.reload();
    return { changed, now: request.session.isModified(), session: request.session };
  });
  app.get('/save', async (request) => {
    request.session.n = 6;
    request.session.touch();
    await request.session.save();
    return 'saved';
  });
  app.get('/late', (request, reply) => {
    reply.hijack();
    reply.raw.write('headers out; ');
    try {
      request.session.late = true;
    } catch (err) {
      late.push(err);
    }
    request.session.save((err) => {
      late.push(err);
      request.session.user.age = 99; // nested: no trap can see it, the finish check does
      request.session.save().catch((err2) => late.push(err2)).finally(() => reply.raw.end('done'));
    });
  });
  app.get('/optional', async (request) => ({ session: request.session }));
  return { app, late, reported };
}

const token = (sess, extra = {}) => mintToken({ secret: SECRET, sess, sid: 'sid-1', ...extra });

test('fastify: koa-session full application example', async (t) => {
  const { app } = startApp(t);
  let r = await inject(app, '/get', token({}));
  assert.equal(r.status, 204);
  assert.deepEqual(r.directives, none);
  r = await inject(app, '/set', token({}));
  assert.equal(r.body, 'session set');
  assert.deepEqual(r.directives, { ...none, set: { user } });
  r = await inject(app, '/get', token({ user }));
  assert.deepEqual(JSON.parse(r.body), user);
  assert.deepEqual(r.directives, none);
  // @fastify/session's regenerate() gives a session with a new id and
  // only the fields named: the whole new data goes with Destroy.
  r = await inject(app, '/renew', token({ user }));
  assert.equal(r.body, 'session renewed');
  assert.deepEqual(r.directives, { ...none, destroy: true, set: { user } });
  r = await inject(app, '/destroy', token({ user }));
  assert.equal(r.body, 'null', 'request.session is null after destroy(), as in @fastify/session');
  assert.deepEqual(r.directives, { ...none, destroy: true });
  r = await inject(app, '/destroy-cb', token({ user }));
  assert.equal(r.body, 'session destroyed');
  assert.deepEqual(r.directives, { ...none, destroy: true });
});

test('fastify: the rest of the Session API', async (t) => {
  const { app } = startApp(t);
  let r = await inject(app, '/props', token({ a: 1, c: 3, d: 4, _private: 5 }));
  assert.deepEqual(JSON.parse(r.body), { sessionId: 'sid-1', keys: ['b'], json: '{"b":2}' });
  assert.deepEqual(r.directives, { ...none, set: { a: null, b: 2, c: null, d: null } });
  r = await inject(app, '/maxage?ms=86400000', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { maxAge: 86400000 });
  assert.deepEqual(r.directives, { ...none, maxAge: 86400000 });
  r = await inject(app, '/maxage?ms=null', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { maxAge: null });
  assert.deepEqual(r.directives, { ...none, maxAge: 'session' });
  r = await inject(app, '/maxage?ms=0', token({ user }));
  assert.equal(r.status, 500, 'the proxy has no "expire now": destroy the session instead');
  assert.deepEqual(r.directives, none);
  r = await inject(app, '/options?opts=' + encodeURIComponent('{"maxAge":3600000}'), token({ user }));
  assert.deepEqual(r.directives, { ...none, maxAge: 3600000 });
  r = await inject(app, '/options?opts=' + encodeURIComponent('{"secure":true}'), token({ user }));
  assert.equal(r.status, 500, "the cookie's other attributes are the proxy's");
  r = await inject(app, '/replace', token({ user, b: 2 }));
  assert.deepEqual(r.directives, { ...none, set: { user: null, b: null, a: 1 } });
  r = await inject(app, '/unset', token({ user }));
  assert.deepEqual(r.directives, { ...none, destroy: true });
  r = await inject(app, '/reload', token({ user }));
  assert.deepEqual(JSON.parse(r.body), { changed: true, now: false, session: { user } });
  assert.deepEqual(r.directives, none);
  r = await inject(app, '/save', token({ user }));
  assert.equal(r.body, 'saved');
  assert.deepEqual(r.directives, { ...none, set: { n: 6 } });
});

test('fastify: regenerate() keeps only the fields named, and the proxy picks the new id', async (t) => {
  const { app } = startApp(t);
  const sess = { user, cart: 3 };
  let r = await inject(app, '/regenerate', token(sess));
  assert.deepEqual(JSON.parse(r.body), { before: 'sid-1', after: null, data: {} });
  assert.deepEqual(r.directives, { ...none, destroy: true });
  r = await inject(app, '/regenerate?keep=user,absent', token(sess));
  assert.deepEqual(JSON.parse(r.body), { before: 'sid-1', after: null, data: { user } });
  assert.deepEqual(r.directives, { ...none, destroy: true, set: { user } });
  r = await inject(app, '/regenerate-cb', token(sess));
  assert.deepEqual(r.directives, { ...none, destroy: true, set: { user, n: 1 } });
});

test('fastify: the directives go out however the route ends its reply', async (t) => {
  const app = newApp(t);
  const routes = {
    '/return': async (request) => {
      request.session.n = 1;
      return { ok: true };
    },
    '/send': (request, reply) => {
      request.session.n = 2;
      reply.send('sent');
    },
    '/redirect': (request, reply) => {
      request.session.n = 3;
      reply.redirect('/elsewhere');
    },
    '/empty': (request, reply) => {
      request.session.n = 4;
      reply.code(204).send();
    },
    '/stream': (request, reply) => {
      request.session.n = 5;
      reply.send(Readable.from(['a', 'b', 'c']));
    },
    '/raw': (request, reply) => {
      request.session.n = 6;
      reply.hijack();
      reply.raw.writeHead(201, { 'Content-Type': 'text/plain' });
      reply.raw.end('made');
    },
    '/raw-write': (request, reply) => {
      request.session.n = 7;
      reply.hijack();
      reply.raw.write('a');
      reply.raw.end('b');
    },
    '/error': async (request) => {
      request.session.n = 8;
      throw Object.assign(new Error('nope'), { statusCode: 409 });
    },
    '/by-hand': (request, reply) => {
      request.session.n = 9;
      reply.header('X-Session-Destroy', 'true').header('x-session-renew', 'true').send('ok');
    },
  };
  for (const [path, handler] of Object.entries(routes)) app.get(path, handler);
  for (const [path, n, status] of [['/return', 1, 200], ['/send', 2, 200], ['/redirect', 3, 302], ['/empty', 4, 204], ['/stream', 5, 200],
    ['/raw', 6, 201], ['/raw-write', 7, 200], ['/error', 8, 409], ['/by-hand', 9, 200]]) {
    const r = await inject(app, path, token({ user }));
    assert.equal(r.status, status, path);
    assert.deepEqual(r.directives, { ...none, set: { n } }, path);
  }
});

test('fastify: without a valid token', async (t) => {
  const { app } = startApp(t);
  const seen = [];
  app.setErrorHandler((err, request, reply) => {
    seen.push([err.statusCode, err.reason]);
    reply.send(err);
  });
  for (const tok of [undefined, 'garbage', mintToken({ secret: 'another-secret-0123456789', sess: {} }), token({}, { ttl: -60 })]) {
    const r = await inject(app, '/get', tok);
    assert.equal(r.status, 401);
    assert.doesNotMatch(r.body, /signature|expired|malformed/, 'the reason is not the client\'s');
    assert.deepEqual(r.directives, none);
  }
  assert.deepEqual(seen, [[401, 'malformed'], [401, 'malformed'], [401, 'signature'], [401, 'expired']], 'the error handler sees why');
  const opt = startApp(t, { optional: (request) => request.url === '/optional' }).app;
  let r = await inject(opt, '/optional');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { session: null });
  r = await inject(opt, '/get');
  assert.equal(r.status, 401);
  r = await inject(opt, '/optional', token({ a: 1 }));
  assert.deepEqual(JSON.parse(r.body), { session: { a: 1 } });
  const all = startApp(t, { optional: true }).app;
  r = await inject(all, '/optional', 'garbage');
  assert.deepEqual(JSON.parse(r.body), { session: null });
});

test('fastify: a header name and an audience', async (t) => {
  const { app } = startApp(t, { header: 'X-App-Session', audience: 'orders' });
  let r = await inject(app, '/get', undefined, { 'X-App-Session': token({ user }, { audience: 'orders' }) });
  assert.deepEqual(JSON.parse(r.body), user);
  // The header names the directives too, as the proxy's token.header does.
  r = await inject(app, '/set', undefined, { 'X-App-Session': token({}, { audience: 'orders' }) });
  assert.deepEqual(readDirectives(r.headers, 'X-App-Session'), { ...none, set: { user } });
  assert.deepEqual(r.directives, none, 'nothing under the default X-Session-* names');
  r = await inject(app, '/get', undefined, { 'X-App-Session': token({ user }, { audience: 'billing' }) });
  assert.equal(r.status, 401);
});

test('fastify: a change after the headers were sent is an error the app sees', async (t) => {
  const { app, late, reported } = startApp(t);
  const r = await inject(app, '/late', token({ user }));
  assert.equal(r.body, 'headers out; done');
  assert.deepEqual(r.directives, none);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(late.length, 3);
  assert.equal(late[0].name, 'LateChangeError', 'a setter after the headers throws');
  assert.equal(late[1], undefined, 'save with nothing changed calls back without an error');
  assert.equal(late[2]?.name, 'LateChangeError', 'save after a nested change rejects');
  assert.equal(reported.length, 1, 'the change is reported once the response finished');
});

test('fastify: a change during a streamed reply is reported', async (t) => {
  const reported = [];
  const app = newApp(t, { onError: (err, request) => reported.push([err.name, request.url]) });
  app.get('/', (request, reply) => {
    let parts = 0;
    reply.send(new Readable({
      read() {
        if (parts++ === 0) {
          this.push('part one ');
          return;
        }
        setTimeout(() => {
          request.session.user.age = 99;
          this.push('part two');
          this.push(null);
        }, 20);
      },
    }));
  });
  const r = await inject(app, '/', token({ user }));
  assert.equal(r.body, 'part one part two');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(reported, [['LateChangeError', '/']]);
});

test('fastify: bad options fail the registration', async (t) => {
  for (const opts of [{ secret: '' }, {}, { secret: SECRET, oldSecrets: [''] }]) {
    const app = Fastify();
    app.register(sessionproxy.fastify, opts);
    await assert.rejects(app.ready(), TypeError, JSON.stringify(opts));
    await app.close();
  }
});

test('fastify: called like sessionproxy.koa(opts), the plugin says how to register it', () => {
  assert.throws(() => sessionproxy.fastify({ secret: SECRET }), {
    name: 'TypeError',
    message: /app\.register\(sessionproxy\.fastify, \{ secret \}\)/,
  });
});

test('fastify: oldSecrets accepts the previous token.secret, and no other', async (t) => {
  const old = 'node-old-secret-0123456789abcdef';
  const { app } = startApp(t, { oldSecrets: [old] });
  assert.equal((await inject(app, '/get', token({ user }))).status, 200);
  assert.equal((await inject(app, '/get', mintToken({ secret: old, sess: { user } }))).body, JSON.stringify(user));
  assert.equal((await inject(app, '/get', mintToken({ secret: 'another-secret-0123456789', sess: {} }))).status, 401);
  const without = startApp(t).app;
  assert.equal((await inject(without, '/get', mintToken({ secret: old, sess: { user } }))).status, 401);
});

test('fastify: data keys named like Session members are kept, not lost', async (t) => {
  const { app } = startApp(t);
  const sess = { cookie: 'c', get: 'g', options: 'o', user };
  let r = await inject(app, '/get', token(sess));
  assert.deepEqual(JSON.parse(r.body), user);
  assert.deepEqual(r.directives, none);
  r = await inject(app, '/reload', token(sess));
  assert.deepEqual(JSON.parse(r.body), { changed: true, now: false, session: { user } });
  assert.deepEqual(r.directives, none);
  r = await inject(app, '/replace', token(sess));
  assert.deepEqual(r.directives, { ...none, set: { cookie: null, get: null, options: null, user: null, a: 1 } });
  const setter = newApp(t);
  setter.get('/', async (request) => request.session.set('cookie', 1));
  assert.equal((await inject(setter, '/', token({}))).status, 500, 'set() refuses a member name');
});

test('fastify: registered twice, one session, and each registration its own check', async (t) => {
  const app = Fastify();
  t.after(() => app.close());
  app.register(sessionproxy.fastify, { secret: SECRET, optional: true });
  app.get('/public', async (request) => ({ session: request.session }));
  app.register(async (child) => {
    child.register(sessionproxy.fastify, { secret: SECRET });
    child.get('/private/set', async (request) => {
      request.session.user = 'bob';
      return 'ok';
    });
  });
  let r = await inject(app, '/private/set', token({ a: 1 }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.directives, { ...none, set: { user: 'bob' } });
  r = await inject(app, '/private/set');
  assert.equal(r.status, 401, 'optional on the app does not make the child context\'s required registration optional');
  r = await inject(app, '/public');
  assert.deepEqual(JSON.parse(r.body), { session: null }, 'the child\'s registration does not reach the app\'s routes');
});

test('fastify: nulls the session arrived with are no change', async (t) => {
  const app = newApp(t);
  app.get('/', async (request) => ({ ...request.session }));
  const sess = { user: 'a', ref: null, prefs: { theme: null }, cart: [{ id: 1, note: null }, null] };
  const r = await inject(app, '/', token(sess));
  assert.deepEqual(JSON.parse(r.body), sess);
  assert.deepEqual(r.directives, none);
});

test('fastify: a cookie.maxAge set after regenerate() goes with the new session; one before a destroy() does not', async (t) => {
  const app = newApp(t);
  app.get('/regenerate', async (request) => {
    await request.session.regenerate();
    request.session.cookie.maxAge = 5000;
    return 'ok';
  });
  app.get('/destroy', async (request) => {
    request.session.cookie.maxAge = 5000;
    await request.session.destroy();
    return 'ok';
  });
  let r = await inject(app, '/regenerate', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, destroy: true, maxAge: 5000 });
  r = await inject(app, '/destroy', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, destroy: true }, 'a logout');
});

test('fastify: a session that cannot be encoded is a 500, and the app hears of it', async (t) => {
  const app = newApp(t);
  const seen = [];
  app.setErrorHandler((err, request, reply) => {
    seen.push(err);
    reply.code(500).send('failed');
  });
  app.get('/', (request, reply) => {
    request.session.big = request.query.big ? 10n : 1; // JSON cannot hold a BigInt
    reply.send('ok');
  });
  let r = await inject(app, '/?big=1', token({}));
  assert.equal(r.status, 500);
  assert.equal(r.body, 'failed');
  assert.deepEqual(r.directives, none);
  assert.match(String(seen[0]), /BigInt/);
  r = await inject(app, '/', token({}));
  assert.equal(r.status, 200, 'the next request is served');
});

test('fastify: a session that cannot be encoded, with a streamed reply, is a 500, not a crash', async (t) => {
  // A stream sends its headers from its first write, inside a pipe or a
  // promise where a throw would end the process.
  const app = newApp(t);
  const seen = [];
  app.setErrorHandler((err, request, reply) => {
    seen.push(err);
    reply.code(500).send('failed');
  });
  const bodies = {
    '/node': () => Readable.from(['a', 'b']),
    '/web': () => new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('a')); c.close(); } }),
    '/response': () => new Response('a'),
  };
  for (const [path, body] of Object.entries(bodies)) {
    app.get(path, (request, reply) => {
      request.session.big = 10n; // JSON cannot hold a BigInt
      reply.send(body());
    });
  }
  for (const path of Object.keys(bodies)) {
    const r = await inject(app, path, token({}));
    assert.equal(r.status, 500, path);
    assert.equal(r.body, 'failed', path);
    assert.deepEqual(r.directives, none, path);
  }
  assert.equal(seen.length, 3);
  for (const err of seen) assert.match(String(err), /BigInt/);
});

test('fastify: a change that cannot be encoded, made after the headers were sent, is reported, not a crash', async (t) => {
  const reported = [];
  const app = newApp(t, { onError: (err) => reported.push(err) });
  const saved = [];
  app.get('/', (request, reply) => {
    reply.hijack();
    reply.raw.write('headers out; ');
    request.session.user.big = 10n; // nested: no trap sees it; JSON cannot hold a BigInt
    request.session.save((err) => {
      saved.push(err);
      reply.raw.end('done');
    });
  });
  const r = await inject(app, '/', token({ user }));
  assert.equal(r.body, 'headers out; done');
  assert.equal(saved[0]?.name, 'LateChangeError', 'save calls back with the error instead of throwing');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reported.length, 1, 'the change is reported once the response finished');
  assert.equal(reported[0].name, 'LateChangeError');
});

test('fastify: a late change goes to request.log, or to the console with the logger off', async (t) => {
  const lines = [];
  const stream = { write: (line) => lines.push(JSON.parse(line)) };
  for (const logger of [{ stream, level: 'error' }, false]) {
    const app = Fastify(logger ? { logger } : {});
    t.after(() => app.close());
    app.register(sessionproxy.fastify, { secret: SECRET });
    app.get('/', (request, reply) => {
      reply.hijack();
      reply.raw.write('headers out; ');
      request.session.user.age = 99;
      reply.raw.end('done');
    });
    const errors = t.mock.method(console, 'error', () => {});
    await inject(app, '/', token({ user }));
    await new Promise((resolve) => setImmediate(resolve));
    if (logger) {
      assert.equal(lines.length, 1);
      assert.equal(lines[0].err.type, 'LateChangeError');
      assert.equal(errors.mock.callCount(), 0);
    } else {
      assert.equal(errors.mock.callCount(), 1);
      assert.equal(errors.mock.calls[0].arguments[0].name, 'LateChangeError');
    }
    errors.mock.restore();
  }
});

test('fastify: destroyOthers() and destroyAll() end the user\'s other sessions', async (t) => {
  const app = newApp(t);
  const late = [];
  const routes = {
    '/others': (s) => s.destroyOthers(),
    '/others-cb': (s) => new Promise((resolve, reject) => s.destroyOthers((err) => (err ? reject(err) : resolve()))),
    // @fastify/session's login: regenerate, then fill the new session. Its
    // user is the one whose other sessions end.
    '/login-others': async (s, request) => {
      await s.regenerate();
      request.session.user = { id: 2 };
      await request.session.destroyOthers();
    },
    '/all': (s) => s.destroyAll(),
    '/all-then-new': async (s, request) => {
      await s.destroyAll();
      request.session = { a: 2 };
    },
    '/others-then-destroy': async (s) => {
      await s.destroyOthers();
      await s.destroy();
    },
    '/destroy-then-others': async (s) => {
      await s.destroy();
      await s.destroyOthers();
    },
    '/regenerate-then-others': async (s, request) => {
      await s.regenerate();
      await request.session.destroyOthers();
    },
  };
  for (const [path, route] of Object.entries(routes)) {
    app.get(path, async (request) => {
      await route(request.session, request);
      return 'ok';
    });
  }
  app.get('/late', (request, reply) => {
    const session = request.session;
    reply.raw.once('finish', () => {
      session.destroyOthers((err) => late.push(err));
      session.destroyAll().catch((err) => late.push(err));
    });
    reply.send('ok');
  });
  const cases = [
    ['/others', { ...none, destroyOthers: true }],
    ['/others-cb', { ...none, destroyOthers: true }],
    ['/login-others', { ...none, destroyOthers: true, renew: true, set: { a: null, user: { id: 2 } } }],
    ['/all', { ...none, destroy: true, destroyOthers: true }],
    ['/all-then-new', { ...none, destroy: true, destroyOthers: true, set: { a: 2 } }],
    ['/others-then-destroy', { ...none, destroy: true, destroyOthers: true }],
    ['/destroy-then-others', { ...none, destroy: true, destroyOthers: true }],
    ['/regenerate-then-others', { ...none, destroy: true, destroyOthers: true }],
  ];
  for (const [path, want] of cases) {
    const r = await inject(app, path, token({ a: 1 }));
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.directives, want, path);
  }
  const r = await inject(app, '/late', token({ a: 1 }));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(r.directives, none);
  assert.deepEqual(late.map((err) => err?.name), ['LateChangeError', 'LateChangeError'], 'refused as destroy() is');
});

test('fastify: a reply that read or changed request.session varies on Cookie; one that did not, not', async (t) => {
  const app = newApp(t);
  app.addHook('onRequest', async (request, reply) => {
    if (request.query.vary !== undefined) reply.header('Vary', request.query.vary);
  });
  app.get('/plain', async () => 'plain');
  app.get('/get', async (request) => request.session.get('user'));
  app.get('/id', async (request) => String(request.session.sessionId));
  app.get('/set', async (request) => {
    request.session.n = 1;
    return 'ok';
  });
  app.get('/writehead', (request, reply) => { // with its Vary among the headers given
    const name = request.session.user.name;
    reply.hijack();
    reply.raw.writeHead(200, writeHeadHeaders(request.query, { 'X-User': name }));
    reply.raw.end('raw');
  });
  const tok = token({ user });
  for (const [path, want] of varyCases) {
    const r = await inject(app, path, tok);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('vary'), want, path);
  }
});

test('fastify: the plugin is registered as fastify-plugin would register it', () => {
  assert.equal(sessionproxy.fastify[Symbol.for('skip-override')], true);
  assert.equal(sessionproxy.fastify[Symbol.for('fastify.display-name')], 'sessionproxy');
});

test('fastify: directives given by hand to reply.raw.writeHead are replaced by the session\'s', async (t) => {
  const app = newApp(t);
  app.get('/', (request, reply) => {
    request.session.n = 1;
    reply.hijack();
    reply.raw.writeHead(200, writeHeadHeaders(request.query, byHand));
    reply.raw.end('raw');
  });
  for (const form of forms) {
    const r = await inject(app, '/?form=' + form, token({ a: 1 }));
    assert.equal(r.status, 200, form);
    assert.deepEqual(r.directives, { ...none, set: { n: 1 } }, form);
    assert.equal(r.headers.get('x-other'), 'kept', form);
  }
});
