// Type declarations of the Link Loom SDK for JavaScript (see index.js and
// the JSDoc of client.js, handler.js and errors.js).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** The final states of an execution. */
export const TERMINAL: Set<'SUCCESS' | 'FAILED' | 'CANCELLED'>;

export type ExecutionStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILED' | 'CANCELLED';
export type Trigger =
  | 'manual' | 'api' | 'schedule' | 'backfill' | 'message' | 'file' | 'retry' | 'replay';

export interface ErrorInfo { type: string; message: string }

export interface Attempt {
  attempt: number; status: string; startedAt: string | null; completedAt: string | null;
  durationMs: number | null; httpStatus: number | null; exitCode: number | null;
  error: ErrorInfo | null;
}

export interface TaskState {
  taskId: string; type: string; state: string; attempt: number; skipReason: string | null;
  output: any; error: ErrorInfo | null; startedAt: string | null; finishedAt: string | null;
  heldBy?: string | null; heldUntil?: string | null; attempts: Attempt[];
}

export interface Execution {
  id: string; workflowId: string; workflowVersion: number; status: ExecutionStatus;
  trigger: Trigger | string; params?: Record<string, any>; error: string | null;
  createdAt: string; startedAt: string | null; completedAt: string | null;
  scheduledTime?: string | null; tasks?: TaskState[]; request?: Record<string, any>;
  [key: string]: any;
}

export interface Workflow {
  id: string; name?: string; schedule?: string | null; timezone?: string; version: number;
  paused: boolean; taskCount?: number; createdAt: string; updatedAt: string;
  spec?: Record<string, any>; definition?: string; [key: string]: any;
}

export interface Triggered {
  executionId: string; workflowId: string; workflowVersion: number; status: ExecutionStatus;
  retryOf?: string;
}

export interface LogLine {
  id: number; executionId: string; taskId: string; attempt: number;
  stream: 'stdout' | 'stderr' | 'backend'; line: string; ts: string;
}

export interface DeadLetter {
  id: number; executionId: string; workflowId: string; workflowVersion: number; taskId: string;
  attempts: number; error: ErrorInfo | null; createdAt: string; resolvedAt: string | null;
  resolution: string | null; status: 'open' | 'replayed' | 'discarded' | 'retried';
  [key: string]: any;
}

/** One server-sent event: `id` is null for `end`. */
export interface LoomEvent { id: number | null; event: string; data: any }

export interface ExecutionFilters {
  workflow?: string; status?: string; since?: string; until?: string; limit?: number;
}

export interface ClientOptions { token?: string; socketPath?: string; timeoutMs?: number }

export class LinkLoomClient {
  constructor(baseUrl?: string, options?: ClientOptions);
  token: string | null;
  timeoutMs: number;
  request(method: string, path: string, opts?: {
    query?: Record<string, unknown>; json?: unknown; raw?: string | Uint8Array;
    contentType?: string; token?: string; timeoutMs?: number;
  }): Promise<any>;
  applyWorkflow(workflow: string | Uint8Array | object, opts?: { token?: string }):
    Promise<{ id: string; version: number; created: boolean }>;
  registerWorkflow(workflow: string | Uint8Array | object, opts?: { token?: string }):
    Promise<{ id: string; version: number; created: boolean }>;
  applyWorkflowFile(path: string, opts?: { token?: string }):
    Promise<{ id: string; version: number; created: boolean }>;
  listWorkflows(): Promise<Workflow[]>;
  getWorkflow(id: string): Promise<Workflow>;
  pauseWorkflow(id: string): Promise<Workflow & { changed: boolean }>;
  unpauseWorkflow(id: string): Promise<Workflow & { changed: boolean }>;
  trigger(id: string, input?: Record<string, unknown>, opts?: { token?: string; force?: boolean }):
    Promise<Triggered>;
  getExecution(id: string, opts?: { waitMs?: number }): Promise<Execution>;
  getTasks(id: string): Promise<TaskState[]>;
  wait(id: string, opts?: { timeoutMs?: number }): Promise<Execution>;
  listExecutionsPage(filters?: ExecutionFilters & { cursor?: string }):
    Promise<{ executions: Execution[]; nextCursor: string | null }>;
  listExecutions(filters?: ExecutionFilters): AsyncGenerator<Execution>;
  cancel(id: string): Promise<Execution>;
  retry(id: string, opts?: { fromFailed?: boolean }): Promise<Execution | Triggered>;
  rerunTask(id: string, taskId: string, opts?: { downstream?: boolean }): Promise<Execution>;
  logs(id: string, opts?: { task?: string; after?: number; limit?: number }):
    Promise<{ executionId: string; logs: LogLine[]; next: number | null }>;
  deadLetters(opts?: { workflow?: string; execution?: string; all?: boolean; limit?: number }):
    Promise<DeadLetter[]>;
  getDeadLetter(id: number): Promise<DeadLetter>;
  replayDeadLetter(id: number): Promise<Execution>;
  discardDeadLetter(id: number): Promise<DeadLetter>;
  events(executionId: string | null, opts?: {
    since?: number; lastEventId?: number; kinds?: string[]; task?: string; workflow?: string;
    reconnect?: boolean; signal?: AbortSignal;
  }): AsyncGenerator<LoomEvent>;
  followLogs(executionId: string, opts?: { task?: string; since?: number; signal?: AbortSignal }):
    AsyncGenerator<LogLine>;
}

