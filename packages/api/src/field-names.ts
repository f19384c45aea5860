// Converts decoded messages between the generated camelCase keys and the .proto field
// names (snake_case) that containerd's filters and Go JSON output use.

// Every map field in the API has one of these names; their keys are data, not field
// names, so they are never renamed. A test checks this list against the .proto files.
export const MAP_FIELD_NAMES: ReadonlySet<string> = new Set(['labels', 'annotations', 'exports', 'extensions', 'payloads']);

const camelToSnake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const snakeToCamel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof Uint8Array);

function rename(value: unknown, renameKey: (key: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => rename(v, renameKey));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const name = renameKey(key);
    if (MAP_FIELD_NAMES.has(name) && isPlainObject(v)) {
      const entries: Record<string, unknown> = {};
      for (const [k, entry] of Object.entries(v)) entries[k] = rename(entry, renameKey);
      out[name] = entries;
    } else {
      out[name] = rename(v, renameKey);
    }
  }
  return out;
}

/** A decoded message with its keys renamed to .proto field names (`containerId` → `container_id`). */
export function toProtoFieldNames(message: unknown): Record<string, unknown> {
  const renamed = rename(message, camelToSnake);
  return isPlainObject(renamed) ? renamed : {};
}

/** The inverse: an object keyed by .proto field names, renamed to the generated keys. */
export function fromProtoFieldNames(fields: unknown): Record<string, unknown> {
  const renamed = rename(fields, snakeToCamel);
  return isPlainObject(renamed) ? renamed : {};
}
