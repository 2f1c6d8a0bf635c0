import { Component, useEffect, useState, type ReactNode } from 'react';
import { getToken, onConnectivity, setToken } from './lib/api';
import { Link, match, useLocation } from './lib/router';
import { Dashboard } from './pages/Dashboard';
import { WorkflowPage } from './pages/Workflow';
import { RunsPage } from './pages/Runs';
import { RunPage } from './pages/Run';
import { LogsPage } from './pages/Logs';
import { BreakersPage, DeadLettersPage } from './pages/DeadLetters';

const NAV: [string, string][] = [['/', 'Dashboard'], ['/runs', 'Runs'], ['/logs', 'Logs'], ['/dead-letters', 'Dead letters'], ['/breakers', 'Breakers']];

function route(path: string): ReactNode {
  let m;
  if (path === '/' || path === '') return <Dashboard />;
  if ((m = match('/workflows/:id', path))) return <WorkflowPage key={m.id} id={m.id} />;
  if (match('/runs', path)) return <RunsPage />;
  if ((m = match('/runs/:id/logs', path))) return <LogsPage key={m.id} id={m.id} />;
  if ((m = match('/runs/:id', path))) return <RunPage key={m.id} id={m.id} />;
  if (match('/logs', path)) return <LogsPage />;
  if (match('/dead-letters', path)) return <DeadLettersPage />;
  if (match('/breakers', path)) return <BreakersPage />;
  return <div className="page"><h1>Not found</h1><p>No page at <code>{path}</code>. <Link to="/">Go to the dashboard</Link>.</p></div>;
}

export function App() {
  const { path } = useLocation();
  const [online, setOnline] = useState(true);
  const [tokOpen, setTokOpen] = useState(false);
  useEffect(() => onConnectivity(setOnline), []);
  useEffect(() => {
    const name = NAV.find(([p]) => p !== '/' && path.startsWith(p))?.[1] ?? (path === '/' ? 'Dashboard' : path.split('/')[1]);
    document.title = `${name} · Link Loom`;
  }, [path]);
  return (
    <div className="app">
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <Link to="/" className="brand">Link Loom</Link>
        <nav aria-label="main">
          {NAV.map(([p, label]) => {
            const on = p === '/' ? path === '/' || path.startsWith('/workflows') : path === p || (p === '/runs' && path.startsWith('/runs/') && !path.endsWith('/logs')) || (p === '/logs' && path.endsWith('/logs'));
            return <Link key={p} to={p} aria-current={on ? 'page' : undefined} className={on ? 'on' : ''}>{label}</Link>;
          })}
        </nav>
        <button className="tokbtn" onClick={() => setTokOpen(!tokOpen)} aria-expanded={tokOpen}>Token{getToken() ? ' ✓' : ''}</button>
      </header>
      {tokOpen && <TokenForm onDone={() => setTokOpen(false)} />}
      {!online && <div className="banner" role="alert">Connection to loom-api lost. Retrying; live views resume where they stopped.</div>}
      <main id="main" tabIndex={-1}>
        <Boundary key={path}>{route(path)}</Boundary>
      </main>
    </div>
  );
}

function TokenForm({ onDone }: { onDone: () => void }) {
  const [v, setV] = useState(getToken());
  return (
    <form className="tokform" onSubmit={(e) => { e.preventDefault(); setToken(v.trim()); onDone(); }} aria-label="API token">
      <label htmlFor="tok">API token (kept in this browser only; needed when loom-api runs with api.auth = token)</label>
      <input id="tok" type="password" autoComplete="off" value={v} onChange={(e) => setV(e.target.value)} placeholder="loom_…" autoFocus />
      <button type="submit" className="primary">Save</button>
      <button type="button" onClick={() => { setV(''); setToken(''); onDone(); }}>Forget</button>
    </form>
  );
}

class Boundary extends Component<{ children: ReactNode }, { err: Error | null }> {
  state = { err: null as Error | null };
  static getDerivedStateFromError(err: Error) { return { err }; }
  render() {
    if (this.state.err)
      return <div className="page"><h1>Something went wrong</h1><div className="error" role="alert">{this.state.err.message}</div><p><Link to="/">Back to the dashboard</Link></p></div>;
    return this.props.children;
  }
}
