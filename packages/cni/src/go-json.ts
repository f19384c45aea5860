// encoding/json's Marshal of a decoded document (map[string]interface{}), as libcni writes
// the configuration a plugin reads and the result it caches: every object a Go map (keys
// sorted by their UTF-8 bytes), with Go's HTML-safe string escapes.
import { GoMap, goMarshal } from '@containerd-ts/client';

const asGoValue = (v: unknown): unknown =>
  Array.isArray(v) ? v.map(asGoValue) : typeof v === 'object' && v !== null ? new GoMap(Object.entries(v).map(([k, x]): [string, unknown] => [k, asGoValue(x)])) : v;

/** The bytes json.Marshal writes for a value json.Unmarshal gave (objects as Go maps). */
export const marshalSorted = (value: unknown): string => goMarshal(asGoValue(value));
