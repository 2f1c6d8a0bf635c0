// The Gantt timeline's geometry (pure): one bar per attempt of every
// task, the waits between a task's attempts, and the critical path, the
// chain of tasks each of which held up the next until the run ended.
import type { Execution, TaskSpec } from './types';

export interface Bar {
  taskId: string; attempt: number; status: string; row: number;
  x: number; w: number; start: number; end: number; running: boolean; critical: boolean;
}
export interface Wait { taskId: string; row: number; x: number; w: number; start: number; end: number }
export interface GanttGeometry {
  rows: string[]; bars: Bar[]; waits: Wait[]; critical: string[];
  t0: number; t1: number; width: number;
}

const ms = (s: string | null | undefined): number | null => (s ? Date.parse(s) : null);

/**
 * The critical path of a run: from the task that finished last, walk back
 * to the dependency that finished last, until a task with none.
 */
export function criticalPath(exec: Execution, specs: TaskSpec[], now = Date.now()): string[] {
  const end = new Map<string, number>();
  for (const t of exec.tasks) {
    const last = t.attempts[t.attempts.length - 1];
    // a task still running counts as ending now: it holds the run up
    const running = t.state === 'RUNNING' && t.startedAt ? now : null;
    const e = running ?? ms(t.finishedAt) ?? ms(last?.completedAt);
    if (e !== null) end.set(t.taskId, e);
  }
  const deps = new Map(specs.map((s) => [s.id, s.dependsOn ?? []]));
  let cur: string | undefined;
  let best = -Infinity;
  for (const [id, e] of end) if (e > best) { best = e; cur = id; }
  const path: string[] = [];
  const seen = new Set<string>();
  while (cur && !seen.has(cur)) {
    seen.add(cur); path.unshift(cur);
    let next: string | undefined; let nb = -Infinity;
    for (const d of deps.get(cur) ?? []) {
      const e = end.get(d);
      if (e !== undefined && e > nb) { nb = e; next = d; }
    }
    cur = next;
  }
  return path;
}

export function ganttGeometry(exec: Execution, specs: TaskSpec[], width: number, now: number): GanttGeometry {
  const rows = exec.tasks.map((t) => t.taskId);
  const crit = criticalPath(exec, specs, now);
  const critSet = new Set(crit);
  const spans: { taskId: string; attempt: number; status: string; row: number; start: number; end: number; running: boolean }[] = [];
  exec.tasks.forEach((t, row) => {
    for (const a of t.attempts) {
      const s = ms(a.startedAt);
      if (s === null) continue;
      const e = ms(a.completedAt);
      spans.push({ taskId: t.taskId, attempt: a.attempt, status: a.status, row, start: s, end: e ?? Math.max(now, s), running: e === null });
    }
    // The attempt running now is in attempts only once it ends.
    const last = t.attempts[t.attempts.length - 1];
    if (t.state === 'RUNNING' && t.startedAt && (!last || last.attempt < t.attempt)) {
      const s = ms(t.startedAt)!;
      spans.push({ taskId: t.taskId, attempt: t.attempt, status: 'RUNNING', row, start: s, end: Math.max(now, s), running: true });
    }
  });
  const t0 = Math.min(ms(exec.startedAt) ?? Infinity, ms(exec.createdAt) ?? Infinity, ...spans.map((s) => s.start));
  const t1c = ms(exec.completedAt);
  let t1 = Math.max(t1c ?? (exec.status === 'RUNNING' || exec.status === 'PENDING' ? now : -Infinity), ...spans.map((s) => s.end));
  if (!isFinite(t0)) return { rows, bars: [], waits: [], critical: crit, t0: now, t1: now + 1, width };
  if (!isFinite(t1) || t1 <= t0) t1 = t0 + 1;
  const scale = width / (t1 - t0);
  const X = (t: number) => (t - t0) * scale;
  const bars: Bar[] = spans.map((s) => ({
    ...s, x: X(s.start), w: Math.max(2, X(s.end) - X(s.start)), critical: critSet.has(s.taskId),
  }));
  const waits: Wait[] = [];
  const byTask = new Map<string, Bar[]>();
  for (const b of bars) byTask.set(b.taskId, [...(byTask.get(b.taskId) ?? []), b]);
  for (const [taskId, list] of byTask) {
    list.sort((a, b) => a.start - b.start);
    for (let i = 1; i < list.length; i++) {
      const prev = list[i - 1], cur = list[i];
      if (cur.start > prev.end)
        waits.push({ taskId, row: cur.row, start: prev.end, end: cur.start, x: X(prev.end), w: X(cur.start) - X(prev.end) });
    }
  }
  return { rows, bars, waits, critical: crit, t0, t1, width };
}

/** Tick marks for an axis of span milliseconds: a round step, about n of them. */
export function ticks(t0: number, t1: number, n = 6): number[] {
  const span = Math.max(1, t1 - t0);
  const steps = [10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5];
  const step = steps.find((s) => span / s <= n) ?? 864e5;
  const out: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) out.push(t);
  return out;
}
