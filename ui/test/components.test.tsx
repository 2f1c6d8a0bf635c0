import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { JsonEditor, jsonObjectError } from '../src/components/JsonEditor';
import { VirtualList, visibleRange } from '../src/components/VirtualList';
import { ErrorBox, RunSquares, StateBadge } from '../src/components/bits';
import { Gantt } from '../src/components/Gantt';
import { ApiError } from '../src/lib/api';
import type { Execution } from '../src/lib/types';

describe('JsonEditor', () => {
  it('accepts an object and refuses anything else before sending', () => {
    expect(jsonObjectError('{"a":1}')).toBeNull();
    expect(jsonObjectError('')).toBeNull();
    expect(jsonObjectError('[1]')).toMatch(/must be a JSON object/);
    expect(jsonObjectError('{"a":')).toMatch(/^Not valid JSON/);
  });
  it('shows the problem as the user types', () => {
    function Host() { const [v, setV] = useState('{}'); return <JsonEditor value={v} onChange={setV} label="Input" />; }
    render(<Host />);
    const box = screen.getByLabelText('Input');
    expect(screen.getByText('Valid JSON object.')).toBeTruthy();
    fireEvent.change(box, { target: { value: '{"limit": ' } });
    expect(box.getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByText(/Not valid JSON/)).toBeTruthy();
  });
});

describe('VirtualList', () => {
  it('computes the rows in view with overscan', () => {
    expect(visibleRange(0, 100, 20, 1000, 2)).toEqual([0, 7]);
    expect(visibleRange(2000, 100, 20, 1000, 2)).toEqual([98, 107]);
    expect(visibleRange(19990, 100, 20, 1000, 2)).toEqual([997, 1000]);
  });
  it('draws only a screenful of ten thousand rows', () => {
    const items = Array.from({ length: 10000 }, (_, i) => `line ${i}`);
    const { container } = render(<VirtualList items={items} rowHeight={20} height={200} render={(s) => <span>{s}</span>} />);
    const rows = container.querySelectorAll('.vrow');
    expect(rows.length).toBeLessThan(40);
    expect(rows[0].textContent).toBe('line 0');
    expect((container.querySelector('.vlist > div') as HTMLElement).style.height).toBe('200000px');
  });
});

describe('bits', () => {
  it('shows an API error in words', () => {
    render(<ErrorBox error={new ApiError(409, 'conflict', 'workflow w is paused')} title="Trigger refused" />);
    expect(screen.getByRole('alert').textContent).toBe('Trigger refused: workflow w is paused');
  });
  it('renders nothing without an error', () => {
    const { container } = render(<ErrorBox error={null} />);
    expect(container.innerHTML).toBe('');
  });
  it('colours badges and squares by state', () => {
    render(<><StateBadge state="RUNNING" /><RunSquares runs={[{ id: 'e1', workflowId: 'w', workflowVersion: 1, status: 'FAILED', trigger: 'manual', createdAt: '2026-12-07T03:00:00Z', startedAt: null, completedAt: null, error: null }]} /></>);
    expect(screen.getByText('RUNNING').className).toContain('st-RUNNING');
    expect(screen.getByLabelText('run e1 FAILED').className).toContain('st-FAILED');
  });
});

describe('Gantt', () => {
  it('draws a bar per attempt and calls back with the task clicked', () => {
    const T = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
    const a = (n: number, st: string, s: number, e: number) => ({ attempt: n, status: st, startedAt: T(s), completedAt: T(e), durationMs: 1, httpStatus: 500, exitCode: null, error: null });
    const exec: Execution = { id: 'e', workflowId: 'w', workflowVersion: 1, status: 'SUCCESS', trigger: 'manual', params: {}, createdAt: T(0), startedAt: T(0), completedAt: T(5), error: null,
      tasks: [{ taskId: 'x', type: 'http', state: 'SUCCESS', attempt: 3, skipReason: null, output: null, error: null, startedAt: T(4), finishedAt: T(5), attempts: [a(1, 'FAILED', 0, 1), a(2, 'FAILED', 2, 3), a(3, 'SUCCESS', 4, 5)] }] };
    const pick = vi.fn();
    const { container } = render(<Gantt exec={exec} specs={[{ id: 'x', type: 'http' }]} width={600} now={0} onSelect={pick} />);
    const bars = container.querySelectorAll('rect.bar[data-task=x]');
    expect(bars).toHaveLength(3);
    expect(container.querySelectorAll('line.wait')).toHaveLength(2);
    fireEvent.click(bars[2]);
    expect(pick).toHaveBeenCalledWith('x');
  });
});
