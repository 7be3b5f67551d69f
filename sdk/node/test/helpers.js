'use strict';
// Helpers for the integration tests: a server on a free loopback port and
// a request that returns the status, body and session directives (or the
// same through Fastify's inject()).

const http = require('node:http');
const { readDirectives } = require('../testing');

const SECRET = 'node-test-secret-0123456789abcdef';

// listen serves handler on 127.0.0.1 with a random port until the test ends.
async function listen(t, handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(resolve);
  }));
  return 'http://127.0.0.1:' + server.address().port;
}

// request GETs base+path with token as X-Session (none when undefined).
async function request(base, path, token, headers = {}) {
  const h = { ...headers };
  if (token !== undefined) h['X-Session'] = token;
  const res = await fetch(base + path, { headers: h, redirect: 'manual' });
  const body = await res.text();
  return { status: res.status, body, headers: res.headers, directives: readDirectives(res.headers) };
}

// inject asks a Fastify app for path with token as X-Session (none when
// undefined), through Fastify's inject(), without a server; it answers as
// request does, its headers a fetch Headers.
async function inject(app, path, token, headers = {}) {
  const h = { ...headers };
  if (token !== undefined) h['X-Session'] = token;
  const res = await app.inject({ method: 'GET', url: path, headers: h });
  const all = new Headers();
  for (const [k, v] of Object.entries(res.headers)) for (const x of [].concat(v)) all.append(k, String(x));
  return { status: res.statusCode, body: res.body, headers: all, directives: readDirectives(res.headers) };
}

const none = { set: null, destroy: false, destroyOthers: false, renew: false, maxAge: null };

// varyCases are the Vary a test app's routes must answer with, the same
// for Koa, Express and Fastify: /plain does not touch the session, /get,
// /id and /set do, /writehead reads it and passes its headers to
// writeHead (as writeHeadHeaders makes them); ?vary is the app's own Vary.
const varyCases = [
  ['/plain', null],
  ['/plain?vary=Accept-Encoding', 'Accept-Encoding'],
  ['/get', 'Cookie'],
  ['/id', 'Cookie'],
  ['/set', 'Cookie'],
  ['/get?vary=Accept-Encoding', 'Accept-Encoding, Cookie'],
  ['/get?vary=Origin,%20cookie', 'Origin, cookie'],
  ['/get?vary=*', '*'],
  ['/writehead', 'Cookie'],
  ['/writehead?vary=Accept-Encoding', 'Accept-Encoding, Cookie'],
  ['/writehead?form=raw', 'Cookie'],
  ['/writehead?form=raw&vary=Accept-Encoding', 'Accept-Encoding, Cookie'],
  ['/writehead?form=raw&vary=Accept,%20Cookie', 'Accept, Cookie'],
  ['/writehead?form=nested&vary=Accept-Encoding', 'Accept-Encoding, Cookie'],
];

// writeHeadHeaders returns the headers a /writehead route gives
// writeHead: headers (an object) with query.vary as Vary, in the form
// query.form names: an object (default), a raw array [name, value, ...],
// or nested [[name, value], ...], all of which Node's writeHead takes.
function writeHeadHeaders(query, headers = {}) {
  const h = query.vary === undefined ? headers : { ...headers, Vary: query.vary };
  switch (query.form) {
    case 'raw':
      return Object.entries(h).flat();
    case 'nested':
      return Object.entries(h);
    default:
      return h;
  }
}

// byHand are directives an app writes by hand, in any case, with a header
// of its own: given to writeHead (as writeHeadHeaders makes them, for each
// of forms), the directives must be the session's and X-Other kept.
const byHand = { 'X-Session-Set': '{"hand":1}', 'x-session-destroy': 'true', 'X-SESSION-RENEW': 'true', 'X-Session-Max-Age': '5', 'X-Other': 'kept' };
const forms = ['object', 'raw', 'nested'];

module.exports = { SECRET, listen, request, inject, none, varyCases, writeHeadHeaders, byHand, forms };
