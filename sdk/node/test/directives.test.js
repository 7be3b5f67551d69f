'use strict';
// readDirectives refuses exactly what the proxy answers with 502, and reads
// what it applies, and applyDirectives gives the session the proxy keeps,
// and applySession that and the next token's new and id, case by case from sdk/testdata/directives.json, the table
// test/sdk_directives_test.go holds the real proxy to.

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { readDirectives, applyDirectives, applySession, DirectiveError } = require('../testing');
const { listen } = require('./helpers');

const table = JSON.parse(fs.readFileSync(path.join(__dirname, '../../testdata/directives.json'), 'utf8'));
const { cases } = table;

// lines returns a case's header lines, the last one repeated and <pad>
// filled in as the table says.
function lines(c) {
  const pad = (c.pad_with ?? 'x').repeat(c.pad ?? 0);
  const out = [];
  c.headers.forEach(([name, value], i) => {
    const n = i === c.headers.length - 1 && c.repeat ? c.repeat : 1;
    for (let j = 0; j < n; j++) out.push([name, value.replaceAll('<pad>', pad)]);
  });
  return out;
}

// object is a plain headers object, as supertest's res.headers: an array
// for a repeated name.
function object(c) {
  const h = {};
  for (const [name, value] of lines(c)) h[name] = name in h ? [].concat(h[name], value) : value;
  return h;
}

function check(c, headers) {
  const before = c.before ?? table.before;
  if (c.want) {
    assert.deepEqual(readDirectives(headers), {
      set: c.want.set.length ? c.want.set[0] : null,
      destroy: c.want.destroy,
      destroyOthers: c.want.destroy_others,
      renew: c.want.renew,
      maxAge: c.want.max_age,
    });
    const arrived = structuredClone(before);
    assert.deepEqual(applyDirectives(arrived, headers), c.want.session);
    assert.deepEqual(arrived, before, 'applyDirectives left the session it was given as it was');
    const opts = { secret: 's', sess: before, sid: 's1' };
    const next = applySession(opts, headers);
    assert.deepEqual([next.sess, next.isNew], [c.want.session, c.want.new], "the next token's session and new");
    assert.equal(next.sid !== opts.sid, c.want.id === 'new', "the next token's id");
    return;
  }
  assert.throws(() => applyDirectives(before, headers), DirectiveError);
  assert.throws(() => applySession({ sess: before }, headers), DirectiveError);
  assert.throws(() => readDirectives(headers), (err) => {
    assert.ok(err instanceof DirectiveError, String(err));
    if (c.error) assert.equal(err.header.toLowerCase(), c.error.toLowerCase());
    assert.match(err.message, new RegExp('^sessionproxy/testing: ' + err.header.replace(/[^\w]/g, '\\$&') + ': '));
    return true;
  });
}

test('readDirectives agrees with the proxy on each case', async (t) => {
  for (const c of cases) await t.test(c.name, () => check(c, object(c)));
});

test('readDirectives agrees with the proxy on a Node client response', async (t) => {
  const url = await listen(t, (req, res) => {
    res.writeHead(200, lines(cases[Number(req.url.slice(1))]).flat());
    res.end();
  });
  // Node cannot send a value beyond Latin-1 (the proxy refuses it anyway).
  for (const [i, c] of cases.entries()) {
    if (lines(c).some(([, v]) => /[^\u0000-\u00ff]/.test(v))) continue;
    await t.test(c.name, async () => {
      const res = await new Promise((resolve, reject) => {
        http.get(url + '/' + i, { maxHeaderSize: 2 << 20 }, resolve).on('error', reject);
      });
      res.resume();
      check(c, res);
    });
  }
});

test('readDirectives reads the directives named after the header option', () => {
  const h = { 'x-app-session-renew': 'true', 'x-session-set': '{"_a":1}' };
  assert.equal(readDirectives(h, 'X-App-Session').renew, true);
  assert.deepEqual(applyDirectives({ a: 1 }, { ...h, 'x-app-session-set': '{"b":2}' }, 'X-App-Session'), { a: 1, b: 2 });
  assert.throws(() => readDirectives({ ...h, 'X-App-Session-Destroy': 'nope' }, 'X-App-Session'),
    (err) => err instanceof DirectiveError && err.header === 'X-App-Session-Destroy');
});

test('applyDirectives keeps a nested "__proto__" a key like any other', () => {
  const got = applyDirectives({ a: {} }, { 'x-session-set': '{"a":{"__proto__":{"polluted":1}}}' });
  assert.equal(Object.getPrototypeOf(got.a), Object.prototype);
  assert.deepEqual(Object.keys(got.a), ['__proto__']);
  assert.equal({}.polluted, undefined);
});
