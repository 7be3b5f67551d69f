'use strict';
// The koa middleware in a real Koa app: koa-session's full application
// example, and the rest of koa-session's Session API.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http2 = require('node:http2');
const { Readable } = require('node:stream');
const Koa = require('koa');
const sessionproxy = require('..');
const { mintToken, readDirectives } = require('../testing');
const { SECRET, listen, request, none, varyCases, writeHeadHeaders, byHand, forms } = require('./helpers');

const user = { name: 'john doe', age: 30 };

// app is koa-session's full application example, with sessionproxy's
// middleware instead of koa-session's, plus routes for the rest of the API.
async function startApp(t, opts = {}) {
  const app = new Koa();
  app.silent = true;
  const errors = [];
  app.on('error', (err) => errors.push(err));
  app.use(sessionproxy.koa({ secret: SECRET, ...opts }));
  app.use(async (ctx) => {
    switch (ctx.path) {
      case '/set':
        ctx.session.user = { name: 'john doe', age: 30 };
        ctx.body = 'session set';
        break;
      case '/get':
        ctx.body = ctx.session.user;
        break;
      case '/destroy':
        ctx.session = null;
        ctx.body = 'session destroyed';
        break;
      case '/renew':
        await ctx.session.regenerate();
        ctx.body = 'session renewed';
        break;
      case '/login':
        ctx.sessionHandler.regenerateId();
        ctx.session.user = { name: 'john doe', age: 30 };
        ctx.body = { id: ctx.sessionHandler.getId() };
        break;
      case '/info':
        ctx.body = { isNew: ctx.session.isNew, json: ctx.session.toJSON(), length: ctx.session.length, populated: ctx.session.populated };
        break;
      case '/maxage':
        ctx.session.maxAge = ctx.query.ms === 'session' ? 'session' : Number(ctx.query.ms);
        ctx.body = String(ctx.session.maxAge);
        break;
      case '/replace':
        ctx.session = { a: 1 };
        ctx.body = 'replaced';
        break;
      case '/restart':
        ctx.session = null;
        ctx.body = String(ctx.session);
        ctx.session = { a: 1 };
        break;
      case '/birthday':
        ctx.session.user.age += 1;
        ctx.session.note = 'Zoë ✓ 😀';
        ctx.body = 'ok';
        break;
      case '/delete':
        delete ctx.session.user;
        ctx.body = 'ok';
        break;
      case '/late':
        ctx.body = 'streamed';
        ctx.res.once('finish', () => {
          try {
            ctx.session.late = true;
          } catch (err) {
            ctx.app.emit('error', err, ctx);
          }
        });
        break;
      case '/late-nested': {
        // A streamed body, during which a nested member changes once the
        // first part, and so the headers, went out.
        let parts = 0;
        ctx.body = new Readable({
          read() {
            if (parts++ === 0) {
              this.push('part one ');
              return;
            }
            setTimeout(() => {
              ctx.session.user.age = 99;
              this.push('part two');
              this.push(null);
            }, 20);
          },
        });
        break;
      }
      case '/optional':
        ctx.body = { session: ctx.session };
        break;
      case '/private':
        ctx.session._flashes = ['hi'];
        ctx.session.a = 2;
        ctx.body = 'ok';
        break;
      default:
        ctx.status = 404;
    }
  });
  return { url: await listen(t, app.callback()), errors };
}

const token = (sess, extra = {}) => mintToken({ secret: SECRET, sess, sid: 'sid-1', ...extra });

test('koa-session full application example', async (t) => {
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
  r = await request(url, '/renew', token({ user }));
  assert.deepEqual(r.directives, { ...none, renew: true });
  r = await request(url, '/destroy', token({ user }));
  assert.deepEqual(r.directives, { ...none, destroy: true });
});

