// Unit tests: envelope parsing, results, signatures (RFC 4231 vectors and
// a signature loom-exec made), the handler mounted on node:http.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  EnvelopeError, TaskError, accepted, failed, hmacSha256Hex, parseEnvelope, runHandler, serve,
  sign, success, verifySignature,
} from '../src/index.js';

const testdata = (name) => JSON.parse(readFileSync(new URL(`../../testdata/${name}`, import.meta.url), 'utf8'));

test('a full envelope', () => {
  const body = JSON.stringify({
    executionId: 'exec-1', taskId: 'fetch_data', input: { date: '2024-01-14' }, attempt: 2,
    timeout: 300000, callbackUrl: 'http://loom:8080/api/v1/callbacks/tok',
    scheduledTime: '2026-12-07T03:00:00Z',
  });
  const r = parseEnvelope(body, { 'idempotency-key': 'exec-1/fetch_data/2' });
  assert.equal(r.executionId, 'exec-1');
  assert.equal(r.taskId, 'fetch_data');
  assert.deepEqual(r.input, { date: '2024-01-14' });
  assert.equal(r.attempt, 2);
  assert.equal(r.timeoutMs, 300000);
  assert.equal(r.callbackUrl, 'http://loom:8080/api/v1/callbacks/tok');
  assert.equal(r.scheduledTime.toISOString(), '2026-12-07T03:00:00.000Z');
  assert.equal(r.idempotencyKey, 'exec-1/fetch_data/2');
});

test('defaults and optional keys', () => {
  const r = parseEnvelope(Buffer.from('{"executionId":"e","taskId":"t"}'));
  assert.deepEqual([r.attempt, r.input, r.timeoutMs, r.callbackUrl, r.scheduledTime], [1, {}, null, null, null]);
  assert.equal(r.idempotencyKey, 'e/t/1');
});

test('bad envelopes', () => {
  for (const body of ['', 'not json', '[1]', '{"taskId":"t"}', '{"executionId":"e","taskId":""}',
    '{"executionId":"e","taskId":"t","attempt":0}', '{"executionId":"e","taskId":"t","attempt":"1"}',
    '{"executionId":"e","taskId":"t","timeout":"5m"}', '{"executionId":"e","taskId":"t","scheduledTime":"x"}']) {
    assert.throws(() => parseEnvelope(body), EnvelopeError, body);
  }
});

test('results', () => {
  assert.deepEqual(success({ n: 1 }, 'did it'), { status: 'SUCCESS', output: { n: 1 }, logs: 'did it' });
  assert.deepEqual(failed('ValidationException', 'bad limit'), {
    status: 'FAILED', output: null, logs: 'bad limit', error: { type: 'ValidationException', message: 'bad limit' },
  });
  assert.deepEqual(accepted(), { status: 'RUNNING' });
});

test('runHandler', async () => {
  const req = parseEnvelope('{"executionId":"e","taskId":"t"}');
  let [st, body] = await runHandler(() => { throw new TaskError('ValidationException', 'no'); }, req);
  assert.deepEqual([st, body.status, body.error.type], [200, 'FAILED', 'ValidationException']);
  [st, body] = await runHandler(() => { throw new RangeError('x'); }, req);
  assert.equal(body.error.type, 'TaskFailedException');
  assert.match(body.error.message, /RangeError: x/);
  [st, body] = await runHandler(async () => undefined, req);
  assert.deepEqual([st, body.status, body.output], [200, 'SUCCESS', null]);
  assert.equal(typeof body.duration, 'number');
  [st, body] = await runHandler(() => accepted(), req);
  assert.deepEqual([st, body], [202, { status: 'RUNNING' }]);
});

test('RFC 4231 HMAC-SHA256 vectors', () => {
  for (const v of testdata('rfc4231.json').vectors) {
    assert.equal(hmacSha256Hex(Buffer.from(v.key, 'hex'), Buffer.from(v.data, 'hex')), v.mac, `case ${v.case}`);
  }
});

test('sign is the HMAC of timestamp "." body', () => {
  assert.equal(sign('Jefe', 1764130000, '{}'), `v1=${hmacSha256Hex('Jefe', '1764130000.{}')}`);
});

test('a signature made by loom-exec', () => {
  const f = testdata('loom-exec-signature.json');
  const ts = Number(f.timestamp);
  const body = Buffer.from(f.body);
  assert.ok(verifySignature(f.secret, f.timestamp, f.signature, body, { now: ts + 10 }));
  assert.ok(verifySignature(f.secret, f.timestamp, f.signature, f.body, { maxSkew: null }));
  assert.ok(!verifySignature(f.secret, f.timestamp, f.signature, body, { now: ts + 301 }));
  assert.ok(!verifySignature(f.secret, f.timestamp, f.signature, body, { now: ts - 301 }));
  assert.ok(!verifySignature('other', f.timestamp, f.signature, body, { now: ts }));
  assert.ok(!verifySignature(f.secret, f.timestamp, f.signature, `${f.body} `, { now: ts }));
  assert.ok(!verifySignature(f.secret, String(ts + 1), f.signature, body, { now: ts }));
  assert.ok(!verifySignature(f.secret, f.timestamp, f.signature.toUpperCase(), body, { now: ts }));
  assert.equal(parseEnvelope(body, { 'Idempotency-Key': f.idempotencyKey }).idempotencyKey,
    'exec-sdk-fixture/fetch_data/1');
});

test('malformed signature headers', () => {
  for (const [ts, sig] of [[undefined, 'v1=00'], ['12', undefined], ['', 'v1='], ['-5', 'v1=00'], ['1e9', 'v1=00']]) {
    assert.ok(!verifySignature('k', ts, sig, '', { maxSkew: null }));
  }
});

test('the handler on a real node:http server', async (t) => {
  const server = await serve({
    '/hello': (req) => success({ hi: req.input.name }, 'said hi'),
  }, { port: 0, secret: 's3cret' });
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const post = async (path, body, headers) => {
    const r = await fetch(base + path, { method: 'POST', body, headers });
    return [r.status, await r.json()];
  };
  const body = '{"executionId":"e","taskId":"t","input":{"name":"loom"}}';
  const ts = String(Math.floor(Date.now() / 1000));
  const good = { 'X-Loom-Timestamp': ts, 'X-Loom-Signature': sign('s3cret', ts, body) };
  let [st, ans] = await post('/hello', body, good);
  assert.deepEqual([st, ans.status, ans.output], [200, 'SUCCESS', { hi: 'loom' }]);
  [st, ans] = await post('/hello', body, {});
  assert.deepEqual([st, ans.error.type], [401, 'HttpClientError']);
  [st] = await post('/hello', `${body} `, good);
  assert.equal(st, 401);
  [st] = await post('/nosuch', body, good);
  assert.equal(st, 404);
  [st, ans] = await post('/hello', '[]', { 'X-Loom-Timestamp': ts, 'X-Loom-Signature': sign('s3cret', ts, '[]') });
  assert.deepEqual([st, ans.error.type], [400, 'ValidationException']);
});

test('an empty secret checks nothing', async (t) => {
  const server = await serve({ '/t': () => success(1) }, { port: 0, secret: '' });
  t.after(() => server.close());
  const r = await fetch(`http://127.0.0.1:${server.address().port}/t`,
    { method: 'POST', body: '{"executionId":"e","taskId":"t"}' });
  assert.deepEqual([r.status, (await r.json()).output], [200, 1]);
});
