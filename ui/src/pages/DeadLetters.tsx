import { useState } from 'react';
import { api, ApiError, enc } from '../lib/api';
import { useApi, useStream, useThrottle } from '../lib/hooks';
import { Link } from '../lib/router';
import { fmtTime } from '../lib/format';
import type { Breaker, DeadLetter } from '../lib/types';
import { Card, ErrorBox, Loading, StateBadge } from '../components/bits';

export function DeadLettersPage() {
  const [all, setAll] = useState(false);
  const dl = useApi<{ deadLetters: DeadLetter[] }>(`/api/v1/dead-letters?limit=200${all ? '&all=true' : ''}`);
  const [err, setErr] = useState<ApiError | null>(null);
  const [note, setNote] = useState('');
  const again = useThrottle(dl.reload, 1000);
  useStream('/api/v1/events?kind=task', again);
  const act = async (l: DeadLetter, what: 'replay' | 'discard') => {
    setErr(null); setNote('');
    try {
      await api(`/api/v1/dead-letters/${l.id}/${what}`, { method: 'POST' });
      setNote(what === 'replay' ? `Replaying ${l.taskId} of ${l.executionId}.` : `Discarded letter ${l.id}.`);
      dl.reload();
    } catch (e) { setErr(e as ApiError); }
  };
  const list = dl.data?.deadLetters ?? [];
  return (
    <div className="page">
      <h1>Dead letters</h1>
      <label><input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} /> show resolved letters too</label>
      <ErrorBox error={dl.error ?? err} />
      {note && <p className="note" role="status">{note}</p>}
      <Card title={`${list.length} ${all ? '' : 'open '}letter${list.length === 1 ? '' : 's'}`}>
        {dl.loading && !dl.data && <Loading what="dead letters" />}
        {dl.data && list.length === 0 && <p className="muted">Nothing here: no task has died{all ? '' : ' without being dealt with'}.</p>}
        {list.length > 0 && (
          <div className="tablewrap">
            <table className="tbl" data-testid="dead-letters">
              <thead><tr><th>#</th><th>Task</th><th>Run</th><th>Attempts</th><th>Error</th><th>Died</th><th>Status</th><th>Actions</th></tr></thead>
              <tbody>
                {list.map((l) => (
                  <tr key={l.id}>
                    <td>{l.id}</td><td><b>{l.taskId}</b><div className="small muted">{l.workflowId}</div></td>
                    <td><Link to={`/runs/${enc(l.executionId)}`}><code className="small">{l.executionId}</code></Link></td>
                    <td>{l.attempts}</td>
                    <td className="small clip" title={l.error?.message ?? ''}>{l.error ? `${l.error.type}: ${l.error.message}` : ''}</td>
                    <td>{fmtTime(l.createdAt)}</td><td><StateBadge state={l.status} /></td>
                    <td className="nowrap">
                      <button disabled={l.status !== 'open'} onClick={() => act(l, 'replay')} aria-label={`replay letter ${l.id}`}>Replay</button>{' '}
                      <button disabled={l.status !== 'open'} onClick={() => act(l, 'discard')} aria-label={`discard letter ${l.id}`}>Discard</button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}

export function BreakersPage() {
  const br = useApi<{ breakers: Breaker[] }>('/api/v1/breakers');
  const [err, setErr] = useState<ApiError | null>(null);
  const again = useThrottle(br.reload, 2000);
  useStream('/api/v1/events?kind=task', again);
  const reset = async (b: Breaker) => {
    setErr(null);
    try { await api(`/api/v1/breakers/${enc(b.target)}/reset`, { method: 'POST' }); br.reload(); }
    catch (e) { setErr(e as ApiError); }
  };
  const list = br.data?.breakers ?? [];
  return (
    <div className="page">
      <h1>Circuit breakers</h1>
      <ErrorBox error={br.error ?? err} />
      <Card title="Targets" actions={<button onClick={br.reload}>Refresh</button>}>
        {br.loading && !br.data && <Loading what="breakers" />}
        {br.data && list.length === 0 && <p className="muted">Every target is closed and clean.</p>}
        {list.length > 0 && (
          <div className="tablewrap">
            <table className="tbl" data-testid="breakers">
              <thead><tr><th>Target</th><th>State</th><th>Failures in a row</th><th>Recent</th><th>Held tasks</th><th>Retry at</th><th></th></tr></thead>
              <tbody>
                {list.map((b) => (
                  <tr key={b.target}>
                    <td><code>{b.target}</code></td><td><StateBadge state={b.state} /></td>
                    <td>{b.consecutiveFailures}</td><td>{b.recentFailures}/{b.recentCalls} failed</td>
                    <td>{b.heldTasks}</td><td>{fmtTime(b.retryAt)}</td>
                    <td><button onClick={() => reset(b)} aria-label={`reset breaker ${b.target}`}>Reset</button></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
