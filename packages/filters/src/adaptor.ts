// Adaptors expose an object's fields to filters by field path (["labels", "a.b"], ["target", "digest"]).

/** Resolves a field path to its value; `undefined` means the field is absent. */
export interface Adaptor {
  field(path: readonly string[]): string | undefined;
}

/** An Adaptor from a plain lookup function. */
export function adapt(lookup: (path: readonly string[]) => string | undefined): Adaptor {
  return { field: lookup };
}

/** A string map such as labels or annotations, as a plain record or a Map. */
export type StringMap = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** What objectAdaptor can resolve: strings, nested records of them, or other adaptors. */
export type FieldValue = string | FieldTree | Adaptor | null | undefined;
export interface FieldTree {
  readonly [name: string]: FieldValue;
}

export interface ObjectAdaptorOptions {
  /**
   * Label-like maps by top-level name. The rest of the path is joined with "." to form the key,
   * so `labels.a.b` and `labels."a.b"` both look up "a.b". An entry is present even if its value is ''.
   */
  readonly maps?: Readonly<Record<string, StringMap | null | undefined>>;
  /**
   * Whether an empty string field counts as absent. Default true, as most of containerd's
   * adaptors (images, containers, leases, plugins, events); snapshots and content say false.
   */
  readonly emptyIsAbsent?: boolean;
}

function lookupMap(map: StringMap | null | undefined, key: string): string | undefined {
  if (!map) return undefined;
  if (map instanceof Map) return map.get(key);
  const record = map as Readonly<Record<string, string>>;
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

const isAdaptor = (value: FieldTree | Adaptor): value is Adaptor =>
  typeof (value as { field?: unknown }).field === 'function';

/** An Adaptor over a string map: the whole path, joined with ".", is the key. */
export function mapAdaptor(map: StringMap | null | undefined): Adaptor {
  return { field: (path) => lookupMap(map, path.join('.')) };
}

/**
 * An Adaptor over a plain view of an object, e.g. for a container:
 *
 *     objectAdaptor({ id: c.id, image: c.image, runtime: { name: c.runtime.name } }, { maps: { labels: c.labels } })
 *
 * Nested records resolve dotted paths (`runtime.name`); a nested Adaptor receives the rest of
 * the path (an event envelope hands `event.*` to the event's own adaptor). Own properties only,
 * so `labels.constructor` or `__proto__` never resolve to something inherited.
 */
export function objectAdaptor(fields: FieldTree, options: ObjectAdaptorOptions = {}): Adaptor {
  const emptyIsAbsent = options.emptyIsAbsent ?? true;
  const maps = options.maps ?? {};
  const resolve = (tree: FieldTree, path: readonly string[]): string | undefined => {
    const [head, ...rest] = path;
    if (head === undefined || !Object.hasOwn(tree, head)) return undefined;
    const value = tree[head];
    if (value === null || value === undefined) return undefined;
    if (typeof value === 'string') {
      if (rest.length > 0) return undefined;
      return emptyIsAbsent && value === '' ? undefined : value;
    }
    if (isAdaptor(value)) return value.field(rest);
    return rest.length > 0 ? resolve(value, rest) : undefined;
  };
  return {
    field(path) {
      const [head, ...rest] = path;
      if (head !== undefined && Object.hasOwn(maps, head)) return lookupMap(maps[head], rest.join('.'));
      return resolve(fields, path);
    },
  };
}
