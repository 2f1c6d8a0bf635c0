import type { ExecutionSummary } from './types';

/** Success rate (0..1) of the finished runs, or null when none finished. */
export function successRate(runs: ExecutionSummary[]): number | null {
  const done = runs.filter((r) => r.status === 'SUCCESS' || r.status === 'FAILED' || r.status === 'CANCELLED');
  if (!done.length) return null;
  return done.filter((r) => r.status === 'SUCCESS').length / done.length;
}

/** Median duration in ms of the finished runs, or null. */
export function medianDuration(runs: ExecutionSummary[]): number | null {
  const d = runs
    .filter((r) => r.startedAt && r.completedAt)
    .map((r) => Date.parse(r.completedAt!) - Date.parse(r.startedAt!))
    .sort((a, b) => a - b);
  if (!d.length) return null;
  const m = Math.floor(d.length / 2);
  return d.length % 2 ? d[m] : (d[m - 1] + d[m]) / 2;
}
