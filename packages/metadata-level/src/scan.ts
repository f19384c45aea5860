// Listing the records stored under a prefix and keyed by name (images by name, leases by
// ID), filtered as containerd filters them. One adaptor serves the whole list and reads
// the record at hand; since the name is the key, a filter that rejects by name never
// decodes the record (a filter that builds an adaptor and two closures per record costs a
// first list after a quiet spell ~20 % more here). A record that cannot match a label
// equality (it lacks the label as its format writes it) is not decoded either.
import { AllOf, AnyOf, adapt, always, type Filter, Selector } from '@containerd-ts/filters';
import { labelKeyOf } from './labels.js';
import type { LevelStore } from './store.js';

/**
 * The value of field `path` for the record named `name`; `record()` decodes the record
 * (once, whatever the number of calls).
 */
export type RecordField<R> = (path: readonly string[], name: string, record: () => R) => string | undefined;

/** How the records under a prefix are stored. */
export interface RecordFormat<R> {
  decode(stored: string): R;
  /** What a stored record holding label `key` = `value` contains, wherever the label map is. */
  labelBytes(key: string, value: string): string;
}

/** Records stored as JSON: a label is `"<key>":"<value>"` as JSON.stringify writes the label map. */
export const jsonRecords: RecordFormat<never> = {
  decode: (stored) => JSON.parse(stored) as never,
  labelBytes: (key, value) => `${JSON.stringify(key)}:${JSON.stringify(value)}`,
};

/**
 * Strings a stored record must contain for `filter` to match it, as alternatives (any one
 * of them, with all its strings): an equality on a label, `labels.<key>==<value>`, needs
 * the label as `format` stores it. It is a necessary condition only — the strings may stand
 * in another field — so a record that has them is decoded and filtered as usual. Undefined
 * when some alternative needs no string (every record must then be decoded).
 */
export function requiredStrings(filter: Filter, format: Pick<RecordFormat<unknown>, 'labelBytes'> = jsonRecords): string[][] | undefined {
  const alternatives = filter instanceof AnyOf ? filter.filters : [filter];
  const out: string[][] = [];
  for (const alternative of alternatives) {
    const selectors = alternative instanceof AllOf ? alternative.filters : [alternative];
    const needles: string[] = [];
    for (const s of selectors) {
      if (!(s instanceof Selector) || s.operator !== '==' || s.value === '') continue;
      if (s.fieldpath[0] !== 'labels' || s.fieldpath.length < 2) continue;
      needles.push(format.labelBytes(labelKeyOf(s.fieldpath), s.value));
    }
    if (needles.length === 0) return undefined;
    out.push(needles);
  }
  return out.length > 0 ? out : undefined;
}

/** Whether `stored` holds every string of some alternative of `required` (no closure per record). */
function mayMatch(stored: string, required: readonly string[][]): boolean {
  for (const all of required) {
    let found = true;
    for (const needle of all) {
      if (!stored.includes(needle)) {
        found = false;
        break;
      }
    }
    if (found) return true;
  }
  return false;
}

/**
 * Calls `emit` with the name, the stored record and a function that decodes it (once,
 * whatever the number of calls; valid during the call only) of each committed entry under
 * `prefix` that `filter` matches, in key order, as it is read.
 */
export async function eachMatching<R>(
  store: LevelStore,
  prefix: string,
  filter: Filter,
  field: RecordField<R>,
  emit: (name: string, stored: string, record: () => R) => void,
  format: RecordFormat<R> = jsonRecords,
): Promise<void> {
  let name = '';
  let value = '';
  let decoded: R | undefined;
  const record = (): R => {
    decoded ??= format.decode(value);
    return decoded;
  };
  if (filter === always) {
    for await (const batch of store.batches(prefix)) {
      for (const [key, v] of batch) {
        value = v;
        decoded = undefined;
        emit(key.slice(prefix.length), v, record);
      }
    }
    return;
  }
  const adaptor = adapt((path) => field(path, name, record));
  const required = requiredStrings(filter, format);
  for await (const batch of store.batches(prefix)) {
    for (const [key, v] of batch) {
      if (required && !mayMatch(v, required)) continue;
      name = key.slice(prefix.length);
      value = v;
      decoded = undefined;
      if (filter.match(adaptor)) emit(name, v, record);
    }
  }
}
