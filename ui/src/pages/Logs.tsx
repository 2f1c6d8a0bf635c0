import { enc } from '../lib/api';
import { useApi } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import { fmtTime } from '../lib/format';
import type { Execution, ExecutionSummary } from '../lib/types';
import { Card, ErrorBox, Loading, StateBadge } from '../components/bits';
import { LogView } from '../components/LogView';

/** /logs: the newest run's logs (or /runs/:id/logs for one run). */
export function LogsPage({ id }: { id?: string }) {
  const recent = useApi<{ executions: ExecutionSummary[] }>('/api/v1/executions?limit=30');
  const runId = id ?? recent.data?.executions[0]?.id;
  const ex = useApi<Execution>(runId ? `/api/v1/executions/${enc(runId)}` : null);
  return (
    <div className="page">
      <h1>Logs</h1>
      <div className="actions-row">
        <label>Run{' '}
          <select aria-label="run" value={runId ?? ''} onChange={(e) => navigate(`/runs/${enc(e.target.value)}/logs`)}>
            {runId && !recent.data?.executions.some((r) => r.id === runId) && <option value={runId}>{runId}</option>}
            {recent.data?.executions.map((r) => <option key={r.id} value={r.id}>{r.id} · {r.workflowId} · {r.status} · {fmtTime(r.createdAt)}</option>)}
          </select>
        </label>
        {ex.data && <><StateBadge state={ex.data.status} /> <Link to={`/runs/${enc(ex.data.id)}`}>run page →</Link></>}
      </div>
      <ErrorBox error={recent.error ?? ex.error} />
      {!runId && recent.data && <p className="muted">No runs yet.</p>}
      {runId && !ex.data && !ex.error && <Loading what="the run" />}
      {ex.data && (
        <Card title={`${ex.data.workflowId} · ${ex.data.id}`}>
          <LogView key={ex.data.id} executionId={ex.data.id} tasks={ex.data.tasks.map((t) => t.taskId)} status={ex.data.status} onEnd={ex.reload}
            height={Math.max(240, window.innerHeight - 300)} />
        </Card>
      )}
    </div>
  );
}
