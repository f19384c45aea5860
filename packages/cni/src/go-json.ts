// encoding/json's Marshal of a decoded document (map[string]interface{}), as libcni writes
// the configuration a plugin reads and the result it caches: object keys sorted by their
// UTF-8 bytes at every level, Go's HTML-safe string escapes.
import { compareUtf8 } from '@containerd-ts/string-order';

const escapeString = (s: string) =>
  JSON.stringify(s).replace(/\\([\s\S])|[<>&\u2028\u2029]/g, (m, escaped: string | undefined) => {
    if (escaped === undefined) return `\\u${m.charCodeAt(0).toString(16).padStart(4, '0')}`;
    if (escaped === 'b') return '\\u0008';
    if (escaped === 'f') return '\\u000c';
    return m;
  });

/** The bytes json.Marshal writes for a value json.Unmarshal gave (objects as Go maps). */
export function marshalSorted(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return escapeString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(marshalSorted).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort(compareUtf8);
  return `{${keys.map((k) => `${escapeString(k)}:${marshalSorted(obj[k])}`).join(',')}}`;
}
