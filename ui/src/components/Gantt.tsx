// The run's timeline: a bar per attempt (retries are bars of their own),
// the waits between attempts dashed, the critical path outlined.
import { ganttGeometry, ticks } from '../lib/gantt';
import { fmtDuration } from '../lib/format';
import type { Execution, TaskSpec } from '../lib/types';

const ROW = 26, LABEL = 140, AXIS = 22;

export function Gantt({ exec, specs, width, now, onSelect }: {
  exec: Execution; specs: TaskSpec[]; width: number; now: number; onSelect?: (id: string) => void;
}) {
  const inner = Math.max(200, width - LABEL - 16);
  const g = ganttGeometry(exec, specs, inner, now);
  const h = AXIS + g.rows.length * ROW + 4;
  const scale = inner / (g.t1 - g.t0);
  return (
    <div className="gantt" data-testid="gantt">
      <svg width={width} height={h} role="img" aria-label="Gantt timeline of every attempt">
        <g transform={`translate(${LABEL},0)`}>
          {ticks(g.t0, g.t1).map((t) => (
            <g key={t} transform={`translate(${t * scale},0)`}>
              <line y1={AXIS - 4} y2={h} className="tick" />
              <text y={12} className="tick-l">{fmtDuration(t)}</text>
            </g>
          ))}
        </g>
        {g.rows.map((id, i) => (
          <g key={id} transform={`translate(0,${AXIS + i * ROW})`}>
            <text x={4} y={ROW / 2 + 4} className={`row-l${g.critical.includes(id) ? ' crit' : ''}`}
              onClick={() => onSelect?.(id)}>{id.length > 18 ? id.slice(0, 17) + '…' : id}</text>
          </g>
        ))}
        <g transform={`translate(${LABEL},${AXIS})`}>
          {g.waits.map((w, i) => (
            <line key={`w${i}`} className="wait" data-task={w.taskId} x1={w.x} x2={w.x + w.w}
              y1={w.row * ROW + ROW / 2} y2={w.row * ROW + ROW / 2}>
              <title>{`${w.taskId}: waited ${fmtDuration(w.end - w.start)} before retrying`}</title>
            </line>
          ))}
          {g.bars.map((b) => (
            <rect key={`${b.taskId}-${b.attempt}-${b.start}`} className={`bar st-${b.status}${b.critical ? ' crit' : ''}`}
              data-task={b.taskId} data-attempt={b.attempt}
              x={b.x} y={b.row * ROW + 4} width={b.w} height={ROW - 8} rx={3}
              onClick={() => onSelect?.(b.taskId)}>
              <title>{`${b.taskId} attempt ${b.attempt}: ${b.status}, ${fmtDuration(b.end - b.start)}${b.running ? ' so far' : ''}`}</title>
            </rect>
          ))}
        </g>
      </svg>
      <p className="legend muted">Bars: one per attempt · dashed: waiting to retry · <span className="crit-l">outlined</span>: critical path ({g.critical.join(' → ') || 'none yet'})</p>
    </div>
  );
}
