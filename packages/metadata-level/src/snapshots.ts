// What the garbage collector needs from a snapshotter to remove snapshots that no
// namespace references any more. The snapshot metadata layer (a later package) stores
// SnapshotRecords under `v1/<ns>/snapshots/<snapshotter>/<key>`; this is the backend side.
import type { RequestContext } from '@containerd-ts/namespaces';

export interface SnapshotGCInfo {
  /** Key of the snapshot in the backend. */
  name: string;
  /** Backend key of its parent ('' or absent for none). */
  parent?: string;
}

/**
 * The part of a snapshotter the collector uses. Shaped like containerd's Snapshotter
 * (Walk, Remove, optional Cleanup) so a snapshotter satisfies it as is.
 */
export interface SnapshotGCBackend {
  walk(ctx: RequestContext, fn: (info: SnapshotGCInfo) => void | Promise<void>): Promise<void>;
  remove(ctx: RequestContext, key: string): Promise<void>;
  cleanup?(ctx: RequestContext): Promise<void>;
}

/** Whether a plugin instance can be collected through SnapshotGCBackend. */
export function isSnapshotGCBackend(value: unknown): value is SnapshotGCBackend {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.walk === 'function' && typeof v.remove === 'function';
}
