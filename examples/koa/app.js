// koa-session's full application example, with sessionproxy in front: the
// only change from a koa-session app is the app.use(...) line. The proxy
// owns the cookie; this app reads and writes ctx.session as always.
//
//   UPSTREAM_SECRET=... node app.js [PORT]     (PORT 0 = a free port; default 8080)
//
// Routes: /set, /get, /destroy, /renew (koa-session's example), /login (a
// renew after login, the way a widely copied tutorial writes it),
// /put/KEY/VALUE (changes one key; ?delay=MS waits first, so that
// requests overlap), /whoami (the session id and data, for the tests).
'use strict';

const Koa = require('koa');
const sessionproxy = require('sessionproxy');

const app = new Koa();
app.use(sessionproxy.koa({ secret: process.env.UPSTREAM_SECRET }));

app.use(async (ctx) => {
  const [route, ...args] = ctx.path.split('/').filter(Boolean);
  switch (route) {
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
      ctx.sessionHandler.regenerateId();
      ctx.session.user = { name: 'john doe', age: 30 };
      ctx.body = 'logged in';
      break;
    case 'put': {
      const delay = Number(ctx.query.delay || 0);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      ctx.session[args[0]] = args[1];
      ctx.body = 'put ' + args[0];
      break;
    }
    case 'whoami':
      ctx.body = { sid: ctx.sessionHandler.getId() ?? null, isNew: ctx.session.isNew, session: ctx.session.toJSON() };
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
