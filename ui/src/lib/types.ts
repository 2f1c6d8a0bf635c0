// The shapes of loom-api's JSON (man/loom-api.8, schema/openapi.yaml).

export type RunStatus = 'PENDING' | 'RUNNING' | 'SUCCESS' | 'FAILED' | 'CANCELLED';
export type TaskState =
  | 'PENDING' | 'READY' | 'RUNNING' | 'SUCCESS' | 'FAILED' | 'RETRY'
  | 'DEAD' | 'SKIPPED' | 'CANCELLED';

export interface ErrorInfo { type?: string; message?: string }

export interface WorkflowSummary {
  id: string; name?: string; schedule?: string | null; timezone?: string;
  version: number; paused: boolean; taskCount?: number;
  createdAt?: string; updatedAt?: string;
}

export interface TaskSpec {
  id: string; name?: string; type: string; dependsOn?: string[];
  timeout?: string; url?: string; method?: string;
  command?: string | string[]; class?: string;
  retryPolicy?: Record<string, unknown>;
  [k: string]: unknown;
}

export interface WorkflowSpec { id: string; name?: string; tasks: TaskSpec[]; [k: string]: unknown }

export interface WorkflowDetail extends WorkflowSummary { spec: WorkflowSpec; definition: string }

export interface VersionInfo { version: number; checksum: string; createdAt: string }

export interface ExecutionSummary {
  id: string; workflowId: string; workflowVersion: number; status: RunStatus;
  trigger: string; createdAt: string; startedAt: string | null;
  completedAt: string | null; error: string | null; scheduledTime?: string;
}

export interface Attempt {
  attempt: number; status: string; startedAt: string | null;
  completedAt: string | null; durationMs: number | null;
  httpStatus: number | null; exitCode: number | null; error: ErrorInfo | null;
}

export interface TaskRun {
  taskId: string; type: string; state: TaskState; attempt: number;
  skipReason: string | null; output: unknown; error: ErrorInfo | null;
  startedAt: string | null; finishedAt: string | null;
  heldBy?: string | null; heldUntil?: string | null; attempts: Attempt[];
}

export interface Execution extends ExecutionSummary { params: unknown; tasks: TaskRun[] }

export interface LogLine {
  id: number; executionId: string; taskId: string; attempt: number;
  stream: string; line: string; ts: string;
  level?: string; // debug, info, warn, error (loom-log); stderr lines are warn
}

export interface LoomEvent {
  id: number; executionId: string | null; taskId: string | null; kind: string;
  from: string | null; to: string | null; attempt: number | null;
  data: unknown; createdAt: string;
}

export interface DeadLetter {
  id: number; executionId: string; workflowId: string; workflowVersion: number;
  taskId: string; attempts: number; error: ErrorInfo | null; createdAt: string;
  resolvedAt: string | null; resolution: string | null; status: string;
}

export interface Breaker {
  target: string; state: string; consecutiveFailures: number; recentCalls: number;
  recentFailures: number; openedAt: string | null; cooldownMs: number;
  retryAt: string | null; heldTasks: number; updatedAt?: string;
}

export interface Status {
  database: { ok: boolean; error?: string };
  queue: { ready: number; running: number; retry: number; awaitingCallback: number; held: number } | null;
  runs: { pending: number; running: number } | null;
  deadLetters: number | null;
  breakers: Breaker[] | null;
}

export interface Schedule {
  workflowId: string; schedule: string; timezone: string; paused: boolean;
  nextFires?: string[]; nextFire?: string | null; lastFire?: string | null; error?: string;
}
