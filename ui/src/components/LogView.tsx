// A run's log lines: the whole history then the live tail, over one event
// stream (kind=log, since=0), with follow/pause, search and filters.
import { useCallback, useMemo, useRef, useState } from 'react';
import { useRestartOnRevive, useStream } from '../lib/hooks';
import { enc } from '../lib/api';
import { LOG_LEVELS, filterLogs } from '../lib/filters';
import type { LogLine } from '../lib/types';
import { VirtualList } from './VirtualList';
import { ErrorBox } from './bits';

const STREAMS = ['stdout', 'stderr', 'backend'];

export function LogView({ executionId, tasks, status, kick, height = 420, onEnd }: {
  executionId: string; tasks: string[]; status?: string; kick?: number; height?: number; onEnd?: () => void;
}) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const pending = useRef<LogLine[]>([]);
  const lastId = useRef(0);
  const revive = useRestartOnRevive(status, kick);
  const ended = revive.ended;
  const [follow, setFollow] = useState(true);
  const [frozen, setFrozen] = useState<LogLine[] | null>(null);
  const [search, setSearch] = useState('');
  const [task, setTask] = useState('');
  const [streams, setStreams] = useState<Set<string>>(new Set());
  const [level, setLevel] = useState('');
  const flush = useRef<number | null>(null);

  const onMessage = useCallback((m: { event: string; data: string }) => {
    if (m.event !== 'log') return;
    let l: LogLine;
    try { l = JSON.parse(m.data) as LogLine; } catch { return; }
    if (l.id <= lastId.current) return; // a restarted stream starts after the last line
    lastId.current = l.id;
    pending.current.push(l);
    if (flush.current === null)
      flush.current = window.setTimeout(() => {
        flush.current = null;
        const add = pending.current; pending.current = [];
        setLines((old) => old.concat(add));
      }, 50);
  }, []);
  // since= is read once per (re)start: after the last line seen then
  const since = useMemo(() => lastId.current, [revive.restart]); // eslint-disable-line react-hooks/exhaustive-deps
  const url = `/api/v1/executions/${enc(executionId)}/events?kind=log&since=${since}`;
  const { connected, error } = useStream(url, onMessage, () => { revive.onEnded(); onEnd?.(); }, revive.restart);

  const shown = frozen ?? lines;
  const filtered = useMemo(() => filterLogs(shown, { search, streams, task, level }), [shown, search, streams, task, level]);
  const toggleStream = (s: string) => setStreams((old) => {
    const n = new Set(old); if (n.has(s)) n.delete(s); else n.add(s); return n;
  });
  const pause = () => { setFollow(false); setFrozen(lines); };
  const resume = () => { setFrozen(null); setFollow(true); };
  const onUserScroll = useCallback((atBottom: boolean) => { if (!atBottom) setFollow(false); }, []);

  return (
    <div className="logview">
      <div className="toolbar" role="toolbar" aria-label="log filters">
        {frozen ? <button onClick={resume}>Follow</button> : <button onClick={pause}>Pause</button>}
        {!frozen && !follow && <button onClick={() => setFollow(true)}>Jump to end</button>}
        <input type="search" placeholder="Search lines…" aria-label="search log lines" value={search}
          onChange={(e) => setSearch(e.target.value)} />
        <select aria-label="task" value={task} onChange={(e) => setTask(e.target.value)}>
          <option value="">all tasks</option>
          {tasks.map((t) => <option key={t} value={t}>{t}</option>)}
        </select>
        <select aria-label="level" value={level} onChange={(e) => setLevel(e.target.value)}>
          <option value="">all levels</option>
          {LOG_LEVELS.slice(1).map((v) => <option key={v} value={v}>{v} and above</option>)}
        </select>
        <span role="group" aria-label="stream" className="chips">
          {STREAMS.map((s) => (
            <label key={s} className={`chip${streams.has(s) ? ' on' : ''}`}>
              <input type="checkbox" checked={streams.has(s)} onChange={() => toggleStream(s)} /> {s}
            </label>
          ))}
        </span>
        <span className="muted small" aria-live="polite">
          {filtered.length} of {lines.length} lines{frozen && lines.length > frozen.length ? ` · ${lines.length - frozen.length} new while paused` : ''}
          {' · '}{ended ? 'run over' : connected ? 'live' : 'connecting…'}
        </span>
      </div>
      <ErrorBox error={error} title="Logs" />
      <VirtualList items={filtered} rowHeight={20} height={height} follow={follow && !frozen} onUserScroll={onUserScroll}
        label="log lines"
        render={(l) => (
          <div className={`logline s-${l.stream}`} data-testid="logline">
            <span className="ts">{l.ts.slice(11, 23)}</span>
            <span className="lt">{l.taskId}#{l.attempt}</span>
            <span className={`ll l-${l.level ?? 'info'}`}>{l.level ?? 'info'}</span>
            <span className="ls">{l.stream}</span>
            <span className="lm" title={l.line}>{highlight(l.line, search)}</span>
          </div>
        )} />
      {lines.length === 0 && <p className="muted small">{ended ? 'This run printed no lines.' : 'No lines yet; new ones appear here as tasks print them.'}</p>}
    </div>
  );
}

function highlight(line: string, s: string) {
  if (!s) return line;
  const i = line.toLowerCase().indexOf(s.toLowerCase());
  if (i < 0) return line;
  return <>{line.slice(0, i)}<mark>{line.slice(i, i + s.length)}</mark>{line.slice(i + s.length)}</>;
}
