import { Fragment, useEffect, useRef, useState } from 'react';
import { api, ApiError, enc } from '../lib/api';
import { useApi, useNow, useRestartOnRevive, useStream, useThrottle } from '../lib/hooks';
import { Link } from '../lib/router';
import { fmtDuration, fmtTime, runDuration } from '../lib/format';
import type { Execution, LoomEvent, TaskRun, WorkflowSpec } from '../lib/types';
import { Card, ErrorBox, Loading, StateBadge } from '../components/bits';
import { Dag } from '../components/Dag';
import { Gantt } from '../components/Gantt';
import { LogView } from '../components/LogView';

export function RunPage({ id }: { id: string }) {
  const ex = useApi<Execution>(`/api/v1/executions/${enc(id)}`);
  const wfId = ex.data?.workflowId, ver = ex.data?.workflowVersion;
  const spec = useApi<{ spec: WorkflowSpec }>(wfId ? `/api/v1/workflows/${enc(wfId)}/versions/${ver}` : null);
  const [live, setLive] = useState<Record<string, string>>({});
  const [sel, setSel] = useState<string | null>(null);
  const [actErr, setActErr] = useState<ApiError | null>(null);
  const [note, setNote] = useState<string>('');
  const refresh = useThrottle(ex.reload, 400);
  const over = !!ex.data && ['SUCCESS', 'FAILED', 'CANCELLED'].includes(ex.data.status);
  const now = useNow(500, !over);
  const [kick, setKick] = useState(0);
  const revive = useRestartOnRevive(ex.data?.status, kick);
  useStream(`/api/v1/executions/${enc(id)}/events?since=0&kind=task,run`, (m) => {
    if (m.event === 'task') {
      try {
        const e = JSON.parse(m.data) as LoomEvent;
        if (e.taskId && e.to) setLive((old) => ({ ...old, [e.taskId!]: e.to! }));
      } catch { /* ignore */ }
    }
    refresh();
  }, () => { revive.onEnded(); ex.reload(); }, revive.restart);
  useEffect(() => { setLive({}); }, [ex.data]);

  const wrap = useRef<HTMLDivElement>(null);
  const [w, setW] = useState(900);
  useEffect(() => {
    const el = wrap.current;
    if (!el) return;
    const ro = new ResizeObserver(() => setW(el.clientWidth));
    ro.observe(el); setW(el.clientWidth);
    return () => ro.disconnect();
  }, [ex.data !== null]); // eslint-disable-line react-hooks/exhaustive-deps

  if (ex.error) return <div className="page"><h1>Run {id}</h1><ErrorBox error={ex.error} /></div>;
  if (!ex.data) return <div className="page"><h1>Run {id}</h1><Loading what="the run" /></div>;
  const e = ex.data;
  const states: Record<string, string> = { ...Object.fromEntries(e.tasks.map((t) => [t.taskId, t.state])), ...live };
  const specs = spec.data?.spec.tasks ?? e.tasks.map((t) => ({ id: t.taskId, type: t.type, dependsOn: [] }));
  const task = e.tasks.find((t) => t.taskId === sel);

  const act = async (path: string, body?: unknown, what = '') => {
    setActErr(null); setNote('');
    try {
      const r = await api<{ executionId?: string; request?: { state: string; reset?: string[] } }>(path, { method: 'POST', json: body });
      if (r.executionId && r.executionId !== id) setNote(`Started a new run: ${r.executionId}`);
      else setNote(`${what}${r.request ? ` (${r.request.state}${r.request.reset?.length ? `: ${r.request.reset.join(', ')}` : ''})` : ''}`);
      ex.reload();
      setKick((k) => k + 1);
    } catch (err) { setActErr(err as ApiError); }
  };
  return (
    <div className="page">
      <h1>Run <code>{e.id}</code> <StateBadge state={e.status} /></h1>
      <p className="muted">
        <Link to={`/workflows/${enc(e.workflowId)}`}>{e.workflowId}</Link> v{e.workflowVersion} · {e.trigger}
        {e.scheduledTime ? ` for ${fmtTime(e.scheduledTime)}` : ''} · created {fmtTime(e.createdAt)} · {fmtDuration(runDuration(e, now))}
        {' · '}<Link to={`/runs/${enc(e.id)}/logs`}>full-page logs</Link>
      </p>
      {e.error && <ErrorBox error={e.error} title="Run error" />}
      <div className="actions-row">
        <button disabled={over} onClick={() => act(`/api/v1/executions/${enc(id)}/cancel`, undefined, 'Cancel requested')}>Cancel run</button>
        <button disabled={!over || e.status === 'SUCCESS'} onClick={() => act(`/api/v1/executions/${enc(id)}/retry`, { fromFailed: true }, 'Retrying from the failed tasks')}>Retry from failed</button>
        <button disabled={!over} onClick={() => act(`/api/v1/executions/${enc(id)}/retry`, {}, 'Rerun')}>Run again (new run)</button>
      </div>
      <ErrorBox error={actErr} title="Refused" />
      {note && <p className="note" role="status">{note}</p>}
      <Card title="Graph">
        <div className="split">
          <Dag tasks={specs} states={states} selected={sel} onSelect={setSel} height={320} />
          <TaskPanel task={task} runId={id} onRerun={(t, ds) => act(`/api/v1/executions/${enc(id)}/tasks/${enc(t)}/rerun`, { downstream: ds }, `Rerunning ${t}`)} />
        </div>
      </Card>
      <Card title="Timeline">
        <div ref={wrap} className="gantt-wrap">
          <Gantt exec={e} specs={specs} width={w} now={now} onSelect={setSel} />
        </div>
      </Card>
      <Card title="Tasks">
        <div className="tablewrap">
          <table className="tbl" data-testid="tasks">
            <thead><tr><th>Task</th><th>State</th><th>Attempt</th><th>Started</th><th>Finished</th><th>Error</th></tr></thead>
            <tbody>
              {e.tasks.map((t) => (
                <tr key={t.taskId} className={sel === t.taskId ? 'selrow' : ''}>
                  <td><button className="linkish" onClick={() => setSel(t.taskId)}>{t.taskId}</button></td>
                  <td><StateBadge state={states[t.taskId]} />{t.heldBy && <span className="small muted"> held by {t.heldBy}</span>}{t.skipReason && <span className="small muted"> ({t.skipReason})</span>}</td>
                  <td>{t.attempt}</td><td>{fmtTime(t.startedAt)}</td><td>{fmtTime(t.finishedAt)}</td>
                  <td className="small clip" title={t.error?.message ?? ''}>{t.error ? `${t.error.type}: ${t.error.message}` : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </Card>
      <Card title="Logs"><LogView executionId={id} tasks={e.tasks.map((t) => t.taskId)} status={e.status} kick={kick} height={260} /></Card>
    </div>
  );
}

function TaskPanel({ task, onRerun }: { task: TaskRun | undefined; runId: string; onRerun: (t: string, downstream: boolean) => void }) {
  const [ds, setDs] = useState(true);
  if (!task) return <aside className="taskcfg muted">Click a task for its attempts.</aside>;
  const finished = ['SUCCESS', 'DEAD', 'SKIPPED', 'CANCELLED'].includes(task.state);
  return (
    <aside className="taskcfg" aria-label={`task ${task.taskId} attempts`}>
      <h3>{task.taskId} <StateBadge state={task.state} /></h3>
      <div className="actions-row">
        <button disabled={!finished} onClick={() => onRerun(task.taskId, ds)}>Rerun task</button>
        <label><input type="checkbox" checked={ds} onChange={(e) => setDs(e.target.checked)} /> with downstream</label>
      </div>
      <table className="tbl small" data-testid="attempts">
        <thead><tr><th>#</th><th>Status</th><th>Duration</th><th title="HTTP status or exit code">HTTP/exit</th></tr></thead>
        <tbody>
          {task.attempts.map((a) => (
            <Fragment key={a.attempt}>
              <tr className={a.error ? 'noline' : ''}>
                <td>{a.attempt}</td><td><StateBadge state={a.status} /></td><td>{fmtDuration(a.durationMs)}</td>
                <td>{a.httpStatus ?? a.exitCode ?? '—'}</td>
              </tr>
              {a.error && <tr><td /><td colSpan={3} className="attempt-err"><b>{a.error.type}</b> {a.error.message}</td></tr>}
            </Fragment>
          ))}
          {task.attempts.length === 0 && <tr><td colSpan={4} className="muted">No finished attempt yet.</td></tr>}
        </tbody>
      </table>
      {task.output !== null && task.output !== undefined && (<><h4>Output</h4><pre className="code small">{JSON.stringify(task.output, null, 2)}</pre></>)}
    </aside>
  );
}
