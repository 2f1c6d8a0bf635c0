// The one door to loom-api: fetch with the bearer token kept in the
// browser, and errors turned into words from the API's JSON error body.

export const TOKEN_KEY = 'loom.token';

export function getToken(): string {
  try { return localStorage.getItem(TOKEN_KEY) ?? ''; } catch { return ''; }
}

export function setToken(t: string): void {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage refused: the token lasts for this page only */ }
  listeners.forEach((f) => f());
}

const listeners = new Set<() => void>();
export function onTokenChange(f: () => void): () => void {
  listeners.add(f);
  return () => { listeners.delete(f); };
}

export class ApiError extends Error {
  status: number; code: string; field: string | null; details?: unknown;
  constructor(status: number, code: string, message: string, field: string | null = null, details?: unknown) {
    super(message); this.status = status; this.code = code; this.field = field; this.details = details;
  }
}

/** Words for an error answer: the API's own message, with what to do. */
export function describeError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string; field?: string | null; details?: unknown } } | null)?.error;
  let msg = e?.message ?? `HTTP ${status}`;
  const code = e?.code ?? (status === 0 ? 'network' : 'http');
  if (status === 401) msg = `Not signed in: ${msg}. Enter a valid API token (Token, top right).`;
  else if (status === 403) msg = `Not allowed: ${msg}. This token's scope is too low.`;
  if (Array.isArray(e?.details)) {
    const lines = (e!.details as { line?: number; column?: number; message?: string }[])
      .map((d) => (d.line ? `line ${d.line}:${d.column ?? 0}: ` : '') + (d.message ?? JSON.stringify(d)));
    if (lines.length) msg += '\n' + lines.join('\n');
  }
  return new ApiError(status, code, msg, e?.field ?? null, e?.details);
}

export function authHeaders(extra: Record<string, string> = {}): Record<string, string> {
  const t = getToken();
  return t ? { ...extra, Authorization: `Bearer ${t}` } : extra;
}

let online = true;
const netListeners = new Set<(up: boolean) => void>();
export function onConnectivity(f: (up: boolean) => void): () => void {
  netListeners.add(f);
  return () => { netListeners.delete(f); };
}
export function setOnline(up: boolean): void {
  if (up === online) return;
  online = up;
  netListeners.forEach((f) => f(up));
}

export async function api<T>(path: string, init: RequestInit & { json?: unknown } = {}): Promise<T> {
  const headers: Record<string, string> = authHeaders(init.headers as Record<string, string> | undefined);
  let body = init.body;
  if (init.json !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(init.json); }
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers, body });
  } catch (err) {
    setOnline(false);
    throw new ApiError(0, 'network', `Cannot reach loom-api (${(err as Error).message}).`);
  }
  setOnline(true);
  const text = await res.text();
  let data: unknown = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    if (data === null && text) throw new ApiError(res.status, 'http', `HTTP ${res.status}: ${text.slice(0, 200)}`);
    throw describeError(res.status, data);
  }
  return data as T;
}

export const enc = encodeURIComponent;
