import { describe, expect, it } from 'vitest';
import { dagEdges, layoutDag, NODE_W } from '../src/lib/layout';
import { criticalPath, ganttGeometry, ticks } from '../src/lib/gantt';
import { filterFromSearch, filterLogs, filterToSearch, runQuery, emptyRunFilter } from '../src/lib/filters';
import { SseParser } from '../src/lib/sse';
import { fmtDuration } from '../src/lib/format';
import { medianDuration, successRate } from '../src/lib/stats';
import { describeError } from '../src/lib/api';
import { match } from '../src/lib/router';
import type { Execution, ExecutionSummary, LogLine, TaskSpec } from '../src/lib/types';

const specs: TaskSpec[] = [
  { id: 'a', type: 'http' },
  { id: 'b', type: 'http', dependsOn: ['a'] },
  { id: 'c', type: 'shell', dependsOn: ['a'] },
  { id: 'd', type: 'http', dependsOn: ['b', 'c', 'nosuch'] },
];
const T = (s: number) => new Date(Date.UTC(2026, 11, 7, 3, 0, 0) + s * 1000).toISOString();
const att = (n: number, st: string, s: number, e: number | null) => ({
  attempt: n, status: st, startedAt: T(s), completedAt: e === null ? null : T(e), durationMs: e === null ? null : (e - s) * 1000,
  httpStatus: null, exitCode: null, error: st === 'FAILED' ? { type: 'HttpServerError', message: 'x' } : null,
});
const exec: Execution = {
  id: 'exec-1', workflowId: 'w', workflowVersion: 1, status: 'SUCCESS', trigger: 'manual', params: {},
  createdAt: T(0), startedAt: T(0), completedAt: T(20), error: null,
  tasks: [
    { taskId: 'a', type: 'http', state: 'SUCCESS', attempt: 3, skipReason: null, output: null, error: null, startedAt: T(6), finishedAt: T(7),
      attempts: [att(1, 'FAILED', 0, 1), att(2, 'FAILED', 2, 3), att(3, 'SUCCESS', 6, 7)] },
    { taskId: 'b', type: 'http', state: 'SUCCESS', attempt: 1, skipReason: null, output: null, error: null, startedAt: T(7), finishedAt: T(15), attempts: [att(1, 'SUCCESS', 7, 15)] },
    { taskId: 'c', type: 'shell', state: 'SUCCESS', attempt: 1, skipReason: null, output: null, error: null, startedAt: T(7), finishedAt: T(9), attempts: [att(1, 'SUCCESS', 7, 9)] },
    { taskId: 'd', type: 'http', state: 'SUCCESS', attempt: 1, skipReason: null, output: null, error: null, startedAt: T(15), finishedAt: T(20), attempts: [att(1, 'SUCCESS', 15, 20)] },
  ],
};

describe('layout', () => {
  it('has an edge per known dependency', () => {
    expect(dagEdges(specs).map((e) => e.id)).toEqual(['a->b', 'a->c', 'b->d', 'c->d']);
  });
  it('places dependencies left of their dependants, without overlap', () => {
    const p = Object.fromEntries(layoutDag(specs).map((n) => [n.id, n]));
    expect(p.a.x + NODE_W).toBeLessThan(p.b.x);
    expect(p.b.x + NODE_W).toBeLessThan(p.d.x);
    expect(p.b.x).toBe(p.c.x);
    expect(p.b.y).not.toBe(p.c.y);
  });
  it('lays out an empty graph', () => { expect(layoutDag([])).toEqual([]); });
});

describe('gantt geometry', () => {
  const g = ganttGeometry(exec, specs, 1000, Date.parse(T(30)));
  it('draws one bar per attempt: three for a task that failed twice', () => {
    expect(g.bars.filter((b) => b.taskId === 'a').map((b) => b.status)).toEqual(['FAILED', 'FAILED', 'SUCCESS']);
    expect(g.bars).toHaveLength(6);
  });
  it('scales the run onto the width', () => {
    const d = g.bars.find((b) => b.taskId === 'd')!;
    expect(d.x).toBeCloseTo(750); expect(d.x + d.w).toBeCloseTo(1000);
    expect(g.bars.find((b) => b.taskId === 'a' && b.attempt === 1)!.x).toBe(0);
  });
  it('shows the waits between attempts', () => {
    expect(g.waits.map((w) => [w.taskId, w.x, w.w])).toEqual([['a', 50, 50], ['a', 150, 150]]);
  });
  it('marks the critical path through the dependency that finished last', () => {
    expect(criticalPath(exec, specs)).toEqual(['a', 'b', 'd']);
    expect(g.bars.filter((b) => b.critical).map((b) => b.taskId)).toEqual(['a', 'a', 'a', 'b', 'd']);
  });
  it('draws a running attempt up to now', () => {
    const running: Execution = { ...exec, status: 'RUNNING', completedAt: null,
      tasks: [{ ...exec.tasks[0], state: 'RUNNING', attempt: 4, finishedAt: null, startedAt: T(8) }] };
    const r = ganttGeometry(running, specs, 100, Date.parse(T(10)));
    const last = r.bars[r.bars.length - 1];
    expect(last.running).toBe(true);
    expect(last.attempt).toBe(4);
    expect(last.x + last.w).toBeCloseTo(100);
  });
  it('survives a run that has not started', () => {
    const e: Execution = { ...exec, status: 'PENDING', startedAt: null, completedAt: null, tasks: [] };
    expect(ganttGeometry(e, [], 100, 5).bars).toEqual([]);
  });
  it('picks round ticks', () => {
    expect(ticks(0, 20000)).toEqual([0, 5000, 10000, 15000, 20000]);
  });
});

