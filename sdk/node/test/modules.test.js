'use strict';
// The package loads as CommonJS and as ESM, by its own name, with the
// same functions, and has no runtime dependency.

const test = require('node:test');
const assert = require('node:assert/strict');

const names = ['verify', 'createVerifier', 'InvalidTokenError', 'LateChangeError', 'koa', 'express', 'fastify', 'mergePatch'];

test('CommonJS and ESM entry points export the same API', async () => {
  const cjs = require('sessionproxy');
  const esm = await import('sessionproxy');
  for (const name of names) {
    assert.equal(typeof cjs[name], 'function', name);
    assert.equal(esm[name], cjs[name], name);
  }
  assert.equal(esm.default, cjs);
  const cjsTesting = require('sessionproxy/testing');
  const esmTesting = await import('sessionproxy/testing');
  assert.equal(esmTesting.mintToken, cjsTesting.mintToken);
  assert.equal(esmTesting.readDirectives, cjsTesting.readDirectives);
  assert.equal(esmTesting.applyDirectives, cjsTesting.applyDirectives);
});

test('a minted token verifies, through either entry point', async () => {
  const { verify } = await import('sessionproxy');
  const { mintToken } = require('sessionproxy/testing');
  const claims = await verify(mintToken({ secret: 's3cret', sess: { a: 1 }, sid: 'x' }), { secret: 's3cret' });
  assert.deepEqual(claims.sess, { a: 1 });
  assert.equal(claims.sid, 'x');
  assert.equal(claims.new, false);
});

test('no runtime dependencies', () => {
  const pkg = require('../package.json');
  assert.deepEqual(pkg.dependencies ?? {}, {});
  assert.deepEqual(pkg.peerDependencies ?? {}, {});
});