test('koa: the rest of the Session API', async (t) => {
  const { url } = await startApp(t);
  let r = await request(url, '/info', token({ a: 1, _private: 2 }, { isNew: false }));
  assert.deepEqual(JSON.parse(r.body), { isNew: false, json: { a: 1 }, length: 1, populated: true });
  r = await request(url, '/info', token({}));
  assert.deepEqual(JSON.parse(r.body), { isNew: true, json: {}, length: 0, populated: false });
  r = await request(url, '/maxage?ms=3600000', token({ a: 1 }));
  assert.equal(r.body, '3600000');
  assert.deepEqual(r.directives, { ...none, maxAge: 3600000 });
  r = await request(url, '/maxage?ms=session', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, maxAge: 'session' });
  r = await request(url, '/maxage?ms=-1', token({ a: 1 }));
  assert.equal(r.status, 500);
  r = await request(url, '/replace', token({ user, b: 2 }));
  assert.deepEqual(r.directives, { ...none, set: { user: null, b: null, a: 1 } });
  r = await request(url, '/restart', token({ user }));
  assert.equal(r.body, 'null');
  assert.deepEqual(r.directives, { ...none, destroy: true, set: { a: 1 } });
  r = await request(url, '/birthday', token({ user }));
  assert.deepEqual(r.directives, { ...none, set: { user: { age: 31 }, note: 'Zoë ✓ 😀' } });
  assert.match(r.headers.get('X-Session-Set'), /^[\x20-\x7e]+$/);
  r = await request(url, '/delete', token({ user, b: 2 }));
  assert.deepEqual(r.directives, { ...none, set: { user: null } });
});

test('koa: top-level _ members stay private to the request, as in koa-session', async (t) => {
  // The proxy reserves them and answers 502 to a directive that sets one,
  // so they are never sent.
  const { url } = await startApp(t);
  const r = await request(url, '/private', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, set: { a: 2 } });
});

test('koa: ctx.sessionHandler.regenerateId() renews, as the tutorial does it', async (t) => {
  const { url } = await startApp(t);
  const r = await request(url, '/login', token({}));
  assert.deepEqual(JSON.parse(r.body), { id: 'sid-1' });
  assert.deepEqual(r.directives, { ...none, renew: true, set: { user } });
});

test('koa: without a valid token', async (t) => {
  const { url } = await startApp(t);
  for (const tok of [undefined, 'garbage', mintToken({ secret: 'another-secret-0123456789', sess: {} }), token({}, { ttl: -60 })]) {
    const r = await request(url, '/get', tok);
    assert.equal(r.status, 401);
    assert.deepEqual(r.directives, none);
  }
  const opt = await startApp(t, { optional: (ctx) => ctx.path === '/optional' });
  let r = await request(opt.url, '/optional');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { session: null });
  r = await request(opt.url, '/get');
  assert.equal(r.status, 401);
  r = await request(opt.url, '/optional', token({ a: 1 }));
  assert.deepEqual(JSON.parse(r.body), { session: { a: 1 } });
});

test('koa: a header name and an audience', async (t) => {
  const { url } = await startApp(t, { header: 'X-App-Session', audience: 'orders' });
  let r = await request(url, '/get', undefined, { 'X-App-Session': token({ user }, { audience: 'orders' }) });
  assert.deepEqual(JSON.parse(r.body), user);
  // The header names the directives too, as the proxy's token.header does.
  r = await request(url, '/login', undefined, { 'X-App-Session': token({}, { audience: 'orders' }) });
  assert.deepEqual(readDirectives(r.headers, 'X-App-Session'), { ...none, renew: true, set: { user } });
  assert.deepEqual(r.directives, none, 'nothing under the default X-Session-* names');
  r = await request(url, '/get', undefined, { 'X-App-Session': token({ user }, { audience: 'billing' }) });
  assert.equal(r.status, 401);
});

