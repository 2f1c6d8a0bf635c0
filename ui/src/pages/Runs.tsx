import { useEffect, useState } from 'react';
import { api, ApiError } from '../lib/api';
import { useApi } from '../lib/hooks';
import { navigate, useLocation } from '../lib/router';
import { filterFromSearch, filterToSearch, PAGE_SIZES, runQuery, RUN_STATUSES, TRIGGERS, type RunFilter } from '../lib/filters';
import type { ExecutionSummary, WorkflowSummary } from '../lib/types';
import { Card, ErrorBox, Loading } from '../components/bits';
import { RunsTable } from './Workflow';

export function RunsPage() {
  const { search } = useLocation();
  const f = filterFromSearch(search);
  const [draft, setDraft] = useState<RunFilter>(f);
  const [pages, setPages] = useState<(string | null)[]>([null]); // cursors of the pages seen
  const [data, setData] = useState<{ executions: ExecutionSummary[]; nextCursor: string | null } | null>(null);
  const [err, setErr] = useState<ApiError | null>(null);
  const wfs = useApi<{ workflows: WorkflowSummary[] }>('/api/v1/workflows');
  const cursor = pages[pages.length - 1];
  const q = runQuery(f, cursor);

  useEffect(() => { setDraft(filterFromSearch(search)); setPages([null]); }, [search]);
  useEffect(() => {
    let live = true;
    setErr(null);
    api<{ executions: ExecutionSummary[]; nextCursor: string | null }>(`/api/v1/executions?${q}`)
      .then((d) => { if (live) setData(d); }, (e) => { if (live) { setErr(e); setData(null); } });
    return () => { live = false; };
  }, [q]);

  const apply = (e: React.FormEvent) => { e.preventDefault(); navigate(`/runs${filterToSearch(draft)}`); };
  const set = (k: keyof RunFilter) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement>) => setDraft({ ...draft, [k]: e.target.value });
  return (
    <div className="page">
      <h1>Runs</h1>
      <form className="filters" onSubmit={apply} aria-label="filter runs">
        <label>Workflow <select value={draft.workflow} onChange={set('workflow')}>
          <option value="">any</option>
          {wfs.data?.workflows.map((w) => <option key={w.id} value={w.id}>{w.id}</option>)}
          {draft.workflow && !wfs.data?.workflows.some((w) => w.id === draft.workflow) && <option value={draft.workflow}>{draft.workflow}</option>}
        </select></label>
        <label>Status <select value={draft.status} onChange={set('status')}>
          <option value="">any</option>{RUN_STATUSES.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Trigger <select value={draft.trigger} onChange={set('trigger')}>
          <option value="">any</option>{TRIGGERS.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>From <input type="datetime-local" value={draft.since} onChange={set('since')} /></label>
        <label>Until <input type="datetime-local" value={draft.until} onChange={set('until')} /></label>
        <label>Per page <select value={draft.limit || '50'} onChange={set('limit')}>
          {PAGE_SIZES.map((n) => <option key={n}>{n}</option>)}
          {draft.limit && !PAGE_SIZES.includes(draft.limit) && <option>{draft.limit}</option>}</select></label>
        <button type="submit" className="primary">Apply</button>
        <button type="button" onClick={() => navigate('/runs')}>Clear</button>
      </form>
      <Card title={`Page ${pages.length}`} actions={
        <>
          <button disabled={pages.length < 2} onClick={() => setPages(pages.slice(0, -1))}>← Newer</button>
          <button disabled={!data?.nextCursor} onClick={() => setPages([...pages, data!.nextCursor])}>Older →</button>
        </>}>
        <ErrorBox error={err} />
        {!data && !err && <Loading what="runs" />}
        {data && <RunsTable runs={data.executions} showWorkflow />}
      </Card>
    </div>
  );
}
