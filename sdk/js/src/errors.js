/**
 * Errors of the Link Loom SDK.  Every error answer of loom-api has one
 * shape (loom-api(8), ERROR RESPONSES):
 *
 *     {"error": {"code": "not_found", "message": "no workflow 'x'", "field": "id"}}
 *
 * {@link LoomError} carries the HTTP status and those members; a subclass
 * per status lets callers test what they expect (`e instanceof NotFoundError`).
 * @module linkloom/errors
 */

/** An error answer of the API, or a failure to reach it (status 0). */
export class LoomError extends Error {
  /**
   * @param {number} status HTTP status, 0 when no answer came
   * @param {string} code the API's error code (not_found, conflict, ...)
   * @param {string} message the API's message
   * @param {string|null} [field] the offending part of the request
   * @param {unknown} [details] the problems of invalid_workflow
   */
  constructor(status, code, message, field = null, details = null) {
    super(status ? `${status} ${code}: ${message}` : message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.apiMessage = message;
    this.field = field;
    this.details = details;
  }
}

/** 400: a malformed request. */
export class BadRequestError extends LoomError {}
/** 401: no bearer token, or not a valid one. */
export class UnauthorizedError extends LoomError {}
/** 403: the token's scope is too low. */
export class ForbiddenError extends LoomError {}
/** 404: no such route, workflow, execution, letter or callback. */
export class NotFoundError extends LoomError {}
/** 409: not in a state that allows the request (also concurrency_limit). */
export class ConflictError extends LoomError {}
/** 422: invalid_workflow or invalid_input. */
export class UnprocessableError extends LoomError {}
/** 503: the database cannot be reached, or a limit was hit. */
export class UnavailableError extends LoomError {}

/** No answer: the connection failed or broke. */
export class LoomConnectionError extends LoomError {
  /** @param {string} message @param {unknown} [cause] */
  constructor(message, cause) {
    super(0, 'connection', message);
    if (cause !== undefined) this.cause = cause;
  }
}

/** wait() ran out of time; `execution` is the run as last seen. */
export class WaitTimeoutError extends LoomError {
  /** @param {Record<string, any>} execution */
  constructor(execution) {
    super(0, 'timeout', `execution ${execution.id} is still ${execution.status}`);
    this.execution = execution;
  }
}

const BY_STATUS = {
  400: BadRequestError, 401: UnauthorizedError, 403: ForbiddenError,
  404: NotFoundError, 409: ConflictError, 422: UnprocessableError,
  503: UnavailableError,
};

/**
 * The error for an error answer: its class by status, code, message,
 * field and details from the JSON body; a body of another shape keeps its
 * first 200 characters as the message, with the code `http_<status>`.
 * @param {number} status
 * @param {string} body
 * @returns {LoomError}
 */
export function errorFromResponse(status, body) {
  const Cls = BY_STATUS[status] ?? LoomError;
  try {
    const err = JSON.parse(body).error;
    if (err && typeof err === 'object') {
      return new Cls(status, String(err.code ?? `http_${status}`),
        String(err.message ?? ''), err.field ?? null, err.details ?? null);
    }
    if (typeof err === 'string') return new Cls(status, `http_${status}`, err);
  } catch { /* not JSON */ }
  return new Cls(status, `http_${status}`, body.trim().slice(0, 200) || `HTTP ${status}`);
}