test('koa: a change after the headers were sent is reported', async (t) => {
  const { url, errors } = await startApp(t);
  let r = await request(url, '/late', token({}));
  assert.equal(r.body, 'streamed');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(errors.length, 1);
  assert.equal(errors[0].name, 'LateChangeError');
  errors.length = 0;
  r = await request(url, '/late-nested', token({ user }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(r.directives, none);
  assert.equal(errors.length, 1, 'a nested change after the response is reported at finish');
});

test('koa: an empty secret is refused at construction', () => {
  assert.throws(() => sessionproxy.koa({ secret: '' }), TypeError);
  assert.throws(() => sessionproxy.koa({}), TypeError);
  assert.throws(() => sessionproxy.koa({ secret: SECRET, oldSecrets: [''] }), TypeError);
});

test('koa: oldSecrets accepts the previous token.secret, and no other', async (t) => {
  const old = 'node-old-secret-0123456789abcdef';
  const { url } = await startApp(t, { oldSecrets: [old] });
  assert.equal((await request(url, '/get', token({ user }))).status, 200);
  assert.equal((await request(url, '/get', mintToken({ secret: old, sess: { user } }))).body, JSON.stringify(user));
  assert.equal((await request(url, '/get', mintToken({ secret: 'another-secret-0123456789', sess: {} }))).status, 401);
  const without = await startApp(t);
  assert.equal((await request(without.url, '/get', mintToken({ secret: old, sess: { user } }))).status, 401);
});

test('koa: data keys named like Session members are kept, not lost', async (t) => {
  const { url } = await startApp(t);
  const sess = { length: 3, save: 'yes', maxAge: 7, user };
  let r = await request(url, '/get', token(sess));
  assert.deepEqual(JSON.parse(r.body), user);
  assert.deepEqual(r.directives, none);
  r = await request(url, '/birthday', token(sess));
  assert.deepEqual(r.directives, { ...none, set: { user: { age: 31 }, note: 'Zoë ✓ 😀' } });
  r = await request(url, '/replace', token(sess));
  assert.deepEqual(r.directives, { ...none, set: { length: null, save: null, maxAge: null, user: null, a: 1 } });
});

// edgeApp serves one route behind the middleware, in a real Koa app,
// with the app's errors collected.
async function edgeApp(t, route, { before = [], opts = {} } = {}) {
  const app = new Koa();
  app.silent = true;
  const errors = [];
  app.on('error', (err) => errors.push(err));
  for (const mw of before) app.use(mw);
  app.use(sessionproxy.koa({ secret: SECRET, ...opts }));
  app.use(route);
  return { url: await listen(t, app.callback()), errors };
}

test('koa: a change made before ctx.flushHeaders() goes out with them, and the stream still ends', async (t) => {
  const { url, errors } = await edgeApp(t, async (ctx) => {
    ctx.session.visits = 1;
    ctx.type = 'text/event-stream';
    ctx.status = 200;
    ctx.flushHeaders();
    let late;
    try {
      ctx.session.late = true;
    } catch (err) {
      late = err.name;
    }
    const body = new Readable({ read() {} });
    ctx.body = body;
    setTimeout(() => {
      body.push('data: ' + late + '\n\n');
      body.push(null);
    }, 20);
  });
  const r = await request(url, '/', token({}));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'data: LateChangeError\n\n', 'the change after the flush throws, and the body still arrives');
  assert.deepEqual(r.directives, { ...none, set: { visits: 1 } });
  assert.deepEqual(errors, []);
});

test('koa: a change survives an error answered by an outer middleware, as with koa-session', async (t) => {
  const catcher = async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      ctx.status = err.status || 500;
      ctx.body = 'caught';
    }
  };
  const { url } = await edgeApp(t, (ctx) => {
    ctx.session.failures = (ctx.session.failures || 0) + 1;
    ctx.throw(401);
  }, { before: [catcher] });
  const r = await request(url, '/', token({ failures: 2 }));
  assert.equal(r.status, 401);
  assert.equal(r.body, 'caught');
  assert.deepEqual(r.directives, { ...none, set: { failures: 3 } });
});

