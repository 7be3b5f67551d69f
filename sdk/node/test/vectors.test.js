'use strict';
// The shared conformance vectors in sdk/testdata, written by the proxy.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { verify, createVerifier, InvalidTokenError, mergePatch } = require('..');
const { State } = require('../lib/state');

const vectors = JSON.parse(fs.readFileSync(path.join(__dirname, '../../testdata/vectors.json'), 'utf8'));

// serveJWKS serves the vectors' key set as the proxy's admin listener does.
async function serveJWKS(t) {
  const server = http.createServer((req, res) => {
    res.setHeader('Content-Type', 'application/jwk-set+json');
    res.end(JSON.stringify(vectors.jwks));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  return `http://127.0.0.1:${server.address().port}/.well-known/jwks.json`;
}

test('token vectors', async (t) => {
  assert.ok(vectors.tokens.length > 0);
  const jwksUrl = await serveJWKS(t);
  for (const v of vectors.tokens) {
    await t.test(v.name, async () => {
      // A vector without a secret is verified with the published keys.
      const opts = v.secret ? { secret: v.secret } : { jwksUrl };
      if (v.audience !== undefined) opts.audience = v.audience;
      if (v.claims !== undefined) {
        assert.deepEqual(await verify(v.token, opts), v.claims);
      } else {
        await assert.rejects(verify(v.token, opts), (err) => {
          assert.ok(err instanceof InvalidTokenError, String(err));
          assert.equal(err.reason, v.error);
          return true;
        });
      }
    });
  }
});

test('patch vectors', async (t) => {
  assert.ok(vectors.patches.length > 0);
  for (const v of vectors.patches) {
    await t.test(v.name, () => {
      assert.deepEqual(mergePatch(v.before, v.after), v.patch);
      // And as the header a middleware sends: exactly the patch, or none.
      const state = new State({ sess: structuredClone(v.before), exp: 0, iss: vectors.issuer });
      const h = state.directives(structuredClone(v.after));
      if (v.patch === null) assert.deepEqual(h, {});
      else {
        assert.deepEqual(JSON.parse(h['X-Session-Set']), v.patch);
        assert.match(h['X-Session-Set'], /^[\x20-\x7e]*$/, 'a header value is printable ASCII');
      }
    });
  }
});

test('an exp past the float range is malformed, not a token that never expires', async () => {
  const crypto = require('node:crypto');
  const enc = (v) => Buffer.from(v).toString('base64url');
  const signed = enc('{"alg":"HS256","typ":"JWT"}') + '.' + enc('{"iss":"sessionproxy","sess":{},"exp":1e400}');
  const sig = crypto.createHmac('sha256', vectors.secret).update(signed).digest('base64url');
  await assert.rejects(verify(signed + '.' + sig, { secret: vectors.secret }), (err) => err instanceof InvalidTokenError && err.reason === 'malformed');
});

test('a Uint8Array secret, as the typings allow', async () => {
  const v = vectors.tokens.find((x) => x.secret && x.claims);
  const secret = new TextEncoder().encode(v.secret);
  assert.deepEqual(await createVerifier({ secret }).verify(v.token), v.claims);
});

test('oldSecrets: a token.secret rotation', async (t) => {
  const { mintToken } = require('../testing');
  const current = vectors.secret;
  const old = 'node-old-secret-0123456789abcdef';
  const other = 'node-other-secret-0123456789abcdef';
  const cases = [
    ['none', undefined, { [current]: true, [old]: false, [other]: false }],
    ['the old one', [old], { [current]: true, [old]: true, [other]: false }],
    ['as a Uint8Array, among others', ['older-secret', new TextEncoder().encode(old)], { [current]: true, [old]: true, [other]: false }],
  ];
  for (const [name, oldSecrets, want] of cases) {
    await t.test(name, async () => {
      const v = createVerifier({ secret: current, oldSecrets });
      for (const [signer, ok] of Object.entries(want)) {
        const token = mintToken({ secret: signer, sess: { user: 'john' } });
        for (const check of [v.verify, (tok) => verify(tok, { secret: current, oldSecrets })]) {
          if (ok) {
            assert.deepEqual((await check(token)).sess, { user: 'john' }, 'signed with ' + signer);
          } else {
            await assert.rejects(check(token), (err) => err instanceof InvalidTokenError && err.reason === 'signature', 'signed with ' + signer);
          }
        }
      }
    });
  }
});

test('a nested "__proto__" member is data, kept in the patch', () => {
  const after = JSON.parse('{"a":{"x":1,"__proto__":{"polluted":true}}}');
  const patch = mergePatch({ a: { x: 1 } }, after);
  assert.equal(JSON.stringify(patch), '{"a":{"__proto__":{"polluted":true}}}');
  assert.equal({}.polluted, undefined);
});

test('an empty secret is refused at construction', () => {
  for (const secret of ['', Buffer.alloc(0), 42, null]) {
    assert.throws(() => createVerifier({ secret }), TypeError);
  }
  assert.throws(() => createVerifier({}), TypeError);
  assert.throws(() => createVerifier({ jwksUrl: 'file:///etc/passwd' }), TypeError);
  for (const oldSecrets of [[''], ['old', Buffer.alloc(0)], [42], 'old', null]) {
    assert.throws(() => createVerifier({ secret: 's', oldSecrets }), TypeError, JSON.stringify(oldSecrets));
  }
  assert.throws(() => createVerifier({ jwksUrl: 'http://127.0.0.1:1/jwks.json', oldSecrets: ['old'] }), TypeError);
});
