// Label and key conventions snapshotters and their callers share with containerd.
import { objectAdaptor, type Adaptor } from '@containerd-ts/filters';
import type { Info } from './types.js';

/** Keys of snapshots that layers are unpacked into start with this. */
export const UNPACK_KEY_PREFIX = 'extract';
/** Labels with this prefix are carried from a snapshot's options through prepare, view and commit. */
export const INHERITED_LABELS_PREFIX = 'containerd.io/snapshot/';
/** Label naming the committed snapshot a remote snapshotter should provide. */
export const LABEL_SNAPSHOT_REF = 'containerd.io/snapshot.ref';

/** An unpack key as containerd's UnpackKeyFormat: `extract-<unique> <chainID>`. */
export const unpackKey = (unique: string, chainID: string): string => `${UNPACK_KEY_PREFIX}-${unique} ${chainID}`;

/** The labels a snapshotter inherits: `containerd.io/snapshot/*` and `containerd.io/snapshot.ref`. */
export function filterInheritedLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const [k, v] of Object.entries(labels)) {
    if (k === LABEL_SNAPSHOT_REF || k.startsWith(INHERITED_LABELS_PREFIX)) out[k] = v;
  }
  return out;
}

/**
 * Fields of a snapshot for `walk` filters: `kind` (active, view, committed), `name`,
 * `parent` (present, '' when there is none) and `labels.<key>` (absent when the snapshot has no labels).
 */
export function adaptSnapshot(info: Pick<Info, 'kind' | 'name' | 'parent' | 'labels'>): Adaptor {
  const kind = info.kind === 'Unknown' ? undefined : info.kind.toLowerCase();
  return objectAdaptor(
    { kind, name: info.name, parent: info.parent },
    { maps: { labels: Object.keys(info.labels).length > 0 ? info.labels : undefined }, emptyIsAbsent: false },
  );
}
