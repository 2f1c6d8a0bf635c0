// Unit tests of the client that need no Link Loom: error mapping and the
// server-sent event parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import {
  BadRequestError, ConflictError, LinkLoomClient, LoomConnectionError, LoomError, NotFoundError,
  UnauthorizedError, UnavailableError, UnprocessableError, WaitTimeoutError, errorFromResponse, parseSse,
} from '../src/index.js';

test('the API error shape', () => {
  const e = errorFromResponse(404, '{"error":{"code":"not_found","message":"no workflow \'x\'","field":"id"}}');
  assert.ok(e instanceof NotFoundError && e instanceof LoomError && e instanceof Error);
  assert.deepEqual([e.status, e.code, e.apiMessage, e.field], [404, 'not_found', "no workflow 'x'", 'id']);
  assert.match(e.message, /^404 not_found: /);
});

test('classes by status', () => {
  const body = '{"error":{"code":"c","message":"m","field":null}}';
  for (const [status, Cls] of [[400, BadRequestError], [401, UnauthorizedError], [409, ConflictError],
    [422, UnprocessableError], [503, UnavailableError], [500, LoomError]]) {
    const e = errorFromResponse(status, body);
    assert.equal(e.constructor, Cls);
    assert.equal(e.code, 'c');
  }
});

test('details and concurrency_limit', () => {
  let e = errorFromResponse(422, '{"error":{"code":"invalid_workflow","message":"2 errors","field":null,"details":[{"line":7},{"line":11}]}}');
  assert.equal(e.details.length, 2);
  e = errorFromResponse(409, '{"error":{"code":"concurrency_limit","message":"a run is live","field":null}}');
  assert.ok(e instanceof ConflictError);
  assert.equal(e.code, 'concurrency_limit');
});

test('a body not of the API shape', () => {
  let e = errorFromResponse(400, '<html>Bad Request</html>');
  assert.deepEqual([e.code, e.apiMessage], ['http_400', '<html>Bad Request</html>']);
  e = errorFromResponse(502, '');
  assert.equal(e.apiMessage, 'HTTP 502');
});

test('connection refused is a LoomConnectionError', async () => {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  await assert.rejects(new LinkLoomClient(`http://127.0.0.1:${port}`).listWorkflows(),
    (e) => e instanceof LoomConnectionError && e.status === 0);
});

test('URLs', () => {
  assert.throws(() => new LinkLoomClient('ftp://x'), TypeError);
  assert.equal(new LinkLoomClient('unix:/run/loom/api.sock').socketPath, '/run/loom/api.sock');
});

async function* chunks(...parts) { for (const p of parts) yield Buffer.from(p); }

test('SSE: messages, comments, CRLF, split chunks, end', async () => {
  const evs = [];
  for await (const e of parseSse(chunks('retry: 2000\n: link loom event stream\n\nid: 4', '1\nevent: task\ndata: {"id":41,"to":"RUNNING"}\n\n',
    ': ping\n\nid: 42\r\nevent: log\r\ndata: {"line":"a"}\r\n\r\n', 'event: end\ndata: {"status":"SUCCESS"}\n\n'))) evs.push(e);
  assert.deepEqual(evs.map((e) => [e.id, e.event]), [[41, 'task'], [42, 'log'], [null, 'end']]);
  assert.deepEqual(evs[1].data, { line: 'a' });
  assert.equal(evs[2].data.status, 'SUCCESS');
});

test('SSE: cut in the middle of a message', async () => {
  await assert.rejects(async () => { for await (const _ of parseSse(chunks('id: 1\nevent: task\ndata: {}\n'))); },
    LoomConnectionError);
});

test('a server that ignores ?wait and gives one cursor forever', async (t) => {
  const calls = [];
  const srv = http.createServer((req, res) => {
    calls.push(req.url);
    const body = req.url.startsWith('/api/v1/executions?')
      ? { executions: [{ id: `exec-${calls.length}` }], nextCursor: 'same' }
      : { id: 'exec-1', status: 'RUNNING', tasks: [] };
    res.end(JSON.stringify(body));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => srv.close());
  const c = new LinkLoomClient(`http://127.0.0.1:${srv.address().port}`);
  await assert.rejects(c.wait('exec-1', { timeoutMs: 2500 }), WaitTimeoutError);
  assert.ok(calls.length <= 5, `${calls.length} polls`);
  assert.match(calls[0], /wait=/);
  calls.length = 0;
  const seen = [];
  await assert.rejects(async () => { for await (const e of c.listExecutions({ limit: 1 })) seen.push(e.id); },
    (e) => e instanceof LoomError && e.code === 'bad_cursor');
  assert.equal(calls.length, 2);
  assert.equal(seen.length, 2);
});
