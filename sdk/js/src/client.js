/**
 * The Link Loom REST client (loom-api(8)).  Over TCP it uses Node's
 * `fetch`; over a Unix socket (`unix:/run/loom/api.sock` or `socketPath`)
 * `node:http` with `socketPath`, since fetch cannot reach one.  Error
 * answers reject with {@link LoomError} subclasses.
 * @module linkloom/client
 */
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import { LoomConnectionError, LoomError, WaitTimeoutError, errorFromResponse } from './errors.js';

/** The final states of an execution. */
export const TERMINAL = new Set(['SUCCESS', 'FAILED', 'CANCELLED']);

const seg = (s) => encodeURIComponent(String(s));

function withQuery(path, query) {
  if (!query) return path;
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null) q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** A client of one loom-api. */
export class LinkLoomClient {
  /**
   * @param {string} [baseUrl] `http://host:port`, `https://...` or
   *   `unix:/path/api.sock`; default `$LOOM_API` or `http://127.0.0.1:8080`
   * @param {object} [options]
   * @param {string} [options.token] bearer token; default `$LOOM_TOKEN`
   * @param {string} [options.socketPath] connect to this Unix socket
   * @param {number} [options.timeoutMs] per request (long polls add their wait); default 30000
   */
  constructor(baseUrl, options = {}) {
    let base = baseUrl || process.env.LOOM_API || 'http://127.0.0.1:8080';
    this.socketPath = options.socketPath;
    if (base.startsWith('unix:')) {
      this.socketPath = base.slice(5);
      base = 'http://localhost';
    }
    const u = new URL(base);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw new TypeError(`not an http(s) URL: ${baseUrl}`);
    }
    this.base = base.replace(/\/+$/, '');
    this.token = options.token ?? process.env.LOOM_TOKEN ?? null;
    this.timeoutMs = options.timeoutMs ?? 30000;
  }

  /* ---- transport ------------------------------------------------------ */

  #headers(token, extra) {
    const h = { Accept: 'application/json', 'User-Agent': 'linkloom-js/0.1' };
    const tok = token ?? this.token;
    if (tok) h.Authorization = `Bearer ${tok}`;
    return Object.assign(h, extra);
  }

  /**
   * Opens a request; resolves to {status, body} where body is an async
   * iterable of byte chunks.
   */
  async #open(method, path, headers, body, signal) {
    const url = this.base + path;
    if (!this.socketPath) {
      let res;
      try {
        res = await fetch(url, { method, headers, body, signal, redirect: 'manual' });
      } catch (e) {
        throw new LoomConnectionError(`${method} ${path}: ${e.cause?.message ?? e.message}`, e);
      }
      return { status: res.status, body: res.body ?? [] };
    }
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      const req = http.request({
        socketPath: this.socketPath, method, path: u.pathname + u.search, headers, signal,
      }, (res) => resolve({ status: res.statusCode, body: res }));
      req.on('error', (e) => reject(new LoomConnectionError(`${method} ${path}: ${e.message}`, e)));
      req.end(body);
    });
  }

  /**
   * Sends one request and resolves to the parsed JSON answer (null for an
   * empty one).  Rejects with a LoomError for a status of 400 or more.
   * @param {string} method
   * @param {string} path
   * @param {object} [opts]
   * @param {Record<string, unknown>} [opts.query]
   * @param {unknown} [opts.json] a body sent as JSON
   * @param {string|Uint8Array} [opts.raw] a body sent as it is, with opts.contentType
   * @param {string} [opts.contentType]
   * @param {string} [opts.token] replaces the client's token for this call
   * @param {number} [opts.timeoutMs]
   * @returns {Promise<any>}
   */
  async request(method, path, opts = {}) {
    const full = withQuery(path, opts.query);
    const extra = {};
    let body;
    if (opts.raw !== undefined) {
      body = opts.raw;
      extra['Content-Type'] = opts.contentType ?? 'application/octet-stream';
    } else if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      extra['Content-Type'] = 'application/json';
    }
    const signal = AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs);
    const res = await this.#open(method, full, this.#headers(opts.token, extra), body, signal);
    let text = '';
    try {
      const dec = new TextDecoder();
      for await (const chunk of res.body) text += dec.decode(chunk, { stream: true });
      text += dec.decode();
    } catch (e) {
      throw new LoomConnectionError(`${method} ${full}: ${e.message}`, e);
    }
    if (res.status >= 400) throw errorFromResponse(res.status, text);
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      throw new LoomError(res.status, 'bad_answer', `${method} ${full}: answer is not JSON`);
    }
  }

  /* ---- workflows ------------------------------------------------------ */

  /**
   * Applies (registers or updates) a workflow: YAML or JSON text, or an
   * object (sent as JSON).  Resolves to {id, version, created}.  An
   * invalid workflow rejects with UnprocessableError, every problem in
   * `details`.
   * @param {string|object} workflow
   * @param {{token?: string}} [opts]
   */
  applyWorkflow(workflow, opts = {}) {
    if (typeof workflow === 'string' || workflow instanceof Uint8Array) {
      return this.request('POST', '/api/v1/workflows',
        { raw: workflow, contentType: 'application/yaml', token: opts.token });
    }
    return this.request('POST', '/api/v1/workflows', { json: workflow, token: opts.token });
  }

  /** Same as {@link LinkLoomClient#applyWorkflow}. */
  registerWorkflow(workflow, opts) { return this.applyWorkflow(workflow, opts); }

  /**
   * Applies the workflow file at `path` (YAML or JSON).
   * @param {string} path
   * @param {{token?: string}} [opts]
   */
  async applyWorkflowFile(path, opts) {
    return this.applyWorkflow(await readFile(path, 'utf8'), opts);
  }

  /** Every workflow that is not deleted. */
  async listWorkflows() {
    return (await this.request('GET', '/api/v1/workflows')).workflows;
  }

  /** One workflow with its `spec` and `definition`. @param {string} id */
  getWorkflow(id) { return this.request('GET', `/api/v1/workflows/${seg(id)}`); }

  /**
   * Starts a run of the workflow's current version.  `token` authenticates
   * this call alone (e.g. a trigger token); `force` triggers a paused
   * workflow.  Resolves to {executionId, workflowId, workflowVersion,
   * status}.  A concurrency policy that refuses the run rejects with
   * ConflictError, code `concurrency_limit`.
   * @param {string} id
   * @param {Record<string, unknown>} [input]
   * @param {{token?: string, force?: boolean}} [opts]
   */
  trigger(id, input = {}, opts = {}) {
    return this.request('POST', `/api/v1/workflows/${seg(id)}/trigger`, {
      json: { input }, token: opts.token, query: opts.force ? { force: 'true' } : undefined,
    });
  }

  /**
   * Pauses the workflow: triggers need `force` until it is unpaused.
   * Resolves to the workflow with `paused` and `changed`.
   * @param {string} id
   */
  pauseWorkflow(id) { return this.request('POST', `/api/v1/workflows/${seg(id)}/pause`); }

  /** Clears the workflow's paused flag. @param {string} id */
  unpauseWorkflow(id) { return this.request('POST', `/api/v1/workflows/${seg(id)}/unpause`); }

  /* ---- executions ----------------------------------------------------- */

  /**
   * One run with its tasks.  With `waitMs` (at most 300000) the answer
   * comes once the run is finished or the time is up.
   * @param {string} id
   * @param {{waitMs?: number}} [opts]
   */
  getExecution(id, opts = {}) {
    const wait = opts.waitMs ? Math.max(1, Math.round(opts.waitMs)) : 0;
    return this.request('GET', `/api/v1/executions/${seg(id)}`, {
      query: wait ? { wait: `${wait}ms` } : undefined,
      timeoutMs: this.timeoutMs + wait,
    });
  }

  /** The run's tasks in topological order. @param {string} id */
  async getTasks(id) { return (await this.getExecution(id)).tasks; }

  /**
   * Waits for the run to be SUCCESS, FAILED or CANCELLED (long polls of
   * at most 30 s) and resolves to it; rejects with WaitTimeoutError after
   * `timeoutMs` (default 300000).  Against a server that answers at once
   * whatever ?wait says, it polls once a second.
   * @param {string} id
   * @param {{timeoutMs?: number}} [opts]
   */
  async wait(id, opts = {}) {
    const deadline = Date.now() + (opts.timeoutMs ?? 300000);
    for (;;) {
      const t0 = Date.now();
      const asked = Math.max(1, Math.min(deadline - t0, 30000));
      const ex = await this.getExecution(id, { waitMs: asked });
      if (TERMINAL.has(ex.status)) return ex;
      const now = Date.now();
      if (now >= deadline) throw new WaitTimeoutError(ex);
      if (now - t0 < asked / 2) {
        // a server (or proxy) that ignores ?wait: poll gently
        await new Promise((r) => setTimeout(r, Math.min(1000, deadline - now)));
      }
    }
  }

  /**
   * One page of executions, newest first: {executions, nextCursor}.
   * @param {{workflow?: string, status?: string, since?: string,
   *   until?: string, limit?: number, cursor?: string}} [filters]
   */
  listExecutionsPage(filters = {}) {
    return this.request('GET', '/api/v1/executions', { query: filters });
  }

  /**
   * Every execution matching the filters, following nextCursor page by
   * page (each once, even while new runs start).  A server that gives the
   * same cursor twice throws LoomError `bad_cursor` rather than looping.
   * @param {{workflow?: string, status?: string, since?: string,
   *   until?: string, limit?: number}} [filters]
   * @returns {AsyncGenerator<Record<string, any>>}
   */
  async *listExecutions(filters = {}) {
    let cursor;
    for (;;) {
      const page = await this.listExecutionsPage({ ...filters, cursor });
      yield* page.executions;
      const last = cursor;
      cursor = page.nextCursor;
      if (!cursor) return;
      if (cursor === last) throw new LoomError(0, 'bad_cursor', 'the server gave the same cursor twice');
    }
  }

  /** Asks for the run to be cancelled (202). @param {string} id */
  cancel(id) { return this.request('POST', `/api/v1/executions/${seg(id)}/cancel`); }

  /**
   * fromFailed (default): reruns the failed, cancelled and skipped tasks
   * in the same run (202); otherwise a new run with the same params (201).
   * @param {string} id
   * @param {{fromFailed?: boolean}} [opts]
   */
  retry(id, opts = {}) {
    return this.request('POST', `/api/v1/executions/${seg(id)}/retry`,
      { json: { fromFailed: opts.fromFailed ?? true } });
  }

  /**
   * Runs one finished task again; with downstream, every finished task
   * that depends on it too.
   * @param {string} id
   * @param {string} taskId
   * @param {{downstream?: boolean}} [opts]
   */
  rerunTask(id, taskId, opts = {}) {
    return this.request('POST', `/api/v1/executions/${seg(id)}/tasks/${seg(taskId)}/rerun`,
      { json: { downstream: !!opts.downstream } });
  }

  /**
   * One page of output lines: {logs, next}.
   * @param {string} id
   * @param {{task?: string, after?: number, limit?: number}} [opts]
   */
  logs(id, opts = {}) {
    return this.request('GET', `/api/v1/executions/${seg(id)}/logs`, { query: opts });
  }

  /* ---- dead letters --------------------------------------------------- */

  /**
   * Dead letters, newest first; only open ones unless `all`.
   * @param {{workflow?: string, execution?: string, all?: boolean, limit?: number}} [opts]
   */
  async deadLetters(opts = {}) {
    const query = { ...opts, all: opts.all ? 'true' : undefined };
    return (await this.request('GET', '/api/v1/dead-letters', { query })).deadLetters;
  }

  /** One letter with request, taskState, executionStatus. @param {number} id */
  getDeadLetter(id) { return this.request('GET', `/api/v1/dead-letters/${Number(id)}`); }

  /** Runs the dead task again (202). @param {number} id */
  replayDeadLetter(id) { return this.request('POST', `/api/v1/dead-letters/${Number(id)}/replay`); }

  /** Closes the letter, running nothing. @param {number} id */
  discardDeadLetter(id) { return this.request('POST', `/api/v1/dead-letters/${Number(id)}/discard`); }

  /* ---- events --------------------------------------------------------- */

  /**
   * Server-sent events: one run's events and log lines, ending after its
   * `end` event, or (executionId null) every event, never ending.
   * `since: 0` starts at the beginning, `lastEventId` after that message.
   * A lost connection is resumed with Last-Event-ID (nothing lost or
   * repeated) unless `reconnect` is false.  Stop early with `signal` or by
   * breaking out of the loop.
   * @param {string|null} executionId
   * @param {{since?: number, lastEventId?: number, kinds?: string[],
   *   task?: string, workflow?: string, reconnect?: boolean,
   *   signal?: AbortSignal}} [opts]
   * @returns {AsyncGenerator<{id: number|null, event: string, data: any}>}
   */
  async *events(executionId, opts = {}) {
    const path = executionId ? `/api/v1/executions/${seg(executionId)}/events` : '/api/v1/events';
    const full = withQuery(path, {
      since: opts.since, kind: opts.kinds?.join(','), task: opts.task, workflow: opts.workflow,
    });
    let last = opts.lastEventId;
    let delay = 100;
    for (;;) {
      let gotAny = false;
      try {
        for await (const ev of this.#stream(full, last, opts.signal)) {
          gotAny = true;
          if (ev.id !== null) last = ev.id;
          yield ev;
          if (ev.event === 'end') return;
        }
      } catch (e) {
        if (!(e instanceof LoomConnectionError) || opts.reconnect === false || opts.signal?.aborted) throw e;
      }
      if (opts.reconnect === false) return;
      delay = gotAny ? 100 : Math.min(delay * 2, 5000);
      await new Promise((r) => setTimeout(r, delay));
    }
  }

  /**
   * The run's output lines as they are written ({taskId, attempt,
   * stream, line, ts}), from the first until the run ends.
   * @param {string} executionId
   * @param {{task?: string, since?: number, signal?: AbortSignal}} [opts]
   */
  async *followLogs(executionId, opts = {}) {
    for await (const ev of this.events(executionId, { ...opts, since: opts.since ?? 0, kinds: ['log'] })) {
      if (ev.event === 'log') yield ev.data;
    }
  }

  async *#stream(path, last, signal) {
    const extra = { Accept: 'text/event-stream' };
    if (last !== undefined && last !== null) extra['Last-Event-ID'] = String(last);
    // A connection silent for longer than this (heartbeats come every
    // api.stream_heartbeat, 15 s by default) is taken for dead and resumed.
    const idleMs = Math.max(this.timeoutMs, 120000);
    const ac = new AbortController();
    const forward = () => ac.abort(signal.reason);
    if (signal?.aborted) forward();
    signal?.addEventListener('abort', forward, { once: true });
    let timer = setTimeout(() => ac.abort(new Error('stream idle')), idleMs);
    const rearm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => ac.abort(new Error('stream idle')), idleMs);
    };
    let res;
    try {
      res = await this.#open('GET', path, this.#headers(undefined, extra), undefined, ac.signal);
      if (res.status >= 400) {
        let text = '';
        for await (const c of res.body) text += Buffer.from(c).toString('utf8');
        throw errorFromResponse(res.status, text);
      }
      yield* parseSse((async function* watched(chunks) {
        for await (const c of chunks) {
          rearm();
          yield c;
        }
      })(res.body));
    } catch (e) {
      if (e instanceof LoomError) throw e;
      throw new LoomConnectionError(`GET ${path}: ${e.message}`, e);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', forward);
      ac.abort();
    }
  }
}

