// A JSON text area that says what is wrong before anything is sent.
import { useId } from 'react';

/** null when text is a JSON object (or empty), else the parser's words. */
export function jsonObjectError(text: string): string | null {
  if (!text.trim()) return null;
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'The input must be a JSON object, like {"limit": 3}.';
    return null;
  } catch (e) {
    return `Not valid JSON: ${(e as Error).message}`;
  }
}

export function JsonEditor({ value, onChange, label }: { value: string; onChange: (v: string) => void; label: string }) {
  const id = useId();
  const err = jsonObjectError(value);
  return (
    <div className="jsoned">
      <label htmlFor={id}>{label}</label>
      <textarea id={id} value={value} spellCheck={false} rows={6} onChange={(e) => onChange(e.target.value)}
        aria-invalid={!!err} aria-describedby={`${id}-e`} className={err ? 'bad' : ''} />
      <div id={`${id}-e`} className={err ? 'field-err' : 'muted small'}>{err ?? 'Valid JSON object.'}</div>
    </div>
  );
}
