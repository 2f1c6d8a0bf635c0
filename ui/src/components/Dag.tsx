// The workflow's DAG: React Flow (pan, zoom, fit), laid out by dagre,
// each node coloured by its task's state in the chosen run.
import { useEffect, useMemo, useRef, type RefObject } from 'react';
import { ReactFlow, Background, Controls, MarkerType, Position, useNodesInitialized, useReactFlow, type Edge as RFEdge, type Node, type NodeHandle } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { dagEdges, layoutDag, NODE_H, NODE_W } from '../lib/layout';
import type { TaskSpec } from '../lib/types';

export function Dag({ tasks, states, selected, onSelect, height = 360 }: {
  tasks: TaskSpec[]; states?: Record<string, string>; selected?: string | null;
  onSelect?: (id: string) => void; height?: number;
}) {
  const key = tasks.map((t) => t.id + ':' + (t.dependsOn ?? []).join(',')).join(';');
  const wrap = useRef<HTMLDivElement>(null);
  const placed = useMemo(() => layoutDag(tasks), [key]); // eslint-disable-line react-hooks/exhaustive-deps
  const nodes: Node[] = placed.map((p) => {
    const st = states?.[p.id] ?? 'NONE';
    const t = tasks.find((x) => x.id === p.id)!;
    return {
      id: p.id, position: { x: p.x, y: p.y }, width: NODE_W, height: NODE_H,
      // Size and handles given, not measured: React Flow forgets measured
      // handles when a node object is replaced, and then draws no edges.
      measured: { width: NODE_W, height: NODE_H }, handles: HANDLES,
      data: { label: <span><b>{p.id}</b><small>{t.type}{states ? ` · ${st === 'NONE' ? 'PENDING' : st}` : ''}</small></span> },
      className: `dag-node st-${st}${selected === p.id ? ' sel' : ''}`,
      connectable: false, draggable: false,
      ariaLabel: `task ${p.id}${states ? ` ${st}` : ''}`,
      sourcePosition: Position.Right, targetPosition: Position.Left,
    };
  });
  const edges: RFEdge[] = dagEdges(tasks).map((e) => ({
    ...e, markerEnd: { type: MarkerType.ArrowClosed }, animated: states?.[e.source] === 'RUNNING',
  }));
  return (
    <div className="dag" style={{ height }} data-testid="dag" ref={wrap}>
      {/* a new graph is a new flow: its first fitView sees the new layout */}
      <ReactFlow key={key} nodes={nodes} edges={edges} fitView fitViewOptions={FIT} minZoom={0.2} maxZoom={2}
        nodesConnectable={false} nodesDraggable={false} proOptions={{ hideAttribution: true }}
        onlyRenderVisibleElements={tasks.length > 200}
        onNodeClick={(_, n) => onSelect?.(n.id)}
        onNodesChange={(changes) => {
          // Enter or Space on a focused node selects it: the keyboard's click
          for (const c of changes) if (c.type === 'select' && c.selected) onSelect?.(c.id);
        }}>
        <Background gap={16} size={1} />
        <Controls showInteractive={false} fitViewOptions={FIT} />
        <Refit graphKey={key} box={wrap} />
      </ReactFlow>
    </div>
  );
}

const FIT = { padding: 0.15, maxZoom: 1 };
const HANDLES: NodeHandle[] = [
  { type: 'target', position: Position.Left, x: -3, y: NODE_H / 2 - 3, width: 6, height: 6 },
  { type: 'source', position: Position.Right, x: NODE_W - 3, y: NODE_H / 2 - 3, width: 6, height: 6 },
];

/** Fits the graph again when it changes or its box is resized. */
function Refit({ graphKey, box }: { graphKey: string; box: RefObject<HTMLDivElement> }) {
  const rf = useReactFlow();
  const ready = useNodesInitialized();
  useEffect(() => {
    if (!ready) return;
    // a frame later: React Flow takes new nodes into its store in an
    // effect of its own, which may run after this one
    const f = requestAnimationFrame(() => void rf.fitView(FIT));
    return () => cancelAnimationFrame(f);
  }, [ready, graphKey, rf]);
  useEffect(() => {
    const el = box.current;
    if (!el || typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => void rf.fitView(FIT));
    ro.observe(el);
    return () => ro.disconnect();
  }, [rf, box]);
  return null;
}