/**
 * Parses server-sent events from an async iterable of byte chunks.
 * Comments and `retry:` are skipped; a message is yielded at its blank
 * line.  Throws LoomConnectionError when the stream stops inside one.
 * @param {AsyncIterable<Uint8Array>} chunks
 * @returns {AsyncGenerator<{id: number|null, event: string, data: any}>}
 */
export async function* parseSse(chunks) {
  const dec = new TextDecoder();
  let buf = '';
  let id = null;
  let name = 'message';
  let data = [];
  const line = (l) => {
    if (l === '') {
      let ev = null;
      if (data.length) {
        const text = data.join('\n');
        let payload;
        try { payload = JSON.parse(text); } catch { payload = text; }
        ev = { id, event: name, data: payload };
      }
      id = null; name = 'message'; data = [];
      return ev;
    }
    if (l.startsWith(':')) return null;
    const i = l.indexOf(':');
    const key = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? '' : l.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (key === 'id') id = /^\d+$/.test(value) ? Number(value) : null;
    else if (key === 'event') name = value;
    else if (key === 'data') data.push(value);
    return null;
  };
  for await (const chunk of chunks) {
    buf += dec.decode(chunk, { stream: true });
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const ev = line(buf.slice(0, nl).replace(/\r$/, ''));
      buf = buf.slice(nl + 1);
      if (ev) yield ev;
    }
  }
  if (data.length || buf) throw new LoomConnectionError('event stream ended inside a message');
}
