// Integration tests against a real Link Loom stack.  tests/sdk-js.bats
// starts PostgreSQL, loom-api (TCP, a Unix socket, and one that asks for
// tokens), loom-engine and loom-exec, and exports where they are (see
// tests/sdk-helpers.bash).  Without LOOM_API these tests are skipped,
// unless LOOM_SDK_INTEGRATION=1 says they must run.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConflictError, LinkLoomClient, NotFoundError, UnauthorizedError, UnprocessableError, WaitTimeoutError,
  complete, success, verifySignature,
} from '../src/index.js';
import { fnv1a, start } from '../examples/seed-backend.js';

const API = process.env.LOOM_API;
const REQUIRED = process.env.LOOM_SDK_INTEGRATION === '1';
const SECRET = process.env.LOOM_SDK_SIGNING_SECRET ?? '';
if (REQUIRED && !API) throw new Error('LOOM_SDK_INTEGRATION=1 but LOOM_API is not set');

const seedYaml = (id, backend) => readFileSync(new URL('../../testdata/seed.yaml', import.meta.url), 'utf8')
  .replaceAll('@ID@', id).replaceAll('@BACKEND@', backend);

describe('against a real stack', { skip: !API && 'no stack: LOOM_API is not set (see tests/sdk-js.bats)' }, () => {
  const c = new LinkLoomClient(API);
  let server; let backend; let backendUrl;

  before(async () => {
    ({ server, backend } = await start({ port: 0, secret: SECRET }));
    backendUrl = backend.baseUrl;
    await c.applyWorkflow(seedYaml('js-seed', backendUrl));
  });
  after(() => server.close());

  test('the seed run: outputs flow, logs followed live, send_email via 202 and callback', async () => {
    assert.ok((await c.listWorkflows()).some((w) => w.id === 'js-seed'));
    assert.equal((await c.getWorkflow('js-seed')).spec.tasks[0].id, 'fetch_data');
    const { executionId: id } = await c.trigger('js-seed', { limit: 5 });
    const lines = [];
    for await (const l of c.followLogs(id)) lines.push([l.taskId, l.line]);
    const ex = await c.wait(id, { timeoutMs: 120000 });
    assert.equal(ex.status, 'SUCCESS', JSON.stringify(ex));
    const out = Object.fromEntries((await c.getTasks(id)).map((t) => [t.taskId, t.output]));
    assert.equal(out.fetch_data.recordCount, 5);
    assert.equal(out.fetch_data.checksum, fnv1a('2024-01-14/5'));
    assert.deepEqual(out.validate, { valid: true, recordCount: 5 });
    assert.equal(out.process.processed, 5);
    assert.equal(out.process.title, 'Report for 2024-01-14');
    assert.equal(out.process.reportUrl, `${backendUrl}/reports/${id}.csv`);
    assert.equal(out.send_email.messageId, `<${id}@loom.example>`);
    // the backend notes its callback once loom-api has answered it, which
    // may be just after the run ended: wait for the note
    for (let i = 0; i < 200 && !backend.calledBack.includes(`${id}/send_email/1`); i++)
      await new Promise((r) => setTimeout(r, 50));
    assert.ok(backend.calledBack.includes(`${id}/send_email/1`));
    assert.deepEqual(lines[0], ['fetch_data', 'Fetched 5 records for 2024-01-14']);
    assert.ok(lines.some(([t, l]) => t === 'send_email' && l === 'Sent "Report for 2024-01-14" to team@example.com'));
    assert.equal(lines.length, 4);
    assert.deepEqual((await c.logs(id)).logs.map((l) => l.line), lines.map(([, l]) => l));
    assert.equal((await c.logs(id, { task: 'process' })).logs[0].line, 'Processed 5 records');
  });

  test('retried by error type', async () => {
    const { executionId: id } = await c.trigger('js-seed', { limit: 2, failAttempts: 2 });
    const ex = await c.wait(id, { timeoutMs: 120000 });
    assert.equal(ex.status, 'SUCCESS');
    const fetch = ex.tasks[0];
    assert.equal(fetch.attempt, 3);
    assert.deepEqual(fetch.attempts.map((a) => a.error?.type ?? null), ['HttpServerError', 'HttpServerError', null]);
  });

  test('file apply, pause and force, and the stream of every event', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'linkloom-'));
    const file = path.join(dir, 'seed.yaml');
    await writeFile(file, seedYaml('js-seed', backendUrl));
    assert.equal((await c.applyWorkflowFile(file)).created, false); // the same spec: no new version
    assert.equal((await c.registerWorkflow(seedYaml('js-seed', backendUrl))).created, false);
    await rm(dir, { recursive: true });
    assert.equal((await c.pauseWorkflow('js-seed')).paused, true);
    let id;
    try {
      await assert.rejects(c.trigger('js-seed'), ConflictError);
      ({ executionId: id } = await c.trigger('js-seed', {}, { force: true }));
    } finally {
      assert.equal((await c.unpauseWorkflow('js-seed')).paused, false);
    }
    assert.equal((await c.wait(id, { timeoutMs: 120000 })).status, 'SUCCESS');
    for await (const ev of c.events(null, { since: 0, workflow: 'js-seed', kinds: ['run'] })) {
      assert.equal(ev.event, 'run');
      if (ev.data.executionId === id) break;
    }
  });

  test('events resume with Last-Event-ID', async () => {
    const { executionId: id } = await c.trigger('js-seed');
    await c.wait(id, { timeoutMs: 120000 });
    const evs = [];
    for await (const e of c.events(id, { since: 0 })) evs.push(e);
    assert.equal(evs.at(-1).event, 'end');
    assert.equal(evs.at(-1).data.status, 'SUCCESS');
    const ids = evs.filter((e) => e.id !== null).map((e) => e.id);
    assert.ok(ids.length > 8);
    const again = [];
    for await (const e of c.events(id, { lastEventId: ids[3] })) if (e.id !== null) again.push(e.id);
    assert.deepEqual(again, ids.slice(4));
    const kinds = new Set(evs.map((e) => e.event));
    for (const k of ['run', 'task', 'log', 'end']) assert.ok(kinds.has(k), k);
  });

  test('paging iterates every run once', async () => {
    const mine = [];
    for (let i = 0; i < 3; i++) mine.push((await c.trigger('js-seed', { limit: i })).executionId);
    for (const id of mine) await c.wait(id, { timeoutMs: 120000 });
    const page = await c.listExecutionsPage({ workflow: 'js-seed', limit: 1 });
    assert.equal(page.executions.length, 1);
    assert.ok(page.nextCursor);
    const seen = [];
    for await (const e of c.listExecutions({ workflow: 'js-seed', limit: 1 })) seen.push(e.id);
    assert.equal(seen.length, new Set(seen).size);
    for (const id of mine) assert.ok(seen.includes(id));
  });

  test('errors carry status, code and message', async () => {
    await assert.rejects(c.getWorkflow('no-such-flow'), (e) => e instanceof NotFoundError &&
      e.status === 404 && e.code === 'not_found' && e.apiMessage.includes('no-such-flow'));
    await assert.rejects(c.applyWorkflow('id: bad\ntasks:\n  - id: a\n    dependsOn: [nosuch]\n'),
      (e) => e instanceof UnprocessableError && e.code === 'invalid_workflow' && e.details.length > 0);
    await assert.rejects(c.trigger('js-seed', { undeclared: 1 }),
      (e) => e instanceof UnprocessableError && e.code === 'invalid_input');
    // a callback whose token loom-api never gave out
    await assert.rejects(complete(`${API}/api/v1/callbacks/exec-x~t~${'0'.repeat(64)}`, success()),
      (e) => e instanceof NotFoundError && e.status === 404);
  });

  test('cancel, retry, rerun and dead letters', async () => {
    const res = await c.applyWorkflow({ id: 'js-controls', tasks: [{ id: 'slow', type: 'shell', command: 'sleep 60' }] });
    assert.equal(res.id, 'js-controls');
    let { executionId: id } = await c.trigger('js-controls');
    await assert.rejects(c.wait(id, { timeoutMs: 500 }),
      (e) => e instanceof WaitTimeoutError && ['PENDING', 'RUNNING'].includes(e.execution.status));
    await c.cancel(id);
    assert.equal((await c.wait(id, { timeoutMs: 60000 })).status, 'CANCELLED');
    await assert.rejects(c.cancel(id), ConflictError);

    await c.applyWorkflow({
      id: 'js-dead',
      signing: { secretEnv: 'LOOM_SDK_SIGNING_SECRET' },
      tasks: [
        { id: 'check', type: 'http', maxAttempts: 1, url: `${backendUrl}/api/tasks/validate`, input: { recordCount: -1 } },
        { id: 'after', type: 'shell', command: 'echo done', dependsOn: ['check'] },
      ],
    });
    ({ executionId: id } = await c.trigger('js-dead'));
    let ex = await c.wait(id, { timeoutMs: 60000 });
    assert.equal(ex.status, 'FAILED');
    assert.equal(ex.tasks[0].error.type, 'ValidationException');
    const letters = await c.deadLetters({ execution: id });
    assert.deepEqual(letters.map((d) => [d.taskId, d.status]), [['check', 'open']]);
    assert.equal((await c.getDeadLetter(letters[0].id)).executionStatus, 'FAILED');
    assert.equal((await c.replayDeadLetter(letters[0].id)).request.kind, 'replay');
    assert.equal((await c.wait(id, { timeoutMs: 60000 })).status, 'FAILED');
    assert.equal((await c.deadLetters({ execution: id, all: true })).at(-1).status, 'replayed');
    assert.equal((await c.retry(id, { fromFailed: true })).request.kind, 'retry');
    assert.equal((await c.wait(id, { timeoutMs: 60000 })).status, 'FAILED');
    const open = await c.deadLetters({ execution: id });
    assert.equal(open.length, 1);
    assert.equal((await c.discardDeadLetter(open[0].id)).status, 'discarded');
    assert.deepEqual(await c.deadLetters({ execution: id }), []);
    assert.equal((await c.retry(id, { fromFailed: false })).retryOf, id);

    ({ executionId: id } = await c.trigger('js-seed'));
    await c.wait(id, { timeoutMs: 120000 });
    assert.equal((await c.rerunTask(id, 'process', { downstream: true })).request.kind, 'rerun');
    ex = await c.wait(id, { timeoutMs: 120000 });
    assert.equal(ex.status, 'SUCCESS');
    assert.equal(ex.tasks.find((t) => t.taskId === 'process').attempt, 2);
  });

  test('a stream resumes across a loom-api restart, no line lost or repeated', async (t) => {
    const bin = process.env.LOOM_BIN;
    if (!bin) {
      assert.ok(!REQUIRED, 'LOOM_BIN is not set');
      return t.skip('LOOM_BIN is not set');
    }
    const startApi = (port) => new Promise((resolve, reject) => {
      const p = spawn(path.join(bin, 'loom-api'), ['--listen', `127.0.0.1:${port}`, '--print-url'],
        { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      p.stderr.on('data', (d) => { err += d; });
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve({ p, url: out.split('\n')[0].trim() });
      });
      p.on('exit', () => reject(new Error(`loom-api did not start: ${err}`)));
    });
    const stop = (p) => new Promise((r) => { if (p.exitCode !== null) r(); else { p.once('exit', r); p.kill('SIGTERM'); } });
    await c.applyWorkflow({
      id: 'js-lines',
      tasks: [{ id: 'count', type: 'shell', command: 'for i in 1 2 3 4 5 6; do echo line $i; sleep 0.3; done' }],
    });
    let { p, url } = await startApi(0);
    const port = Number(url.split(':').at(-1));
    const lines = [];
    try {
      const { executionId: id } = await c.trigger('js-lines');
      for await (const l of new LinkLoomClient(url).followLogs(id)) {
        lines.push(l.line);
        if (lines.length === 2) {
          await stop(p);
          ({ p } = await startApi(port));
        }
      }
      assert.equal((await c.wait(id, { timeoutMs: 60000 })).status, 'SUCCESS');
    } finally {
      await stop(p);
    }
    assert.deepEqual(lines, [1, 2, 3, 4, 5, 6].map((i) => `line ${i}`));
  });

  test('the Unix socket', async (t) => {
    const sock = process.env.LOOM_SDK_SOCKET;
    if (!sock) {
      assert.ok(!REQUIRED, 'LOOM_SDK_SOCKET is not set');
      return t.skip('LOOM_SDK_SOCKET is not set');
    }
    for (const u of [new LinkLoomClient(undefined, { socketPath: sock }), new LinkLoomClient(`unix:${sock}`)]) {
      assert.ok((await u.listWorkflows()).some((w) => w.id === 'js-seed'));
    }
    const evs = [];
    const { executionId: id } = await c.trigger('js-seed');
    for await (const e of new LinkLoomClient(`unix:${sock}`).events(id, { since: 0 })) evs.push(e);
    assert.equal(evs.at(-1).event, 'end');
  });

  test('a bearer token for one call', async (t) => {
    const url = process.env.LOOM_SDK_AUTHED_API;
    const token = process.env.LOOM_SDK_TOKEN;
    if (!url || !token) {
      assert.ok(!REQUIRED, 'LOOM_SDK_AUTHED_API/LOOM_SDK_TOKEN are not set');
      return t.skip('no authenticating loom-api');
    }
    const anon = new LinkLoomClient(url, { token: '' });
    await assert.rejects(anon.trigger('js-seed'), (e) => e instanceof UnauthorizedError && e.status === 401);
    const run = await anon.trigger('js-seed', { limit: 1 }, { token });
    assert.equal((await new LinkLoomClient(url, { token }).wait(run.executionId, { timeoutMs: 120000 })).status,
      'SUCCESS');
  });

  test('a signature captured from loom-exec', async () => {
    const got = {};
    const cap = http.createServer((req, res) => {
      const parts = [];
      req.on('data', (d) => parts.push(d));
      req.on('end', () => {
        Object.assign(got, { body: Buffer.concat(parts), ts: req.headers['x-loom-timestamp'], sig: req.headers['x-loom-signature'] });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise((r) => cap.listen(0, '127.0.0.1', r));
    const request = {
      executionId: 'exec-capture', taskId: 't', input: { a: [1, 'é'] },
      task: { type: 'http', timeout: '10s', url: `http://127.0.0.1:${cap.address().port}/x`, signing: { secretEnv: 'CAPTURE_SECRET' } },
    };
    const child = spawn(path.join(process.env.LOOM_BIN ?? '', 'loom-exec'), ['--stdin'], {
      env: { ...process.env, CAPTURE_SECRET: 'capture secret' }, stdio: ['pipe', 'pipe', 'inherit'],
    });
    child.stdin.end(`${JSON.stringify(request)}\n`);
    const code = await new Promise((r) => child.on('close', r));
    cap.close();
    assert.equal(code, 0);
    assert.ok(verifySignature('capture secret', got.ts, got.sig, got.body));
    assert.ok(!verifySignature('wrong', got.ts, got.sig, got.body));
  });
});
