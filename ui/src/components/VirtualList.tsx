// A list that draws only the rows in view: thousands of log lines stay smooth.
import { useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';

/** The rows to draw for a scroll position (pure, tested). */
export function visibleRange(scrollTop: number, height: number, rowH: number, n: number, overscan = 8): [number, number] {
  const first = Math.max(0, Math.floor(scrollTop / rowH) - overscan);
  const last = Math.min(n, Math.ceil((scrollTop + height) / rowH) + overscan);
  return [first, last];
}

export function VirtualList<T>({ items, rowHeight, height, render, follow, onUserScroll, label }: {
  items: T[]; rowHeight: number; height: number; render: (item: T, i: number) => ReactNode;
  follow?: boolean; onUserScroll?: (atBottom: boolean) => void; label?: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const [top, setTop] = useState(0);
  const auto = useRef(false);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && follow) { auto.current = true; el.scrollTop = el.scrollHeight; setTop(el.scrollTop); }
  }, [items.length, follow]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const f = () => {
      setTop(el.scrollTop);
      if (auto.current) { auto.current = false; return; }
      onUserScroll?.(el.scrollTop + el.clientHeight >= el.scrollHeight - rowHeight);
    };
    el.addEventListener('scroll', f, { passive: true });
    return () => el.removeEventListener('scroll', f);
  }, [onUserScroll, rowHeight]);
  const [a, b] = visibleRange(top, height, rowHeight, items.length);
  return (
    <div ref={ref} className="vlist" style={{ height, overflowY: 'auto', position: 'relative' }}
      tabIndex={0} role="log" aria-label={label} data-testid="vlist">
      <div style={{ height: items.length * rowHeight, position: 'relative' }}>
        {items.slice(a, b).map((it, k) => (
          <div key={a + k} className="vrow" style={{ position: 'absolute', top: (a + k) * rowHeight, height: rowHeight, left: 0, right: 0 }}>
            {render(it, a + k)}
          </div>
        ))}
      </div>
    </div>
  );
}