test('koa: mounted twice, one session, and each mount its own check', async (t) => {
  const { url } = await edgeApp(t, (ctx) => {
    ctx.session.user = 'bob';
    ctx.body = 'ok';
  }, { before: [sessionproxy.koa({ secret: SECRET, optional: true })] });
  let r = await request(url, '/', token({ a: 1 }));
  assert.equal(r.status, 200);
  assert.deepEqual(r.directives, { ...none, set: { user: 'bob' } });
  r = await request(url, '/');
  assert.equal(r.status, 401, 'optional on the app does not make the required mount optional');
});

test('koa: nulls the session arrived with are no change', async (t) => {
  const { url } = await edgeApp(t, (ctx) => {
    ctx.body = ctx.session.toJSON();
  });
  const sess = { user: 'a', ref: null, prefs: { theme: null }, cart: [{ id: 1, note: null }, null] };
  const r = await request(url, '/', token(sess));
  assert.deepEqual(JSON.parse(r.body), sess);
  assert.deepEqual(r.directives, none);
});

test('koa: a maxAge the proxy would refuse throws when set', async (t) => {
  const { url } = await startApp(t);
  for (const ms of ['0.5', '1e21', String(200 * 365 * 24 * 3600 * 1000), 'NaN']) {
    const r = await request(url, '/maxage?ms=' + ms, token({ a: 1 }));
    assert.equal(r.status, 500, ms);
    assert.deepEqual(r.directives, none, ms);
  }
  const r = await request(url, '/maxage?ms=1500.7', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, maxAge: 1500 });
});

test('koa: a max age set after ctx.session = null goes with the new session', async (t) => {
  const { url } = await edgeApp(t, (ctx) => {
    if (ctx.query.before) ctx.session.maxAge = 5000;
    ctx.session = null;
    if (!ctx.query.before) ctx.sessionHandler.setMaxAge(5000);
    ctx.body = 'ok';
  });
  let r = await request(url, '/', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, destroy: true, maxAge: 5000 });
  r = await request(url, '/?before=1', token({ a: 1 }));
  assert.deepEqual(r.directives, { ...none, destroy: true }, 'one set before goes with the destroyed session: a logout');
});

test('koa: a session that cannot be encoded is a 500, and the app hears of it', async (t) => {
  const { url, errors } = await edgeApp(t, (ctx) => {
    ctx.session.big = ctx.query.big ? 10n : 1; // JSON cannot hold a BigInt
    ctx.body = 'ok';
  });
  let r = await request(url, '/?big=1', token({}));
  assert.equal(r.status, 500);
  assert.deepEqual(r.directives, none);
  assert.match(String(errors[0]), /BigInt/);
  r = await request(url, '/', token({}));
  assert.equal(r.status, 200, 'the next request is served');
});

