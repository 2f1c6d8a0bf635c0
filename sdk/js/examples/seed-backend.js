#!/usr/bin/env node
/**
 * The seed's user backend written with the Link Loom JavaScript SDK: the
 * four tasks of the daily report (fetch_data, validate, process,
 * send_email), like contrib/examples/backend/example-backend.c.
 *
 *     node seed-backend.js [-a ADDR] [-p PORT]      (127.0.0.1:8090)
 *
 * With LOOM_SDK_SIGNING_SECRET set, every request must be signed with it.
 * send_email with input.async answers 202 and completes through the
 * callback URL; fetch_data fails with HttpServerError (which the seed
 * workflow retries) while the attempt is at most input.failAttempts.  The
 * first stdout line is "port N".
 */
import { pathToFileURL } from 'node:url';
import { TaskError, accepted, serve, success } from '../src/index.js';

/** FNV-1a, 64 bits: a stable "checksum" for made-up records. */
export function fnv1a(s) {
  let h = 1469598103934665603n;
  for (const b of Buffer.from(s)) h = ((h ^ BigInt(b)) * 1099511628211n) & 0xffffffffffffffffn;
  return h.toString(16).padStart(16, '0');
}

function number(input, key, def) {
  const v = input?.[key];
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  return def;
}

/** The seed backend; baseUrl (known once listening) is used in report links. */
export class SeedBackend {
  constructor(baseUrl = 'http://127.0.0.1:8090') {
    this.baseUrl = baseUrl;
    /** idempotency keys of asynchronous tasks completed through their callback */
    this.calledBack = [];
  }

  routes() {
    return {
      '/api/tasks/fetch-data': (t) => this.fetchData(t),
      '/api/tasks/validate': (t) => this.validate(t),
      '/api/tasks/process': (t) => this.process(t),
      '/api/tasks/send-email': (t) => this.sendEmail(t),
    };
  }

  fetchData(t) {
    if (t.attempt <= number(t.input, 'failAttempts', 0)) {
      // an error type the workflow's retryOn names: the task is retried
      throw new TaskError('HttpServerError', 'temporarily unavailable (failAttempts)');
    }
    const limit = number(t.input, 'limit', 100);
    if (limit < 0 || limit > 1e6) throw new TaskError('ValidationException', 'limit must be between 0 and 1000000');
    const date = String(t.input.date ?? 'today');
    const n = Math.trunc(limit);
    return success({ recordCount: n, checksum: fnv1a(`${date}/${n}`) }, `Fetched ${n} records for ${date}`);
  }

  validate(t) {
    const n = number(t.input, 'recordCount', -1);
    const sum = String(t.input.checksum ?? '');
    if (n < 0) throw new TaskError('ValidationException', 'no recordCount in the input');
    if (!/^[0-9a-f]{16}$/.test(sum)) throw new TaskError('ValidationException', 'the checksum is not 16 hex digits');
    return success({ valid: true, recordCount: n }, `Validated ${n} records (checksum ${sum})`);
  }

  process(t) {
    const n = Math.trunc(number(t.input, 'recordCount', 0));
    const title = String(t.input.title ?? 'Report');
    return success({ processed: n, title, reportUrl: `${this.baseUrl}/reports/${t.executionId}.csv` },
      `Processed ${n} records`);
  }

  mail(t) {
    const to = String(t.input.to ?? 'team@example.com');
    const subject = String(t.input.subject ?? 'Report');
    return success({ sent: true, to, messageId: `<${t.executionId}@loom.example>` }, `Sent "${subject}" to ${to}`);
  }

  sendEmail(t) {
    if (t.input.async && t.callbackUrl) {
      // answer 202 now, mail and call back afterwards
      setImmediate(async () => {
        try {
          await t.complete(this.mail(t));
          this.calledBack.push(t.idempotencyKey);
        } catch (e) {
          console.error(`callback of ${t.idempotencyKey}: ${e.message}`);
        }
      });
      return accepted();
    }
    return this.mail(t);
  }
}

/**
 * Starts the backend (port 0: any free port); resolves to {server, backend}.
 * @param {{host?: string, port?: number, secret?: string}} [opts]
 */
export async function start(opts = {}) {
  const host = opts.host ?? '127.0.0.1';
  const backend = new SeedBackend();
  const server = await serve(backend.routes(), { host, port: opts.port ?? 8090, secret: opts.secret || undefined });
  backend.baseUrl = `http://${host}:${server.address().port}`;
  return { server, backend };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  const opt = (f, d) => (args.includes(f) ? args[args.indexOf(f) + 1] : d);
  const { server } = await start({
    host: opt('-a', '127.0.0.1'), port: Number(opt('-p', 8090)),
    secret: process.env.LOOM_SDK_SIGNING_SECRET,
  });
  console.log(`port ${server.address().port}`);
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
