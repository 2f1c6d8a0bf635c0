export function fmtDuration(msIn: number | null | undefined): string {
  if (msIn === null || msIn === undefined || !isFinite(msIn)) return '—';
  const ms = Math.max(0, Math.round(msIn));
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const m = Math.floor(s / 60), rs = Math.round(s % 60);
  if (m < 60) return `${m}m${rs ? ` ${rs}s` : ''}`;
  const h = Math.floor(m / 60);
  return `${h}h${m % 60 ? ` ${m % 60}m` : ''}`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function fmtRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const diff = Date.parse(iso) - now;
  const a = Math.abs(diff);
  const txt = a < 60e3 ? `${Math.round(a / 1e3)}s` : a < 36e5 ? `${Math.round(a / 6e4)}m` : a < 864e5 ? `${Math.round(a / 36e5)}h` : `${Math.round(a / 864e5)}d`;
  return diff >= 0 ? `in ${txt}` : `${txt} ago`;
}

export function runDuration(e: { startedAt: string | null; completedAt: string | null; createdAt?: string }, now = Date.now()): number | null {
  const s = e.startedAt ? Date.parse(e.startedAt) : null;
  if (s === null) return null;
  return (e.completedAt ? Date.parse(e.completedAt) : now) - s;
}
