// Listing the JSON records stored under a prefix and keyed by name (images by name, leases
// by ID), filtered as containerd filters them. One adaptor serves the whole list and reads
// the record at hand; since the name is the key, a filter that rejects by name never
// decodes the record (a filter that builds an adaptor and two closures per record costs a
// first list after a quiet spell ~20 % more here).
import { adapt, always, type Filter } from '@containerd-ts/filters';
import type { LevelStore } from './store.js';

/**
 * The value of field `path` for the record named `name`; `record()` decodes the record
 * (once, whatever the number of calls).
 */
export type RecordField<R> = (path: readonly string[], name: string, record: () => R) => string | undefined;

/**
 * Calls `emit` with the name and decoded record of each committed entry under `prefix`
 * that `filter` matches, in key order, as it is read.
 */
export async function eachMatching<R>(
  store: LevelStore,
  prefix: string,
  filter: Filter,
  field: RecordField<R>,
  emit: (name: string, record: R) => void,
): Promise<void> {
  if (filter === always) {
    for await (const batch of store.batches(prefix)) {
      for (const [key, value] of batch) emit(key.slice(prefix.length), JSON.parse(value) as R);
    }
    return;
  }
  let name = '';
  let value = '';
  let decoded: R | undefined;
  const record = (): R => {
    decoded ??= JSON.parse(value) as R;
    return decoded;
  };
  const adaptor = adapt((path) => field(path, name, record));
  for await (const batch of store.batches(prefix)) {
    for (const [key, v] of batch) {
      name = key.slice(prefix.length);
      value = v;
      decoded = undefined;
      if (filter.match(adaptor)) emit(name, record());
    }
  }
}
