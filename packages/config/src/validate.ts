// Turns zod issues into one-line messages naming the file, the full TOML key path and,
// for a misspelled key, the closest known key.
import type { z } from 'zod';
import { PARSE_ONCE } from './schema.js';

/** A config problem that stops the daemon; `message` is one line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const bareKey = /^[A-Za-z0-9_-]+$/;

/** Formats a key path as TOML writes it: `plugins."io.containerd.gc.v1.scheduler".pause_threshold`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else {
      const s = String(seg);
      out += (out ? '.' : '') + (bareKey.test(s) ? s : JSON.stringify(s));
    }
  }
  return out;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The known key closest to `key`, when it is close enough to be a typo. */
export function suggestKey(key: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = levenshtein(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  const limit = Math.max(2, Math.floor(key.length / 3));
  return bestDistance <= limit ? best : undefined;
}

interface ZodDefLike {
  type?: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  valueType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
}
const defOf = (schema: z.ZodType): ZodDefLike => (schema as unknown as { _zod: { def: ZodDefLike } })._zod.def;

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else return s;
  }
}

/** The keys an object schema accepts at `path` (empty when it is not an object). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = unwrap(schema);
  for (const seg of path) {
    if (!s) return [];
    const def = defOf(s);
    if (def.shape) s = def.shape[String(seg)];
    else if (def.valueType) s = def.valueType;
    else if (def.element) s = def.element;
    else return [];
    if (s) s = unwrap(s);
  }
  const shape = s ? defOf(s).shape : undefined;
  return shape ? Object.keys(shape) : [];
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return v;
}

const tomlTypeName = (v: unknown): string => {
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'datetime';
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'object') return 'table';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'float';
  if (typeof v === 'bigint') return 'integer';
  return typeof v;
};

/**
 * Validates `value` with `schema`; on failure throws a ConfigError for the first issue:
 * `<file>: unknown key <path> (did you mean "<key>"?)` or `<file>: <path>: expected …, got …`.
 * `prefix` is prepended to issue paths (for plugin sections validated on their own).
 */
export function validateWith<T extends z.ZodType>(
  schema: T,
  value: unknown,
  file: string,
  prefix: readonly PropertyKey[] = [],
): z.output<T> {
  const result = schema.safeParse(value, PARSE_ONCE);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const suggestion = suggestKey(key, knownKeysAt(schema, path));
    const hint = suggestion ? ` (did you mean "${suggestion}"?)` : '';
    throw new ConfigError(`${file}: unknown key ${formatKeyPath([...prefix, ...path, key])}${hint}`);
  }
  const where = formatKeyPath([...prefix, ...path]) || '(top level)';
  const got = valueAt(value, path);
  if (issue.code === 'invalid_type') {
    throw new ConfigError(`${file}: ${where}: expected ${issue.expected}, got ${tomlTypeName(got)}`);
  }
  if (issue.code === 'invalid_value') {
    const allowed = issue.values.map((v) => JSON.stringify(v)).join(', ');
    throw new ConfigError(`${file}: ${where}: expected one of ${allowed}, got ${JSON.stringify(got)}`);
  }
  throw new ConfigError(`${file}: ${where}: ${issue.message}`);
}
