import { useEffect, useState } from 'react';
import { api, enc } from '../lib/api';
import { useApi, useStream, useThrottle } from '../lib/hooks';
import { Link } from '../lib/router';
import { fmtDuration, fmtRelative } from '../lib/format';
import { medianDuration, successRate } from '../lib/stats';
import type { ExecutionSummary, Schedule, Status, WorkflowSummary } from '../lib/types';
import { Card, ErrorBox, Loading, RunSquares } from '../components/bits';

export function Dashboard() {
  const wf = useApi<{ workflows: WorkflowSummary[] }>('/api/v1/workflows');
  const sch = useApi<{ schedules: Schedule[] }>('/api/v1/schedules');
  const st = useApi<Status>('/api/v1/status');
  const [hist, setHist] = useState<Record<string, ExecutionSummary[]>>({});
  const [n, setN] = useState(0);

  useEffect(() => {
    if (!wf.data) return;
    let live = true;
    Promise.all(wf.data.workflows.map((w) =>
      api<{ executions: ExecutionSummary[] }>(`/api/v1/workflows/${enc(w.id)}/history?limit=25`)
        .then((r) => [w.id, r.executions] as const, () => [w.id, [] as ExecutionSummary[]] as const)))
      .then((pairs) => { if (live) setHist(Object.fromEntries(pairs)); });
    return () => { live = false; };
  }, [wf.data, n]);

  const refresh = useThrottle(() => { st.reload(); setN((x) => x + 1); }, 1000);
  const refreshAll = useThrottle(() => { wf.reload(); sch.reload(); }, 2000);
  useStream('/api/v1/events', (m) => { if (m.event === 'workflow') refreshAll(); else refresh(); });

  const schedOf = (id: string) => sch.data?.schedules.find((s) => s.workflowId === id);
  const s = st.data;
  const open = (s?.breakers ?? []).filter((b) => b.state !== 'CLOSED').length;
  return (
    <div className="page">
      <h1>Dashboard</h1>
      <ErrorBox error={wf.error} title="Workflows" />
      <div className="tiles" aria-live="polite">
        <Tile label="Running tasks" value={s?.queue?.running} />
        <Tile label="Queue depth" value={s?.queue ? s.queue.ready + s.queue.retry + s.queue.held : undefined}
          hint={s?.queue ? `${s.queue.ready} ready · ${s.queue.retry} retry · ${s.queue.held} held` : undefined} />
        <Tile label="Runs in flight" value={s?.runs ? s.runs.pending + s.runs.running : undefined} />
        <Tile label="Open breakers" value={s ? open : undefined} to="/breakers" warn={open > 0} />
        <Tile label="Dead letters" value={s?.deadLetters ?? undefined} to="/dead-letters" warn={(s?.deadLetters ?? 0) > 0} />
      </div>
      {s && !s.database.ok && <ErrorBox error={`Database: ${s.database.error ?? 'unreachable'}`} />}
      <Card title="Workflows">
        {wf.loading && !wf.data && <Loading what="workflows" />}
        {wf.data && wf.data.workflows.length === 0 && <p className="muted">No workflows yet. Apply one with <code>loom workflow apply FILE</code>.</p>}
        {wf.data && wf.data.workflows.length > 0 && (
          <div className="tablewrap">
            <table className="tbl" data-testid="workflows">
              <thead><tr><th>Workflow</th><th>Schedule</th><th>Next fire</th><th>State</th><th>Last runs</th><th>Success</th><th>Median</th></tr></thead>
              <tbody>
                {wf.data.workflows.map((w) => {
                  const runs = hist[w.id] ?? [];
                  const rate = successRate(runs);
                  const sc = schedOf(w.id);
                  const next = sc?.nextFire ?? sc?.nextFires?.[0];
                  return (
                    <tr key={w.id}>
                      <td><Link to={`/workflows/${enc(w.id)}`}><b>{w.id}</b></Link>{w.name && w.name !== w.id && <div className="muted small">{w.name}</div>}</td>
                      <td>{w.schedule ? <code>{w.schedule}</code> : <span className="muted">—</span>}{w.schedule && w.timezone && w.timezone !== 'UTC' && <span className="muted small"> {w.timezone}</span>}</td>
                      <td title={next ?? ''}>{next ? fmtRelative(next) : '—'}
                        {sc?.lastFire && <div className="muted small" title={sc.lastFire}>last {fmtRelative(sc.lastFire)}</div>}
                        {sc?.error && <div className="field-err" title={sc.error}>schedule error</div>}</td>
                      <td>{w.paused ? <span className="badge st-PAUSED">paused</span> : <span className="badge st-ACTIVE">active</span>}</td>
                      <td><RunSquares runs={runs} /></td>
                      <td>{rate === null ? '—' : `${Math.round(rate * 100)}%`}</td>
                      <td>{fmtDuration(medianDuration(runs))}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

function Tile({ label, value, hint, to, warn }: { label: string; value: number | undefined; hint?: string; to?: string; warn?: boolean }) {
  const body = (
    <>
      <div className={`tile-v${warn ? ' warn' : ''}`}>{value ?? '…'}</div>
      <div className="tile-l">{label}</div>
      {hint && <div className="muted small">{hint}</div>}
    </>
  );
  return to ? <Link to={to} className="tile">{body}</Link> : <div className="tile">{body}</div>;
}
