/**
 * Link Loom SDK for JavaScript: a REST client for loom-api and helpers for
 * writing task handlers.  No dependencies beyond Node 20.
 *
 *     import { LinkLoomClient } from 'linkloom';
 *     const client = new LinkLoomClient('http://127.0.0.1:8080');
 *     await client.applyWorkflowFile('daily-report.yaml');
 *     const { executionId } = await client.trigger('daily-report', { limit: 5 });
 *     const run = await client.wait(executionId, { timeoutMs: 120000 });
 *
 * @module linkloom
 */
export { LinkLoomClient, TERMINAL, parseSse } from './client.js';
export {
  LoomError, BadRequestError, UnauthorizedError, ForbiddenError, NotFoundError,
  ConflictError, UnprocessableError, UnavailableError, LoomConnectionError,
  WaitTimeoutError, errorFromResponse,
} from './errors.js';
export {
  MAX_SKEW, EnvelopeError, TaskError, parseEnvelope, success, failed, accepted,
  hmacSha256Hex, sign, verifySignature, complete, runHandler, createHandler, serve,
} from './handler.js';
