// The scenario graph: node boxes at their positions (set through the CSSOM: the CSP allows no
// inline style attributes), edges as SVG paths from a port to a node. Drag a node to move it, drag
// from a port handle onto a node to connect; nodes are focusable (arrows move, Delete removes).
import { useRef, useState } from 'preact/hooks';
import {
  canvasSize, edgePath, inAnchor, NODE_W, nodeSummary, portAnchor, portLabel, portsOf, typeLabel,
} from '../flow-model';
import type { FlowDocument, FlowPosition } from '../types';

export type Selection = { kind: 'node'; id: string } | { kind: 'edge'; from: string; port: string } | null;

interface Props {
  doc: FlowDocument;
  selected: Selection;
  errorCounts: Map<string, number>;
  current: string | null;
  onSelect: (s: Selection) => void;
  onMove: (id: string, pos: FlowPosition) => void;
  onConnect: (from: string, port: string, to: string) => void;
  onDelete: (s: Selection) => void;
}

interface Drag {
  id: string;
  pointer: number;
  x0: number;
  y0: number;
  origin: FlowPosition;
  moved: boolean;
}

export function FlowCanvas({ doc, selected, errorCounts, current, onSelect, onMove, onConnect, onDelete }: Props) {
  const surface = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLDivElement>(null);
  const drag = useRef<Drag | null>(null);
  const [link, setLink] = useState<{ from: string; port: string; a: FlowPosition; b: FlowPosition } | null>(null);
  const size = canvasSize(doc);
  const byId = new Map(doc.nodes.map((n) => [n.id, n]));

  const local = (e: PointerEvent): FlowPosition => {
    const r = surface.current?.getBoundingClientRect();
    return { x: e.clientX - (r?.left ?? 0), y: e.clientY - (r?.top ?? 0) };
  };

  const nodeDown = (e: PointerEvent, id: string) => {
    if (e.button !== 0) return;
    const n = byId.get(id);
    if (!n) return;
    onSelect({ kind: 'node', id });
    drag.current = { id, pointer: e.pointerId, x0: e.clientX, y0: e.clientY, origin: n.position, moved: false };
    (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
  };
  const nodeMove = (e: PointerEvent) => {
    const d = drag.current;
    if (!d || d.pointer !== e.pointerId) return;
    const dx = e.clientX - d.x0;
    const dy = e.clientY - d.y0;
    if (!d.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
    d.moved = true;
    onMove(d.id, { x: d.origin.x + dx, y: d.origin.y + dy });
  };
  const nodeUp = () => {
    drag.current = null;
  };

  const portDown = (e: PointerEvent, from: string, port: string) => {
    if (e.button !== 0) return;
    e.stopPropagation();
    e.preventDefault();
    const n = byId.get(from);
    if (!n) return;
    (e.currentTarget as HTMLElement).setPointerCapture?.(e.pointerId);
    setLink({ from, port, a: portAnchor(n, port), b: local(e) });
  };
  const portMove = (e: PointerEvent) => {
    if (link) setLink({ ...link, b: local(e) });
  };
  const portUp = (e: PointerEvent) => {
    if (!link) return;
    const target = document.elementFromPoint(e.clientX, e.clientY)?.closest<HTMLElement>('.flow-node');
    const to = target?.dataset.id;
    if (to) onConnect(link.from, link.port, to);
    setLink(null);
  };

  const nodeKey = (e: KeyboardEvent, id: string) => {
    const n = byId.get(id);
    if (!n) return;
    const step = e.shiftKey ? 5 : 20;
    const moves: Record<string, [number, number]> = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
    if (e.key === 'Delete' || e.key === 'Backspace') {
      e.preventDefault();
      onDelete({ kind: 'node', id });
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect({ kind: 'node', id });
    } else if (moves[e.key]) {
      e.preventDefault();
      onMove(id, { x: n.position.x + moves[e.key][0], y: n.position.y + moves[e.key][1] });
    }
  };

  const edges = doc.edges
    .map((e) => {
      const src = byId.get(e.from);
      const dst = byId.get(e.to);
      if (!src || !dst || !portsOf(src).includes(e.port)) return null;
      const a = portAnchor(src, e.port);
      const b = inAnchor(dst);
      const isSel = selected?.kind === 'edge' && selected.from === e.from && selected.port === e.port;
      // A short label a third of the way along (fanned-out edges part there, so labels do not collide).
      const short = e.port.startsWith('choice:') ? portLabel(src, e.port).slice(8) : e.port;
      const at = { x: a.x + (b.x - a.x) * 0.35, y: a.y + Math.max(14, (b.y - a.y) * 0.35) };
      return { e, at, d: edgePath(a, b), isSel, multi: portsOf(src).length > 1, label: short.length > 16 ? `${short.slice(0, 15)}…` : short };
    })
    .filter((x) => x !== null);

  return (
    <div
      class="flow-canvas"
      ref={canvas}
      tabIndex={-1}
      aria-label="Scenario graph"
      role="region"
      onKeyDown={(e) => {
        if (selected?.kind === 'edge' && (e.key === 'Delete' || e.key === 'Backspace')) {
          e.preventDefault();
          onDelete(selected);
        }
      }}
    >
      <div
        class="flow-surface"
        ref={surface}
        style={{ width: `${size.width}px`, height: `${size.height}px` }}
        onPointerDown={(e) => {
          if (e.target === surface.current || (e.target as Element).classList?.contains('flow-edges')) onSelect(null);
        }}
      >
        <svg class="flow-edges" width={size.width} height={size.height} aria-hidden="true">
          <defs>
            <marker id="flow-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0 0L10 5L0 10z" />
            </marker>
            <marker id="flow-arrow-sel" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M0 0L10 5L0 10z" />
            </marker>
          </defs>
          {edges.map(({ e, at, d, isSel, multi, label }) => (
            <g key={`${e.from}\u0000${e.port}`} class={`flow-edge${isSel ? ' selected' : ''}`} data-from={e.from} data-port={e.port} data-to={e.to}>
              <path
                class="flow-edge-hit"
                d={d}
                onPointerDown={(ev) => {
                  ev.stopPropagation();
                  onSelect({ kind: 'edge', from: e.from, port: e.port });
                  canvas.current?.focus({ preventScroll: true });
                }}
              />
              <path class="flow-edge-line" d={d} marker-end={isSel ? 'url(#flow-arrow-sel)' : 'url(#flow-arrow)'} />
              {multi && (
                <text class="flow-edge-label" x={Math.round(at.x) + 4} y={Math.round(at.y)}>
                  {label}
                </text>
              )}
            </g>
          ))}
          {link && <path class="flow-link" d={edgePath(link.a, link.b)} />}
        </svg>
        {doc.nodes.map((n) => {
          const ports = portsOf(n);
          const count = errorCounts.get(n.id) ?? 0;
          const isSel = selected?.kind === 'node' && selected.id === n.id;
          const cls = [
            'flow-node',
            `type-${n.type}`,
            isSel && 'selected',
            count > 0 && 'has-error',
            current === n.id && 'is-current',
            doc.start === n.id && 'is-start',
          ]
            .filter(Boolean)
            .join(' ');
          return (
            <div
              key={n.id}
              class={cls}
              data-id={n.id}
              role="button"
              tabIndex={0}
              aria-pressed={isSel}
              aria-label={`${typeLabel(n.type)} ${n.id}${doc.start === n.id ? ', start' : ''}${current === n.id ? ', simulator is here' : ''}${count ? `, ${count} problem${count > 1 ? 's' : ''}` : ''}`}
              style={{ left: `${n.position.x}px`, top: `${n.position.y}px` }}
              onPointerDown={(e) => nodeDown(e, n.id)}
              onPointerMove={nodeMove}
              onPointerUp={nodeUp}
              onPointerCancel={nodeUp}
              onKeyDown={(e) => nodeKey(e, n.id)}
            >
              <div class="flow-node-head">
                <span class="flow-node-type">{typeLabel(n.type)}</span>
                <span class="flow-node-id">{n.id}</span>
                {doc.start === n.id && <span class="flow-start-tag">start</span>}
                {count > 0 && (
                  <span class="flow-badge" title={`${count} problem${count > 1 ? 's' : ''}`}>
                    {count}
                  </span>
                )}
              </div>
              <div class="flow-node-body">{nodeSummary(n)}</div>
              {ports.map((p, i) => (
                <span
                  key={p}
                  class="flow-port"
                  data-port={p}
                  title={`${portLabel(n, p)}: drag onto a node to connect`}
                  style={{ left: `${Math.round((NODE_W * (i + 1)) / (ports.length + 1)) - 7}px` }}
                  onPointerDown={(e) => portDown(e, n.id, p)}
                  onPointerMove={portMove}
                  onPointerUp={portUp}
                  onPointerCancel={() => setLink(null)}
                />
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}
