import { useEffect, useMemo, useState } from 'react';
import { diffLines } from 'diff';
import { api, ApiError, enc } from '../lib/api';
import { useApi, useStream, useThrottle } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import { fmtDuration, fmtRelative, fmtTime, runDuration } from '../lib/format';
import type { Execution, ExecutionSummary, Schedule, TaskSpec, VersionInfo, WorkflowDetail } from '../lib/types';
import { Card, ErrorBox, Loading, RunSquares, StateBadge } from '../components/bits';
import { Dag } from '../components/Dag';
import { JsonEditor, jsonObjectError } from '../components/JsonEditor';

type Tab = 'graph' | 'yaml' | 'versions' | 'runs';

export function WorkflowPage({ id }: { id: string }) {
  const wf = useApi<WorkflowDetail>(`/api/v1/workflows/${enc(id)}`);
  const hist = useApi<{ executions: ExecutionSummary[] }>(`/api/v1/workflows/${enc(id)}/history?limit=50`);
  const [tab, setTab] = useState<Tab>('graph');
  const [runId, setRunId] = useState<string>('');
  const [sel, setSel] = useState<string | null>(null);
  const [actErr, setActErr] = useState<ApiError | null>(null);
  const runs = hist.data?.executions ?? [];
  const chosen = runId || runs[0]?.id || '';
  const run = useApi<Execution>(chosen ? `/api/v1/executions/${enc(chosen)}` : null);
  const sch = useApi<{ schedules: Schedule[] }>('/api/v1/schedules');
  const fires = sch.data?.schedules.find((x) => x.workflowId === id)?.nextFires ?? [];
  const again = useThrottle(() => { hist.reload(); run.reload(); }, 1000);
  useStream(`/api/v1/events?workflow=${enc(id)}`, (m) => { if (m.event === 'workflow') wf.reload(); again(); });

  if (wf.error) return <div className="page"><h1>Workflow {id}</h1><ErrorBox error={wf.error} /></div>;
  if (!wf.data) return <div className="page"><h1>Workflow {id}</h1><Loading what="the workflow" /></div>;
  const w = wf.data;
  const states = run.data ? Object.fromEntries(run.data.tasks.map((t) => [t.taskId, t.state])) : undefined;
  const task = sel ? w.spec.tasks.find((t) => t.id === sel) : undefined;

  const setPaused = async (p: boolean) => {
    setActErr(null);
    try { await api(`/api/v1/workflows/${enc(id)}/${p ? 'pause' : 'unpause'}`, { method: 'POST' }); wf.reload(); sch.reload(); }
    catch (e) { setActErr(e as ApiError); }
  };
  return (
    <div className="page">
      <h1>{w.id} {w.paused && <span className="badge st-PAUSED">paused</span>}</h1>
      <p className="muted">{w.name && w.name !== w.id ? `${w.name} · ` : ''}version {w.version} · {w.spec.tasks.length} tasks{w.schedule ? ` · schedule ${w.schedule} (${w.timezone})` : ''} · last runs <RunSquares runs={runs.slice(0, 20)} /></p>
      {w.schedule && (
        <p className="small" data-testid="next-fires">
          {w.paused ? 'Paused: its schedule does not fire.' : fires.length
            ? <>Next fires: {fires.map((f, i) => <span key={f} title={f}>{i ? ', ' : ''}{fmtTime(f)} ({fmtRelative(f)})</span>)}</>
            : 'No upcoming fire.'}
        </p>
      )}
      <div className="actions-row">
        {w.paused ? <button onClick={() => setPaused(false)}>Unpause</button> : <button onClick={() => setPaused(true)}>Pause</button>}
      </div>
      <ErrorBox error={actErr} />
      <Trigger id={id} paused={w.paused} />
      <div role="tablist" className="tabs" aria-label="workflow views">
        {(['graph', 'yaml', 'versions', 'runs'] as Tab[]).map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? 'on' : ''} onClick={() => setTab(t)}>
            {t === 'graph' ? 'Graph' : t === 'yaml' ? 'YAML' : t === 'versions' ? 'Versions' : 'Run history'}
          </button>
        ))}
      </div>
      {tab === 'graph' && (
        <Card title="Graph" actions={
          <label>Colour by run{' '}
            <select value={chosen} onChange={(e) => setRunId(e.target.value)} aria-label="colour by run">
              {runs.length === 0 && <option value="">no runs</option>}
              {runs.map((r) => <option key={r.id} value={r.id}>{r.id} · {r.status} · {fmtTime(r.createdAt)}</option>)}
            </select>
          </label>}>
          <div className="split">
            <Dag tasks={w.spec.tasks} states={states} selected={sel} onSelect={setSel} height={380} />
            <TaskConfig task={task} />
          </div>
        </Card>
      )}
      {tab === 'yaml' && <Card title="Definition"><Code text={w.definition} /></Card>}
      {tab === 'versions' && <Versions id={id} current={w.version} />}
      {tab === 'runs' && (
        <Card title="Run history" actions={<Link to={`/runs?workflow=${enc(id)}`}>All runs of {id} →</Link>}>
          <ErrorBox error={hist.error} />
          <RunsTable runs={runs} />
        </Card>
      )}
    </div>
  );
}