test('koa: a session that cannot be encoded is a 500 through Koa, with any body, never a crash', async (t) => {
  // A stream body sends its headers from its first write, inside Koa's
  // pipeline, and an error's from Koa's onerror: a throw from either ended
  // the process.
  const files = [];
  const bodies = {
    '/plain': () => 'ok',
    '/readable': () => Readable.from(['a', 'b']),
    '/file': () => {
      const file = fs.createReadStream(__filename);
      files.push(file);
      return file;
    },
    // An object body is data, sent as JSON: its own destroy() (an ORM
    // record's, Sequelize's deletes the row) or cancel() is not the
    // stream's, and is never called.
    '/record': () => ({
      id: 7,
      destroy: () => called.push('destroy'),
      cancel: () => called.push('cancel'),
    }),
  };
  const called = [];
  const values = {
    bigint: () => 10n, // JSON cannot hold a BigInt (Prisma's BigInt column)
    cycle: () => {
      const c = { a: 1 };
      c.self = c;
      return c;
    },
  };
  // outer changes the session after the middleware encoded it: answered
  // as the headers go out, with a 500 of the middleware's own.
  const outer = async (ctx, next) => {
    await next();
    if (ctx.query.outer) ctx.session.bad = values[ctx.query.outer]();
  };
  const { url, errors } = await edgeApp(t, (ctx) => {
    const [, value, body] = ctx.path.split('/');
    if (value !== 'ok') ctx.session.bad = values[value]();
    if (body === 'throw') ctx.throw(409);
    ctx.body = bodies['/' + body]();
  }, { before: [outer] });
  const want = { bigint: /BigInt/, cycle: /circular/ };
  for (const value of Object.keys(values)) {
    for (const body of [...Object.keys(bodies), '/throw']) {
      const path = '/' + value + body;
      errors.length = 0;
      const r = await request(url, path, token({}));
      assert.equal(r.status, body === '/throw' ? 409 : 500, path);
      assert.deepEqual(r.directives, none, path);
      assert.ok(errors.some((err) => want[value].test(String(err))), path);
    }
    for (const body of ['/readable', '/file']) {
      const path = '/ok' + body + '?outer=' + value;
      errors.length = 0;
      const r = await request(url, path, token({}));
      assert.equal(r.status, 500, path);
      assert.equal(r.body, 'Internal Server Error\n', path);
      assert.deepEqual(r.directives, none, path);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(errors.some((err) => want[value].test(String(err))), path);
    }
  }
  assert.equal(files.length, 4);
  assert.deepEqual(called, [], 'an object body\'s own methods are not called');
  await new Promise((resolve) => setTimeout(resolve, 20));
  for (const file of files) assert.equal(file.destroyed, true, 'the file is released');
  const r = await request(url, '/ok/readable', token({}));
  assert.equal(r.status, 200, 'the next request is served');
  assert.equal(r.body, 'ab');
});

test('koa: over HTTP/2, a session an outer middleware makes unencodable is a whole 500', async (t) => {
  // Node's HTTP/2 response writes end()'s body through res.write: the
  // middleware's own 500 went out with its Content-Length and no body, a
  // protocol error the client saw instead of the 500.
  const app = new Koa();
  app.silent = true;
  const errors = [];
  app.on('error', (err) => errors.push(err));
  app.use(async (ctx, next) => {
    await next();
    ctx.session.bad = 10n; // JSON cannot hold a BigInt
  });
  app.use(sessionproxy.koa({ secret: SECRET }));
  app.use((ctx) => {
    ctx.session.visits = 1;
    ctx.body = 'ok';
  });
  const server = http2.createServer(app.callback());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = http2.connect('http://127.0.0.1:' + server.address().port);
  t.after(() => new Promise((resolve) => {
    client.destroy();
    server.close(resolve);
  }));
  const r = await new Promise((resolve, reject) => {
    const req = client.request({ ':path': '/', 'x-session': token({}) });
    let headers;
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (headers = h));
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve({ status: headers[':status'], body, directives: readDirectives(headers) }));
    req.on('error', reject);
  });
  assert.equal(r.status, 500);
  assert.equal(r.body, 'Internal Server Error\n');
  assert.deepEqual(r.directives, none);
  assert.match(String(errors[0]), /BigInt/);
});

test('koa: a change that cannot be encoded, made after the headers were sent, is reported, not a crash', async (t) => {
  const app = new Koa();
  const reported = [];
  app.use(sessionproxy.koa({ secret: SECRET, onError: (err) => reported.push(err) }));
  app.use((ctx) => {
    ctx.flushHeaders();
    ctx.session.user.big = 10n; // nested: no trap sees it; JSON cannot hold a BigInt
    ctx.body = 'done';
  });
  const url = await listen(t, app.callback());
  const r = await request(url, '/', mintToken({ secret: SECRET, sess: { user: { name: 'john doe' } } }));
  assert.equal(r.body, 'done');
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(reported.length, 1, 'the change is reported once the response finished');
  assert.equal(reported[0].name, 'LateChangeError');
});

