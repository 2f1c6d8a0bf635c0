/**
 * Task handlers: the backend side of Link Loom's callback protocol
 * (loom-exec(8)).  loom-exec POSTs one envelope per attempt:
 *
 *     {"executionId":"exec-...","taskId":"fetch_data","input":{...},
 *      "attempt":1,"timeout":300000,"callbackUrl":"http://loom:8080/api/v1/callbacks/<token>",
 *      "scheduledTime":"2026-12-07T03:00:00Z"}
 *
 * with `Idempotency-Key: <executionId>/<taskId>/<attempt>` and, when the
 * workflow has `signing:`, `X-Loom-Timestamp` and `X-Loom-Signature`
 * (`v1=` + hex HMAC-SHA256 of `"<timestamp>.<raw body>"`).  The backend
 * answers with a result, or 202 and posts the result to callbackUrl later.
 * @module linkloom/handler
 */
import crypto from 'node:crypto';
import http from 'node:http';
import { LoomConnectionError, errorFromResponse } from './errors.js';

/** The replay window loom-workflow(5) advises, in seconds. */
export const MAX_SKEW = 300;

/** The body is not a valid callback envelope. */
export class EnvelopeError extends Error {}

/**
 * Throw in a handler to fail the task with an error type of loom-exec(8)
 * ERROR CLASSES, e.g. `throw new TaskError('ValidationException', 'limit must be positive')`.
 */
export class TaskError extends Error {
  /** @param {string} type @param {string} message @param {unknown} [output] */
  constructor(type, message, output = null) {
    super(message);
    this.type = type;
    this.output = output;
  }
}

/**
 * @typedef {object} TaskRequest
 * @property {string} executionId
 * @property {string} taskId
 * @property {any} input
 * @property {number} attempt
 * @property {number|null} timeoutMs the task timeout in milliseconds
 * @property {string} idempotencyKey the header's value, else executionId/taskId/attempt
 * @property {string|null} callbackUrl where an asynchronous result goes
 * @property {Date|null} scheduledTime when a schedule or backfill meant the run to start
 * @property {Record<string, any>} raw the whole envelope
 * @property {(result: object) => Promise<object>} complete posts a result to callbackUrl
 */

/**
 * Parses a callback envelope (raw body or object).  executionId and
 * taskId are required; attempt defaults to 1, input to {}.
 * @param {string|Uint8Array|object} body
 * @param {Record<string, string|string[]|undefined>} [headers]
 * @returns {TaskRequest}
 * @throws {EnvelopeError}
 */
export function parseEnvelope(body, headers = {}) {
  let env = body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    try {
      env = JSON.parse(typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    } catch (e) {
      throw new EnvelopeError(`the body is not JSON: ${e.message}`);
    }
  }
  if (env === null || typeof env !== 'object' || Array.isArray(env)) {
    throw new EnvelopeError('the body is not a JSON object');
  }
  const { executionId, taskId } = env;
  if (typeof executionId !== 'string' || !executionId || typeof taskId !== 'string' || !taskId) {
    throw new EnvelopeError('executionId and taskId must be non-empty strings');
  }
  const attempt = env.attempt ?? 1;
  if (!Number.isInteger(attempt) || attempt < 1) throw new EnvelopeError('attempt must be a whole number from 1');
  const timeout = env.timeout ?? null;
  if (timeout !== null && typeof timeout !== 'number') throw new EnvelopeError('timeout must be a number of milliseconds');
  let scheduledTime = null;
  if (env.scheduledTime !== undefined && env.scheduledTime !== null) {
    const s = String(env.scheduledTime);
    scheduledTime = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) ? new Date(s) : null;
    if (!scheduledTime || Number.isNaN(scheduledTime.getTime())) {
      throw new EnvelopeError(`scheduledTime is not RFC 3339: ${s}`);
    }
  }
  let key = null;
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'idempotency-key' && v) key = Array.isArray(v) ? v[0] : v;
  }
  const callbackUrl = typeof env.callbackUrl === 'string' && env.callbackUrl ? env.callbackUrl : null;
  return {
    executionId, taskId, input: env.input ?? {}, attempt,
    timeoutMs: timeout, idempotencyKey: key ?? `${executionId}/${taskId}/${attempt}`,
    callbackUrl, scheduledTime, raw: env,
    complete(result) {
      if (!callbackUrl) return Promise.reject(new Error('the request has no callbackUrl (exec.callback_url is not set)'));
      return complete(callbackUrl, result);
    },
  };
}

/**
 * SUCCESS with output (any JSON value) and logs (text; each line becomes
 * a log line of the attempt).
 * @param {unknown} [output] @param {string} [logs]
 */
export function success(output = null, logs) {
  return logs === undefined ? { status: 'SUCCESS', output } : { status: 'SUCCESS', output, logs };
}

/**
 * FAILED with an error type (ValidationException, TaskFailedException, ...).
 * @param {string} type @param {string} message @param {string} [logs] @param {unknown} [output]
 */
export function failed(type, message, logs = message, output = null) {
  return { status: 'FAILED', output, logs, error: { type, message } };
}

/** The task goes on asynchronously: answered 202, completed later. */
export function accepted() {
  return { status: 'RUNNING' };
}

/**
 * The hex HMAC-SHA256 of data under key (RFC 2104, 4231).
 * @param {string|Uint8Array} key @param {string|Uint8Array} data
 */
export function hmacSha256Hex(key, data) {
  return crypto.createHmac('sha256', key).update(data).digest('hex');
}

/**
 * The X-Loom-Signature value of body sent at timestamp (Unix seconds, as
 * written in X-Loom-Timestamp).
 * @param {string|Uint8Array} secret @param {string|number} timestamp @param {string|Uint8Array} body
 */