describe('filters', () => {
  it('builds the API query of the runs table', () => {
    const q = new URLSearchParams(runQuery({ ...emptyRunFilter, workflow: 'w', status: 'FAILED', trigger: 'schedule', since: '2d', limit: '25' }, 'CUR'));
    expect(Object.fromEntries(q)).toEqual({ workflow: 'w', status: 'FAILED', trigger: 'schedule', since: '2d', limit: '25', cursor: 'CUR' });
  });
  it('turns local times into ISO 8601', () => {
    const q = new URLSearchParams(runQuery({ ...emptyRunFilter, until: '2026-12-07T03:00' }));
    expect(q.get('until')).toBe(new Date('2026-12-07T03:00').toISOString());
    expect(q.get('limit')).toBe('50');
  });
  it('keeps the filter in the address', () => {
    const f = { ...emptyRunFilter, status: 'RUNNING', workflow: 'a b' };
    expect(filterFromSearch(filterToSearch(f))).toEqual(f);
    expect(filterToSearch(emptyRunFilter)).toBe('');
  });
  const L = (id: number, taskId: string, stream: string, line: string): LogLine => ({ id, executionId: 'e', taskId, attempt: 1, stream, line, ts: T(id) });
  const lines = [L(1, 'a', 'stdout', 'hello World'), L(2, 'a', 'stderr', 'oops'), L(3, 'b', 'backend', 'world peace')];
  it('filters log lines by search, stream and task', () => {
    expect(filterLogs(lines, { search: 'WORLD', streams: new Set(), task: '' }).map((l) => l.id)).toEqual([1, 3]);
    expect(filterLogs(lines, { search: '', streams: new Set(['stderr']), task: '' }).map((l) => l.id)).toEqual([2]);
    expect(filterLogs(lines, { search: 'world', streams: new Set(), task: 'b' }).map((l) => l.id)).toEqual([3]);
  });
  it('filters log lines by level and above', () => {
    const lv = [{ ...lines[0], level: 'info' }, { ...lines[1], level: 'warn' }, { ...lines[2], level: 'error' },
      { ...lines[0], id: 4, level: 'debug' }, { ...lines[0], id: 5, level: undefined }];
    const ids = (level: string) => filterLogs(lv, { search: '', streams: new Set(), task: '', level }).map((l) => l.id);
    expect(ids('')).toEqual([1, 2, 3, 4, 5]);
    expect(ids('info')).toEqual([1, 2, 3, 5]);
    expect(ids('warn')).toEqual([2, 3]);
    expect(ids('error')).toEqual([3]);
  });
});

describe('SSE parser', () => {
  it('parses messages split anywhere, keeps the last id, skips comments', () => {
    const p = new SseParser();
    const all = [...p.push('retry: 2000\n: link loom event stream\n\nid: 41\nevent: ta'), ...p.push('sk\ndata: {"a":1}\n\n'),
      ...p.push('event: end\ndata: {"s":"SUCCESS"}\r\n\r\n')];
    expect(all).toEqual([{ id: '41', event: 'task', data: '{"a":1}' }, { event: 'end', data: '{"s":"SUCCESS"}' }]);
    expect(p.lastId).toBe('41');
    expect(p.retry).toBe(2000);
  });
  it('joins multi-line data', () => {
    expect(new SseParser().push('data: a\ndata: b\n\n')).toEqual([{ event: 'message', data: 'a\nb' }]);
  });
});

describe('words', () => {
  it('formats durations', () => {
    expect([fmtDuration(12), fmtDuration(1500), fmtDuration(61000), fmtDuration(3600000), fmtDuration(null)]).toEqual(['12ms', '1.5s', '1m 1s', '1h', '—']);
  });
  it('turns API errors into words', () => {
    expect(describeError(401, { error: { code: 'unauthorized', message: 'invalid token', field: null } }).message).toMatch(/^Not signed in: invalid token\. Enter a valid API token/);
    const e = describeError(422, { error: { code: 'invalid_workflow', message: '1 error', details: [{ line: 7, column: 3, message: 'bad' }] } });
    expect(e.message).toBe('1 error\nline 7:3: bad');
    expect(e.code).toBe('invalid_workflow');
    expect(describeError(500, null).message).toBe('HTTP 500');
  });
  it('computes success rate and median duration of finished runs', () => {
    const r = (status: string, s: number, e: number | null): ExecutionSummary => ({ id: String(s), workflowId: 'w', workflowVersion: 1, status: status as never, trigger: 'manual', createdAt: T(s), startedAt: T(s), completedAt: e === null ? null : T(e), error: null });
    const runs = [r('SUCCESS', 0, 10), r('FAILED', 0, 2), r('SUCCESS', 0, 4), r('RUNNING', 0, null)];
    expect(successRate(runs)).toBeCloseTo(2 / 3);
    expect(medianDuration(runs)).toBe(4000);
    expect(successRate([])).toBeNull();
    expect(medianDuration([r('SUCCESS', 0, 1), r('SUCCESS', 0, 3)])).toBe(2000);
  });
  it('matches routes', () => {
    expect(match('/runs/:id', '/runs/exec-1')).toEqual({ id: 'exec-1' });
    expect(match('/runs/:id', '/runs/exec-1/logs')).toBeNull();
    expect(match('/workflows/:id', '/workflows/a%20b')).toEqual({ id: 'a b' });
  });
});