export function RunsTable({ runs, showWorkflow = false }: { runs: ExecutionSummary[]; showWorkflow?: boolean }) {
  if (!runs.length) return <p className="muted">No runs.</p>;
  return (
    <div className="tablewrap">
      <table className="tbl" data-testid="runs">
        <thead><tr><th>Run</th>{showWorkflow && <th>Workflow</th>}<th>Status</th><th>Trigger</th><th>Created</th><th>Duration</th><th>Error</th></tr></thead>
        <tbody>
          {runs.map((r) => (
            <tr key={r.id}>
              <td><Link to={`/runs/${enc(r.id)}`}><code>{r.id}</code></Link></td>
              {showWorkflow && <td><Link to={`/workflows/${enc(r.workflowId)}`}>{r.workflowId}</Link> <span className="muted small">v{r.workflowVersion}</span></td>}
              <td><StateBadge state={r.status} /></td>
              <td>{r.trigger}</td>
              <td>{fmtTime(r.createdAt)}</td>
              <td>{fmtDuration(runDuration(r))}</td>
              <td className="small clip" title={r.error ?? ''}>{r.error ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function TaskConfig({ task }: { task: TaskSpec | undefined }) {
  if (!task) return <aside className="taskcfg muted">Click a task for its configuration.</aside>;
  const rp = task.retryPolicy as Record<string, unknown> | undefined;
  const cmd = Array.isArray(task.command) ? task.command.join(' ') : task.command;
  return (
    <aside className="taskcfg" aria-label={`task ${task.id} configuration`}>
      <h3>{task.id}</h3>
      <dl>
        <dt>Type</dt><dd>{task.type}</dd>
        {task.url && <><dt>URL</dt><dd><code>{task.method ?? 'POST'} {task.url}</code></dd></>}
        {cmd && <><dt>Command</dt><dd><code>{cmd}</code></dd></>}
        {task.class && <><dt>Class</dt><dd><code>{String(task.class)}</code></dd></>}
        <dt>Timeout</dt><dd>{task.timeout ?? '—'}</dd>
        <dt>Depends on</dt><dd>{task.dependsOn?.length ? task.dependsOn.join(', ') : '—'}</dd>
        {rp && <><dt>Retry</dt><dd>{String(rp.maxAttempts)} attempts, {String(rp.backoffStrategy)} from {String(rp.initialDelay)} (max {String(rp.maxDelay)})<br />
          <span className="small">retry on {(rp.retryOn as string[] | undefined)?.join(', ')}</span></dd></>}
      </dl>
    </aside>
  );
}

/** Text with line numbers. */
export function Code({ text }: { text: string }) {
  const lines = text.replace(/\n$/, '').split('\n');
  return (
    <pre className="code" data-testid="yaml" tabIndex={0}>
      {lines.map((l, i) => <div key={i} className="cl"><span className="ln" aria-hidden="true">{i + 1}</span><span>{l || ' '}</span></div>)}
    </pre>
  );
}

function Trigger({ id, paused }: { id: string; paused: boolean }) {
  const [text, setText] = useState('{}');
  const [err, setErr] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [force, setForce] = useState(false);
  const bad = jsonObjectError(text);
  const go = async () => {
    if (bad) return;
    setBusy(true); setErr(null);
    try {
      const r = await api<{ executionId: string }>(`/api/v1/workflows/${enc(id)}/trigger${force ? '?force=true' : ''}`,
        { method: 'POST', json: { input: text.trim() ? JSON.parse(text) : {} } });
      navigate(`/runs/${enc(r.executionId)}`);
    } catch (e) { setErr(e as ApiError); } finally { setBusy(false); }
  };
  return (
    <details className="card trigger">
      <summary>Trigger a run…</summary>
      <JsonEditor value={text} onChange={setText} label="Input (a JSON object: the run's params)" />
      {paused && <label><input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> run although paused (force)</label>}
      <div className="actions-row"><button className="primary" disabled={!!bad || busy} onClick={go}>Trigger</button></div>
      <ErrorBox error={err} title="Trigger refused" />
    </details>
  );
}

function Versions({ id, current }: { id: string; current: number }) {
  const vs = useApi<{ versions: VersionInfo[] }>(`/api/v1/workflows/${enc(id)}/versions`);
  const [a, setA] = useState<number>(Math.max(1, current - 1));
  const [b, setB] = useState<number>(current);
  const [texts, setTexts] = useState<Record<number, string>>({});
  const [err, setErr] = useState<ApiError | null>(null);
  useEffect(() => {
    for (const v of [a, b]) if (texts[v] === undefined)
      api<{ definition: string }>(`/api/v1/workflows/${enc(id)}/versions/${v}`).then(
        (r) => setTexts((t) => ({ ...t, [v]: r.definition })), (e) => setErr(e as ApiError));
  }, [a, b, id, texts]);
  const parts = useMemo(() => (texts[a] !== undefined && texts[b] !== undefined ? diffLines(texts[a], texts[b]) : null), [texts, a, b]);
  const list = vs.data?.versions ?? [];
  return (
    <Card title="Versions">
      <ErrorBox error={vs.error ?? err} />
      <table className="tbl"><thead><tr><th>Version</th><th>Created</th><th>Checksum</th></tr></thead>
        <tbody>{list.map((v) => <tr key={v.version}><td>v{v.version}{v.version === current && ' (current)'}</td><td>{fmtTime(v.createdAt)}</td><td><code className="small">{v.checksum.slice(0, 12)}</code></td></tr>)}</tbody></table>
      <div className="actions-row">
        <label>Diff from <select value={a} onChange={(e) => setA(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select></label>
        <label> to <select value={b} onChange={(e) => setB(Number(e.target.value))}>{list.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}</select></label>
      </div>
      {parts && (
        <pre className="code diff" data-testid="diff" tabIndex={0}>
          {parts.flatMap((p, i) => p.value.replace(/\n$/, '').split('\n').map((l, j) => (
            <div key={`${i}-${j}`} className={p.added ? 'add' : p.removed ? 'del' : ''}>{p.added ? '+ ' : p.removed ? '- ' : '  '}{l}</div>)))}
        </pre>
      )}
      {a === b && <p className="muted small">Pick two different versions to see what changed.</p>}
    </Card>
  );
}