test('koa: destroyOthers() and destroyAll() end the user\'s other sessions', async (t) => {
  const app = new Koa();
  app.silent = true;
  const late = [];
  app.use(sessionproxy.koa({ secret: SECRET }));
  const routes = {
    '/others': (ctx) => ctx.session.destroyOthers(),
    // A login that ends the user's earlier sessions: the proxy reads the user after the change.
    '/login-others': async (ctx) => {
      ctx.session.user = { id: 2 };
      ctx.session.destroyOthers();
      await ctx.session.regenerate();
    },
    '/all': (ctx) => ctx.session.destroyAll(),
    '/all-then-new': (ctx) => {
      ctx.session.destroyAll();
      ctx.session = { a: 2 };
    },
    '/others-then-null': (ctx) => {
      ctx.session.destroyOthers();
      ctx.session = null;
    },
    '/null-then-others': (ctx) => {
      ctx.session = null;
      ctx.session = { a: 2 };
      ctx.session.destroyOthers();
    },
    '/late': (ctx) => {
      const session = ctx.session;
      ctx.res.once('finish', () => {
        for (const call of [() => session.destroyOthers(), () => session.destroyAll()]) {
          try {
            call();
          } catch (err) {
            late.push(err);
          }
        }
      });
    },
  };
  app.use(async (ctx) => {
    await routes[ctx.path](ctx);
    ctx.body = 'ok';
  });
  const url = await listen(t, app.callback());
  const cases = [
    ['/others', { ...none, destroyOthers: true }],
    ['/login-others', { ...none, destroyOthers: true, renew: true, set: { user: { id: 2 } } }],
    ['/all', { ...none, destroy: true, destroyOthers: true }],
    ['/all-then-new', { ...none, destroy: true, destroyOthers: true, set: { a: 2 } }],
    ['/others-then-null', { ...none, destroy: true, destroyOthers: true }],
    ['/null-then-others', { ...none, destroy: true, destroyOthers: true, set: { a: 2 } }],
  ];
  for (const [path, want] of cases) {
    const r = await request(url, path, token({ a: 1 }));
    assert.equal(r.status, 200, path);
    assert.deepEqual(r.directives, want, path);
  }
  const r = await request(url, '/late', token({ a: 1 }));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(r.directives, none);
  assert.deepEqual(late.map((err) => err.name), ['LateChangeError', 'LateChangeError'], 'refused as ctx.session = null is');
});

test('koa: a response that read or changed ctx.session varies on Cookie; one that did not, not', async (t) => {
  const app = new Koa();
  app.silent = true;
  app.use(sessionproxy.koa({ secret: SECRET }));
  app.use((ctx) => {
    const vary = ctx.query.vary;
    if (vary !== undefined) ctx.set('Vary', vary);
    switch (ctx.path) {
      case '/get':
        ctx.body = ctx.session.user;
        break;
      case '/id':
        ctx.body = String(ctx.sessionHandler.getId());
        break;
      case '/set':
        ctx.session.n = 1;
        ctx.body = 'ok';
        break;
      case '/writehead': // the app's own writeHead, with its Vary among the headers given
        ctx.body = ctx.session.user;
        ctx.respond = false;
        ctx.res.writeHead(200, writeHeadHeaders(ctx.query));
        ctx.res.end('raw');
        break;
      default:
        ctx.body = 'plain';
    }
  });
  const url = await listen(t, app.callback());
  const tok = token({ user });
  for (const [path, want] of varyCases) {
    const r = await request(url, path, tok);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers.get('vary'), want, path);
  }
});

test('koa: directives given by hand to res.writeHead are replaced by the session\'s', async (t) => {
  const { url } = await edgeApp(t, (ctx) => {
    ctx.session.n = 1;
    ctx.respond = false;
    ctx.res.writeHead(200, writeHeadHeaders(ctx.query, byHand));
    ctx.res.end('raw');
  });
  for (const form of forms) {
    const r = await request(url, '/?form=' + form, token({ a: 1 }));
    assert.equal(r.status, 200, form);
    assert.deepEqual(r.directives, { ...none, set: { n: 1 } }, form);
    assert.equal(r.headers.get('x-other'), 'kept', form);
  }
});