export function sign(secret, timestamp, body) {
  const data = Buffer.concat([Buffer.from(`${timestamp}.`), Buffer.from(body)]);
  return `v1=${hmacSha256Hex(secret, data)}`;
}

/**
 * True when signature is the signature of the raw body at timestamp and
 * the timestamp is within maxSkew seconds of now (null: no window).  The
 * comparison is constant-time; the timestamp is MACed as written.
 * @param {string|Uint8Array} secret
 * @param {string|undefined|null} timestamp
 * @param {string|undefined|null} signature
 * @param {string|Uint8Array} body
 * @param {{now?: number, maxSkew?: number|null}} [opts] now in seconds
 */
export function verifySignature(secret, timestamp, signature, body, opts = {}) {
  if (typeof timestamp !== 'string' || typeof signature !== 'string' ||
      !/^[0-9]{1,20}$/.test(timestamp)) return false;
  const maxSkew = opts.maxSkew === undefined ? MAX_SKEW : opts.maxSkew;
  if (maxSkew !== null) {
    const now = opts.now ?? Date.now() / 1000;
    if (Math.abs(now - Number(timestamp)) > maxSkew) return false;
  }
  const want = Buffer.from(sign(secret, timestamp, body));
  const got = Buffer.from(signature);
  return got.length === want.length && crypto.timingSafeEqual(want, got);
}

/**
 * Posts an asynchronous task's final result to the callbackUrl of its
 * envelope.  Resolves to {accepted: true}; rejects with a LoomError (404
 * unknown token; 409 the task no longer waits).
 * @param {string} callbackUrl @param {object} result
 */
export async function complete(callbackUrl, result) {
  let res;
  try {
    res = await fetch(callbackUrl, {
      method: 'POST', body: JSON.stringify(result),
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      signal: AbortSignal.timeout(30000),
    });
  } catch (e) {
    throw new LoomConnectionError(`callback: ${e.cause?.message ?? e.message}`, e);
  }
  const text = await res.text();
  if (res.status >= 400) throw errorFromResponse(res.status, text);
  return text ? JSON.parse(text) : {};
}

/**
 * Calls a handler and resolves to [httpStatus, answer]: 202 for an
 * accepted task, else 200.  A TaskError fails with its type; any other
 * error is a TaskFailedException.  A handler returning undefined or null
 * succeeds with null output.
 * @param {(req: TaskRequest) => any} fn @param {TaskRequest} req
 * @returns {Promise<[number, object]>}
 */
export async function runHandler(fn, req) {
  const t0 = Date.now();
  let res;
  try {
    res = await fn(req);
  } catch (e) {
    res = e instanceof TaskError
      ? failed(e.type, e.message, e.message, e.output)
      : failed('TaskFailedException', `${e?.name ?? 'Error'}: ${e?.message ?? e}`);
  }
  if (res === undefined || res === null) res = success();
  if (res.status === 'RUNNING') return [202, res];
  if (res.duration === undefined) res = { ...res, duration: Date.now() - t0 };
  return [200, res];
}

/**
 * A request listener for http.createServer serving routes (path to
 * handler) with POST.  With a secret (not empty), requests must be signed
 * (else 401, an HttpClientError, not retried); an empty or no secret
 * checks nothing.  A body that is not an envelope is 400
 * (ValidationException); an unknown path 404.  GET /healthz answers 200.
 * @param {Record<string, (req: TaskRequest) => any>} routes
 * @param {{secret?: string|Uint8Array, maxSkew?: number|null, maxBody?: number}} [opts]
 * @returns {(req: http.IncomingMessage, res: http.ServerResponse) => void}
 */
export function createHandler(routes, opts = {}) {
  const table = new Map(Object.entries(routes));
  const maxBody = opts.maxBody ?? 16 * 1024 * 1024;
  const answer = (res, status, body) => {
    const data = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(data) });
    res.end(data);
  };
  const refuse = (res, status, type, message) => answer(res, status, { status: 'FAILED', error: { type, message } });
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return answer(res, 200, { status: 'ok' });
    const fn = table.get(path);
    if (req.method !== 'POST' || !fn) return refuse(res, 404, 'ResourceNotFoundException', `no task at ${path}`);
    const chunks = [];
    let size = 0;
    req.on('data', (c) => { size += c.length; if (size <= maxBody) chunks.push(c); });
    req.on('end', async () => {
      if (size > maxBody) return refuse(res, 413, 'ValidationException', 'body too large');
      const body = Buffer.concat(chunks);
      if (opts.secret && opts.secret.length > 0 &&
          !verifySignature(opts.secret, req.headers['x-loom-timestamp'], req.headers['x-loom-signature'],
            body, { maxSkew: opts.maxSkew })) {
        return refuse(res, 401, 'HttpClientError', 'bad or missing signature');
      }
      let task;
      try {
        task = parseEnvelope(body, req.headers);
      } catch (e) {
        return refuse(res, 400, 'ValidationException', e.message);
      }
      const [status, result] = await runHandler(fn, task);
      answer(res, status, result);
    });
  };
}

/**
 * Starts an HTTP server for routes (see createHandler) and resolves once
 * it listens (port 0: any free port; read server.address().port).
 * @param {Record<string, (req: TaskRequest) => any>} routes
 * @param {{host?: string, port?: number, secret?: string|Uint8Array, maxSkew?: number|null}} [opts]
 * @returns {Promise<http.Server>}
 */
export function serve(routes, opts = {}) {
  const server = http.createServer(createHandler(routes, opts));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8090, opts.host ?? '127.0.0.1', () => resolve(server));
  });
}
