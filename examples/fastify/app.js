// koa-session's full application example, written for Fastify with
// @fastify/session's API, and sessionproxy in front: the only change from
// a @fastify/session app is the app.register(...) line (and no
// @fastify/cookie). The proxy owns the cookie; this app reads and writes
// request.session as always.
//
//   UPSTREAM_SECRET=... node app.js [PORT]     (PORT 0 = a free port; default 8080)
//
// Routes: /set, /get, /destroy, /renew, /login?name=N (a renew after login,
// as @fastify/session's regenerate() does it), /put?key=K&value=V (changes
// one key; &ms=M waits first, so that two requests of one session can
// overlap), /whoami (what the proxy sent: the session id and the data);
// with the proxy's session.userKey set to user.name: /logout-others,
// /logout-all, /login-end-others?name=N (a login that ends the user's
// earlier sessions).
'use strict';

const Fastify = require('fastify');
const sessionproxy = require('sessionproxy');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const app = Fastify({ forceCloseConnections: true });
// UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
app.register(sessionproxy.fastify, { secret: process.env.UPSTREAM_SECRET, header: process.env.UPSTREAM_HEADER || undefined });

app.get('/set', async (request) => {
  request.session.set('user', { name: 'john doe', age: 30 });
  return 'session set';
});

app.get('/get', async (request, reply) => {
  const user = request.session.get('user');
  if (user) return user;
  return reply.code(204).send();
});

app.get('/destroy', async (request) => {
  await request.session.destroy();
  return 'session destroyed';
});

// @fastify/session's regenerate() starts a session with a new id that
// keeps only the fields named: name them all to keep the data.
app.get('/renew', async (request) => {
  await request.session.regenerate(Object.keys(request.session));
  return 'session renewed';
});

app.get('/login', async (request) => {
  await request.session.regenerate(Object.keys(request.session));
  request.session.set('user', { name: request.query.name, age: 30 });
  return 'logged in';
});

app.get('/logout-others', async (request) => {
  await request.session.destroyOthers();
  return 'other sessions ended';
});

app.get('/logout-all', async (request) => {
  await request.session.destroyAll();
  return 'all sessions ended';
});

app.get('/login-end-others', async (request) => {
  await request.session.regenerate(Object.keys(request.session));
  request.session.set('user', { name: request.query.name, age: 30 });
  await request.session.destroyOthers();
  return 'logged in here only';
});

app.get('/put', async (request) => {
  await sleep(Number(request.query.ms || 0));
  request.session.set(request.query.key, request.query.value);
  return 'session changed';
});

// @fastify/session has no isNew: "new" is null.
app.get('/whoami', async (request) => ({ sid: request.session.sessionId ?? null, new: null, session: request.session }));

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
app.listen({ port, host: process.env.HOST || '127.0.0.1' }).then(
  () => {
    const { address, port } = app.server.address();
    console.log(`listening on ${address}:${port}`);
  },
  (err) => {
    console.error(err.message);
    process.exit(1);
  },
);
process.on('SIGTERM', () => {
  app.close().then(() => process.exit(0));
});
