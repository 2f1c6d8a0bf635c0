// The DAG's layout: dagre places the tasks left to right by dependency.
import dagre from '@dagrejs/dagre';
import type { TaskSpec } from './types';

export const NODE_W = 172;
export const NODE_H = 52;

export interface Placed { id: string; x: number; y: number }
export interface Edge { id: string; source: string; target: string }

export function dagEdges(tasks: TaskSpec[]): Edge[] {
  const ids = new Set(tasks.map((t) => t.id));
  const out: Edge[] = [];
  for (const t of tasks)
    for (const d of t.dependsOn ?? [])
      if (ids.has(d)) out.push({ id: `${d}->${t.id}`, source: d, target: t.id });
  return out;
}

/** Top-left positions of every task, left to right (rankdir LR). */
export function layoutDag(tasks: TaskSpec[], dir: 'LR' | 'TB' = 'LR'): Placed[] {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: dir, nodesep: 24, ranksep: 56, marginx: 8, marginy: 8 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of tasks) g.setNode(t.id, { width: NODE_W, height: NODE_H });
  for (const e of dagEdges(tasks)) g.setEdge(e.source, e.target);
  dagre.layout(g);
  return tasks.map((t) => {
    const n = g.node(t.id);
    return { id: t.id, x: n.x - NODE_W / 2, y: n.y - NODE_H / 2 };
  });
}
