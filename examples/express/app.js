// koa-session's full application example, written for Express with
// express-session's API, and sessionproxy in front: the only change from
// an express-session app is the app.use(...) line. The proxy owns the
// cookie; this app reads and writes req.session as always.
//
//   UPSTREAM_SECRET=... node app.js [PORT]     (PORT 0 = a free port; default 8080)
//
// Routes: /set, /get, /destroy, /renew, /login?name=N (a renew after login,
// as express-session's docs write it), /put?key=K&value=V (changes one key;
// &ms=M waits first, so that two requests of one session can overlap),
// /whoami (what the proxy sent: the session id and the data); with the
// proxy's session.userKey set to user.name: /logout-others, /logout-all,
// /login-end-others?name=N (a login that ends the user's earlier sessions).
'use strict';

const express = require('express');
const sessionproxy = require('sessionproxy');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const app = express();
// UPSTREAM_HEADER: the proxy's token.header, when it is not X-Session.
app.use(sessionproxy.express({ secret: process.env.UPSTREAM_SECRET, header: process.env.UPSTREAM_HEADER || undefined }));

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

// express-session's regenerate() starts an empty session with a new id;
// carry the data over to keep it.
app.get('/renew', (req, res, next) => {
  const data = { ...req.session };
  req.session.regenerate((err) => {
    if (err) return next(err);
    Object.assign(req.session, data);
    res.send('session renewed');
  });
});

app.get('/login', (req, res, next) => {
  const data = { ...req.session };
  req.session.regenerate((err) => {
    if (err) return next(err);
    Object.assign(req.session, data, { user: { name: req.query.name, age: 30 } });
    res.send('logged in');
  });
});

app.get('/logout-others', (req, res, next) => {
  req.session.destroyOthers((err) => (err ? next(err) : res.send('other sessions ended')));
});

app.get('/logout-all', (req, res, next) => {
  req.session.destroyAll((err) => (err ? next(err) : res.send('all sessions ended')));
});

app.get('/login-end-others', (req, res, next) => {
  const data = { ...req.session };
  req.session.regenerate((err) => {
    if (err) return next(err);
    Object.assign(req.session, data, { user: { name: req.query.name, age: 30 } });
    req.session.destroyOthers((err) => (err ? next(err) : res.send('logged in here only')));
  });
});

app.get('/put', async (req, res) => {
  await sleep(Number(req.query.ms || 0));
  req.session[req.query.key] = req.query.value;
  res.send('session changed');
});

// express-session has no isNew: "new" is null.
app.get('/whoami', (req, res) => {
  res.json({ sid: req.sessionID ?? null, new: null, session: req.session });
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
