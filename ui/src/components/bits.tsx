import type { ReactNode } from 'react';
import { ApiError } from '../lib/api';
import { Link } from '../lib/router';
import type { ExecutionSummary } from '../lib/types';
import { fmtDuration, fmtTime, runDuration } from '../lib/format';

export function StateBadge({ state }: { state: string }) {
  return <span className={`badge st-${state}`}>{state}</span>;
}

/** An API error in words (never a blank page). */
export function ErrorBox({ error, title }: { error: ApiError | Error | string | null; title?: string }) {
  if (!error) return null;
  const msg = typeof error === 'string' ? error : error.message;
  return (
    <div className="error" role="alert">
      {title && <strong>{title}: </strong>}
      <span style={{ whiteSpace: 'pre-wrap' }}>{msg}</span>
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" aria-busy="true">Loading {what}…</p>;
}

/** The last runs as coloured squares, oldest left (Airflow's grid). */
export function RunSquares({ runs }: { runs: ExecutionSummary[] }) {
  const list = [...runs].reverse();
  return (
    <span className="squares" aria-label={`last ${list.length} runs`}>
      {list.map((r) => (
        <Link key={r.id} to={`/runs/${r.id}`} className={`sq st-${r.status}`}
          title={`${r.id}\n${r.status} · ${fmtTime(r.createdAt)} · ${fmtDuration(runDuration(r))}`}
          aria-label={`run ${r.id} ${r.status}`} />
      ))}
      {list.length === 0 && <span className="muted">no runs</span>}
    </span>
  );
}

export function Card({ title, children, actions }: { title: ReactNode; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-h"><h2>{title}</h2>{actions && <div className="actions">{actions}</div>}</header>
      {children}
    </section>
  );
}
