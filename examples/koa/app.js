// koa-session's full application example, with sessionproxy in front: the
// only change from a koa-session app is the app.use(...) line. The proxy
// owns the cookie; this app reads and writes ctx.session as always.
//
//   UPSTREAM_SECRET=... node app.js [PORT]     (PORT 0 = a free port; default 8080)
//
// Routes: /set, /get, /destroy, /renew (koa-session's example), /login?name=N
// (a renew after login), /put?key=K&value=V (changes one key; &ms=M waits
// first, so that two requests of one session can overlap), /whoami (what the
// proxy sent: the session id, whether it is new, the data); with the
// proxy's session.userKey set to user.name: /logout-others, /logout-all,
// /login-end-others?name=N (a login that ends the user's earlier sessions).
'use strict';

const Koa = require('koa');
const sessionproxy = require('sessionproxy');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const app = new Koa();
// UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
app.use(sessionproxy.koa({ secret: process.env.UPSTREAM_SECRET, header: process.env.UPSTREAM_HEADER || undefined }));

app.use(async (ctx) => {
  switch (ctx.path.slice(1)) {
    case 'set':
      ctx.session.user = { name: 'john doe', age: 30 };
      ctx.body = 'session set';
      break;
    case 'get':
      ctx.body = ctx.session.user; // none yet: an empty 204
      break;
    case 'destroy':
      ctx.session = null;
      ctx.body = 'session destroyed';
      break;
    case 'renew':
      await ctx.session.regenerate();
      ctx.body = 'session renewed';
      break;
    case 'login':
      ctx.session.user = { name: ctx.query.name, age: 30 };
      await ctx.session.regenerate(); // a new id after a login, against session fixation
      ctx.body = 'logged in';
      break;
    case 'logout-others':
      ctx.session.destroyOthers();
      ctx.body = 'other sessions ended';
      break;
    case 'logout-all':
      ctx.session.destroyAll();
      ctx.body = 'all sessions ended';
      break;
    case 'login-end-others':
      ctx.session.user = { name: ctx.query.name, age: 30 };
      ctx.session.destroyOthers();
      await ctx.session.regenerate();
      ctx.body = 'logged in here only';
      break;
    case 'put':
      await sleep(Number(ctx.query.ms || 0));
      ctx.session[ctx.query.key] = ctx.query.value;
      ctx.body = 'session changed';
      break;
    case 'whoami':
      ctx.body = { sid: ctx.sessionHandler.getId() ?? null, new: ctx.session.isNew, session: ctx.session.toJSON() };
      break;
    default:
      ctx.status = 404;
  }
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
const server = app.listen(port, process.env.HOST || '127.0.0.1', () => {
  const { address, port } = server.address();
  console.log(`listening on ${address}:${port}`);
});
process.on('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
