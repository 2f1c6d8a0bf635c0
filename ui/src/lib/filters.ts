// The runs table's filters as the API's query, and the log view's filters.
import type { LogLine } from './types';

export interface RunFilter { workflow: string; status: string; trigger: string; since: string; until: string; limit: string }
export const emptyRunFilter: RunFilter = { workflow: '', status: '', trigger: '', since: '', until: '', limit: '' };
export const PAGE_SIZES = ['25', '50', '100', '500'];
export const RUN_STATUSES = ['PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED'];
export const TRIGGERS = ['manual', 'api', 'schedule', 'backfill', 'message', 'file', 'retry', 'replay'];

/** A datetime-local value ("2026-12-07T03:00") is local time; the API wants ISO 8601. */
function toIso(v: string): string {
  if (!v) return '';
  if (/^\d+[smhd]$/.test(v)) return v; // a duration before now, as the API takes
  const d = new Date(v);
  return isNaN(d.getTime()) ? v : d.toISOString();
}

export function runQuery(f: RunFilter, cursor?: string | null): string {
  const q = new URLSearchParams();
  if (f.workflow) q.set('workflow', f.workflow);
  if (f.status) q.set('status', f.status);
  if (f.trigger) q.set('trigger', f.trigger);
  if (f.since) q.set('since', toIso(f.since));
  if (f.until) q.set('until', toIso(f.until));
  q.set('limit', /^\d+$/.test(f.limit) ? f.limit : '50');
  if (cursor) q.set('cursor', cursor);
  return q.toString();
}

/** The filter kept in the page's address, so a filtered table can be shared. */
export function filterFromSearch(search: string): RunFilter {
  const q = new URLSearchParams(search);
  return {
    workflow: q.get('workflow') ?? '', status: q.get('status') ?? '', trigger: q.get('trigger') ?? '',
    since: q.get('since') ?? '', until: q.get('until') ?? '', limit: q.get('limit') ?? '',
  };
}

export function filterToSearch(f: RunFilter): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

export interface LogFilter { search: string; streams: Set<string>; task: string; level?: string }

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'];

/** The rank of a line's level; a line without one (an old store) is info. */
export function levelRank(level: string | undefined): number {
  const i = LOG_LEVELS.indexOf(level ?? 'info');
  return i < 0 ? 1 : i;
}

/** Log lines that pass the filter: level and above, stream, task and a search (case-insensitive). */
export function filterLogs(lines: LogLine[], f: LogFilter): LogLine[] {
  const s = f.search.toLowerCase();
  const min = f.level ? levelRank(f.level) : 0;
  return lines.filter((l) =>
    levelRank(l.level) >= min &&
    (f.streams.size === 0 || f.streams.has(l.stream)) &&
    (!f.task || l.taskId === f.task) &&
    (!s || l.line.toLowerCase().includes(s) || l.taskId.toLowerCase().includes(s)));
}
