// Server-sent events over fetch (EventSource cannot send a bearer token):
// a parser (pure, tested) and a client that resumes after a lost
// connection with Last-Event-ID, so nothing is seen twice or missed.

import { authHeaders, setOnline } from './api';

export interface SseMessage { id?: string; event: string; data: string }

/** Feeds text; returns the complete messages and keeps the rest. */
export class SseParser {
  private buf = '';
  private id: string | undefined;
  private event = '';
  private data: string[] = [];
  lastId: string | undefined;
  retry: number | undefined;

  push(chunk: string): SseMessage[] {
    this.buf += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === '') {
        if (this.data.length) {
          const msg: SseMessage = { event: this.event || 'message', data: this.data.join('\n') };
          if (this.id !== undefined) { msg.id = this.id; this.lastId = this.id; }
          out.push(msg);
        }
        this.id = undefined; this.event = ''; this.data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id') this.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value);
    }
    return out;
  }
}

export interface StreamOptions {
  onMessage: (m: SseMessage) => void;
  onEnd?: () => void;               // the server ended the stream for good (event: end)
  onState?: (connected: boolean) => void;
  onError?: (err: Error & { status?: number; body?: unknown }) => void;
}

/**
 * Follows url until stop() is called or an "end" message comes.  A
 * dropped connection is retried (retry: from the server, else 2 s) with
 * Last-Event-ID set to the last id seen.
 */
export function openStream(url: string, opt: StreamOptions): { stop: () => void } {
  let stopped = false;
  let lastId: string | undefined;
  let ctrl: AbortController | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let delay = 2000;

  const run = async () => {
    if (stopped) return;
    ctrl = new AbortController();
    const parser = new SseParser();
    let ended = false;
    try {
      const headers = authHeaders({ Accept: 'text/event-stream' });
      if (lastId !== undefined) headers['Last-Event-ID'] = lastId;
      const res = await fetch(url, { headers, signal: ctrl.signal, cache: 'no-store' });
      setOnline(true);
      if (!res.ok || !res.body) {
        let body: unknown = null;
        try { body = await res.json(); } catch { /* not JSON */ }
        const err = Object.assign(new Error(`HTTP ${res.status}`), { status: res.status, body });
        opt.onError?.(err);
        if (res.status >= 400 && res.status < 500) { stopped = true; return; }
        throw err;
      }
      opt.onState?.(true);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.push(dec.decode(value, { stream: true }))) {
          if (m.id !== undefined) lastId = m.id;
          if (m.event === 'end') ended = true;
          opt.onMessage(m);
        }
        if (parser.retry) delay = parser.retry;
      }
    } catch (err) {
      if (stopped) return;
      if ((err as Error).name !== 'AbortError') setOnline(false);
    }
    if (stopped) return;
    if (ended) { stopped = true; opt.onEnd?.(); return; }
    opt.onState?.(false);
    timer = setTimeout(run, delay);
  };
  void run();
  return {
    stop: () => { stopped = true; clearTimeout(timer); ctrl?.abort(); },
  };
}
