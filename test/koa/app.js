// A real Koa app with koa-session, for sessionproxy's compatibility tests.
//
//   node app.js PORT        (0 = a free port; prints "listening on 127.0.0.1:PORT")
//
// Environment: KOA_KEYS, a JSON array of app.keys (first signs, all
// verify); KOA_KEYGRIP, a hash for app.keys = new Keygrip(keys, hash)
// (keygrip's own default, sha1, when unset); KOA_SESSION, a JSON object of extra koa-session options
// (rolling, renew, maxAge, ...); KOA_REDIS, host:port of a Redis server:
// when set, sessions live there through koa-redis (koa-session's
// external-store mode, with prefix "koa:sess:" unless KOA_SESSION names
// another) and the cookie holds only the key.
//
// Routes are matched on the last path segment, so the app works under any
// prefix (/legacy/get and /get are the same route):
//   get                   -> {"isNew": bool, "session": {...}}
//   set?json={...}        -> assigns each member (null deletes it), then as get
//   destroy               -> ctx.session = null
//   regenerate            -> await ctx.session.regenerate()
//   maxage?ms=N|session   -> ctx.session.maxAge = N or "session"
//   touch                 -> reads the session, changes nothing
'use strict';

const Koa = require('koa');
const session = require('koa-session');
const createSession = session.createSession || session.default || session;

const port = Number(process.argv[2] || 0);
const app = new Koa();
app.keys = JSON.parse(process.env.KOA_KEYS || '["test-key"]');
if (process.env.KOA_KEYGRIP) app.keys = new (require('keygrip'))(app.keys, process.env.KOA_KEYGRIP);
const opts = JSON.parse(process.env.KOA_SESSION || '{}') || {};
let redisStore = null;
if (process.env.KOA_REDIS) {
  const redisStoreFactory = require('koa-redis');
  const i = process.env.KOA_REDIS.lastIndexOf(':');
  redisStore = redisStoreFactory({
    host: process.env.KOA_REDIS.slice(0, i),
    port: Number(process.env.KOA_REDIS.slice(i + 1)),
  });
  opts.store = redisStore;
  if (opts.prefix === undefined) opts.prefix = 'koa:sess:';
}
app.use(createSession(opts, app));

function report(ctx) {
  const s = ctx.session;
  ctx.body = { isNew: s ? !!s.isNew : null, session: s ? s.toJSON() : null };
}

app.use(async (ctx) => {
  const route = ctx.path.split('/').filter(Boolean).pop() || '';
  switch (route) {
    case 'get':
    case 'touch':
      break;
    case 'set': {
      const patch = JSON.parse(ctx.query.json || '{}');
      for (const [k, v] of Object.entries(patch)) {
        if (v === null) delete ctx.session[k];
        else ctx.session[k] = v;
      }
      break;
    }
    case 'destroy':
      ctx.session = null;
      break;
    case 'regenerate':
      await ctx.session.regenerate();
      break;
    case 'maxage':
      ctx.session.maxAge = ctx.query.ms === 'session' ? 'session' : Number(ctx.query.ms);
      break;
    default:
      ctx.status = 404;
      ctx.body = 'no route ' + route;
      return;
  }
  report(ctx);
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log('listening on 127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => {
  if (redisStore) redisStore.client.disconnect();
  server.close(() => process.exit(0));
});
