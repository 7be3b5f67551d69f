'use strict';
/**
 * sessionproxy: the app's side of sessionproxy. The proxy owns the session
 * cookie and sends the session as a signed JWT in the X-Session request
 * header; these middlewares verify it and give the app its framework's own
 * session object (koa-session's ctx.session, express-session's
 * req.session, @fastify/session's request.session), answering with the
 * X-Session-* directives.
 */

const { InvalidTokenError, createVerifier, verify } = require('./lib/verify');
const { LateChangeError } = require('./lib/state');
const { mergePatch } = require('./lib/patch');
const { koa } = require('./lib/koa');
const { express } = require('./lib/express');
const { fastify } = require('./lib/fastify');

const sessionproxy = { verify, createVerifier, InvalidTokenError, LateChangeError, koa, express, fastify, mergePatch };
// default, for TypeScript's `import sessionproxy from 'sessionproxy'` compiled to CommonJS.
sessionproxy.default = sessionproxy;
module.exports = sessionproxy;
