import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, onTokenChange } from './api';
import { openStream, type SseMessage } from './sse';

export interface Loaded<T> { data: T | null; error: ApiError | null; loading: boolean; reload: () => void }

/** GETs path (null: nothing), again on reload() and when the token changes. */
export function useApi<T>(path: string | null, deps: unknown[] = []): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(!!path);
  const [n, setN] = useState(0);
  const reload = useCallback(() => setN((x) => x + 1), []);
  useEffect(() => onTokenChange(reload), [reload]);
  useEffect(() => {
    if (!path) { setData(null); setLoading(false); return; }
    let live = true;
    setLoading(true);
    api<T>(path).then(
      (d) => { if (live) { setData(d); setError(null); setLoading(false); } },
      (e: ApiError) => { if (live) { setError(e); setLoading(false); } });
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [path, n, ...deps]);
  return { data, error, loading, reload };
}

/** Calls f at most every ms milliseconds (the last call always runs). */
export function useThrottle(f: () => void, ms: number): () => void {
  const ref = useRef(f);
  ref.current = f;
  const t = useRef<ReturnType<typeof setTimeout> | null>(null);
  const last = useRef(0);
  useEffect(() => () => { if (t.current) clearTimeout(t.current); }, []);
  return useCallback(() => {
    if (t.current) return;
    const wait = Math.max(0, last.current + ms - Date.now());
    t.current = setTimeout(() => { t.current = null; last.current = Date.now(); ref.current(); }, wait);
  }, [ms]);
}

/**
 * Follows an event stream while mounted (url null: none); a new restart
 * value follows it again (an execution's stream ends with the run, and a
 * run that is retried or rerun starts over).
 */
export function useStream(url: string | null, onMessage: (m: SseMessage) => void, onEnd?: () => void, restart = 0): { connected: boolean; error: string | null } {
  const cb = useRef(onMessage); cb.current = onMessage;
  const endCb = useRef(onEnd); endCb.current = onEnd;
  const [connected, setConnected] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tok, setTok] = useState(0);
  useEffect(() => onTokenChange(() => setTok((x) => x + 1)), []);
  useEffect(() => {
    if (!url) return;
    setError(null);
    const s = openStream(url, {
      onMessage: (m) => cb.current(m),
      onEnd: () => { setConnected(false); endCb.current?.(); },
      onState: setConnected,
      onError: (e) => {
        const body = e.body as { error?: { message?: string } } | null;
        setError(body?.error?.message ?? e.message);
      },
    });
    return () => s.stop();
  }, [url, tok, restart]);
  return { connected, error };
}

const TERMINAL = ['SUCCESS', 'FAILED', 'CANCELLED'];

/**
 * For an execution's stream: a restart value that changes when the stream
 * has ended but the run is live again (retry, rerun, replay) or kick
 * changes, and the onEnd to give useStream.
 */
export function useRestartOnRevive(status: string | undefined, kick = 0): { restart: number; ended: boolean; onEnded: () => void } {
  const [ended, setEnded] = useState(false);
  const [restart, setRestart] = useState(0);
  useEffect(() => {
    if (ended && status && !TERMINAL.includes(status)) { setEnded(false); setRestart((n) => n + 1); }
  }, [ended, status]);
  // kick: this page just asked for a retry or rerun, which may be over
  // before the run's status is read again; follow it again anyway
  useEffect(() => {
    if (kick) { setEnded(false); setRestart((n) => n + 1); }
  }, [kick]);
  const onEnded = useCallback(() => setEnded(true), []);
  return { restart, ended, onEnded };
}

export function useNow(ms: number, on = true): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!on) return;
    const t = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(t);
  }, [ms, on]);
  return now;
}
