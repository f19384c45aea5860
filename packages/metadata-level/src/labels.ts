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