export function parseSse(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<LoomEvent>;

export class LoomError extends Error {
  constructor(status: number, code: string, message: string, field?: string | null, details?: unknown);
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** The API's error code: not_found, conflict, invalid_workflow, ... */
  code: string;
  /** The API's message (message is "STATUS CODE: apiMessage"). */
  apiMessage: string;
  field: string | null;
  details: any;
}
export class BadRequestError extends LoomError {}
export class UnauthorizedError extends LoomError {}
export class ForbiddenError extends LoomError {}
export class NotFoundError extends LoomError {}
export class ConflictError extends LoomError {}
export class UnprocessableError extends LoomError {}
export class UnavailableError extends LoomError {}
export class LoomConnectionError extends LoomError {
  constructor(message: string, cause?: unknown);
}
export class WaitTimeoutError extends LoomError {
  constructor(execution: Execution);
  execution: Execution;
}
export function errorFromResponse(status: number, body: string): LoomError;

/* ---- task handlers ---- */

export const MAX_SKEW: number;
export class EnvelopeError extends Error {}
export class TaskError extends Error {
  constructor(type: string, message: string, output?: unknown);
  type: string;
  output: unknown;
}

export interface TaskResult {
  status: 'SUCCESS' | 'FAILED' | 'RUNNING';
  output?: any; logs?: string; error?: ErrorInfo; duration?: number;
}

export interface TaskRequest {
  executionId: string; taskId: string; input: any; attempt: number;
  /** The task timeout in milliseconds. */
  timeoutMs: number | null;
  idempotencyKey: string;
  callbackUrl: string | null;
  /** When a schedule or backfill meant the run to start; null otherwise. */
  scheduledTime: Date | null;
  raw: Record<string, any>;
  /** Posts a result to callbackUrl (after answering accepted()). */
  complete(result: TaskResult): Promise<{ accepted: boolean }>;
}

export type Handler = (req: TaskRequest) => TaskResult | null | undefined | void |
  Promise<TaskResult | null | undefined | void>;

export function parseEnvelope(body: string | Uint8Array | object,
  headers?: Record<string, string | string[] | undefined>): TaskRequest;
export function success(output?: unknown, logs?: string): TaskResult;
export function failed(type: string, message: string, logs?: string, output?: unknown): TaskResult;
export function accepted(): TaskResult;
export function hmacSha256Hex(key: string | Uint8Array, data: string | Uint8Array): string;
export function sign(secret: string | Uint8Array, timestamp: string | number, body: string | Uint8Array): string;
export function verifySignature(secret: string | Uint8Array, timestamp: string | undefined | null,
  signature: string | undefined | null, body: string | Uint8Array,
  opts?: { now?: number; maxSkew?: number | null }): boolean;
export function complete(callbackUrl: string, result: TaskResult): Promise<{ accepted: boolean }>;
export function runHandler(fn: Handler, req: TaskRequest): Promise<[number, TaskResult]>;
export function createHandler(routes: Record<string, Handler>,
  opts?: { secret?: string | Uint8Array; maxSkew?: number | null; maxBody?: number }):
  (req: IncomingMessage, res: ServerResponse) => void;
export function serve(routes: Record<string, Handler>,
  opts?: { host?: string; port?: number; secret?: string | Uint8Array; maxSkew?: number | null }):
  Promise<Server>;
