// Label rules shared by every record type, the garbage collector's labels, and the
// error wrapping containerd does with `fmt.Errorf("…: %w", err)`.
import { ContainerdError, invalidArgument } from '@containerd-ts/errdefs';

const maxLabelSize = 4096;

/** containerd's labels.Validate: key and value together at most 4096 bytes. */
export function validateLabels(labels: Readonly<Record<string, string>> | undefined, field: string): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (Buffer.byteLength(k) + Buffer.byteLength(v) > maxLabelSize) {
      throw invalidArgument(
        `${field}: label key and value greater than maximum size (${maxLabelSize} bytes), key: ${k.length > 10 ? k.slice(0, 10) : k}`,
      );
    }
  }
}

/** Labels as stored: entries with an empty value are removed, as containerd's WriteLabels does. */
export function storedLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) if (v !== '') out[k] = v;
  return out;
}

/** An error of the same class as `err` with `prefix: ` before its message (Go's %w wrapping). */
/**
 * One field path of an update that names labels, applied to `labels`: `labels` replaces
 * them with `given`, `labels.<key>` sets that key from `given` (empty when absent, which
 * storedLabels then drops). Undefined when `path` is about something else.
 */
export function applyLabelPath(
  labels: Readonly<Record<string, string>>,
  path: string,
  given: Readonly<Record<string, string>> | undefined,
): Record<string, string> | undefined {
  if (path === 'labels') return { ...(given ?? {}) };
  if (!path.startsWith('labels.')) return undefined;
  const key = path.slice('labels.'.length);
  return { ...labels, [key]: given?.[key] ?? '' };
}

/**
 * The labels after an update of an object whose only mutable field is its labels: every
 * path of `fieldpaths` applied in order, or all of `given` when none is named. Any other
 * path is `cannot update "<path>" field on <what>` (invalid argument), as containerd says.
 */
export function updatedLabels(
  current: Readonly<Record<string, string>> | undefined,
  given: Readonly<Record<string, string>> | undefined,
  fieldpaths: readonly string[],
  what: string,
): Record<string, string> {
  if (fieldpaths.length === 0) return { ...(given ?? {}) };
  let labels: Record<string, string> = { ...(current ?? {}) };
  for (const path of fieldpaths) {
    const next = applyLabelPath(labels, path, given);
    if (!next) throw invalidArgument(`cannot update ${JSON.stringify(path)} field on ${what}`);
    labels = next;
  }
  return labels;
}

/** The value under `key` in a stored label map (own keys only: `constructor` is not a label). */
export const labelValue = (map: Readonly<Record<string, string>> | undefined, key: string): string | undefined =>
  map && Object.hasOwn(map, key) ? map[key] : undefined;

/** A label or annotation key in a filter's field path: the rest of the path, joined as containerd joins it. */
export const labelKeyOf = (path: readonly string[]): string => (path.length === 2 ? path[1]! : path.slice(1).join('.'));

export function wrapError(prefix: string, err: unknown): unknown {
  if (!(err instanceof ContainerdError)) return err;
  const wrapped = new ContainerdError(err.kind, undefined, { cause: err });
  wrapped.message = `${prefix}: ${err.message}`;
  return wrapped;
}

/** Labels the garbage collector reads. */
export const GCLabel = {
  /** On content or a snapshot: a root of its own. */
  root: 'containerd.io/gc.root',
  /** `containerd.io/gc.ref.content[.<name>|/<name>]` = digest: references content. */
  contentRef: 'containerd.io/gc.ref.content',
  /** `containerd.io/gc.ref.snapshot.<snapshotter>[/<name>]` = key: references a snapshot. */
  snapshotRefPrefix: 'containerd.io/gc.ref.snapshot.',
  /** On a lease: RFC 3339 time after which the lease no longer holds anything. */
  expire: 'containerd.io/gc.expire',
  /** On a lease: hold resources without following their references (parents only for snapshots). */
  flat: 'containerd.io/gc.flat',
} as const;
