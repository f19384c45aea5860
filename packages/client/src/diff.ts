// The diff of snapshots as containerd's client makes it (`ctr snapshots diff`, a
// checkpoint's writable layer): the snapshots are handed to the daemon's diff service as
// mounts — an active snapshot's own, a committed one through a temporary view — and the
// layer it writes into the content store is described by the returned descriptor.
import { DiffService } from '@containerd-ts/api/services/diff';
import { Kind, SnapshotsService } from '@containerd-ts/api/services/snapshots';
import type { Mount } from '@containerd-ts/api/types/mount';
import type { CallContext, Connection } from './connection.js';
import type { Descriptor } from './images.js';
import { uniquePart } from './lease.js';

export interface DiffOptions {
  /** The layer's media type (the differ's default, gzip, when empty). */
  mediaType?: string;
  /** The content upload reference the differ writes under. */
  ref?: string;
  /** Labels of the layer's content record. */
  labels?: Record<string, string>;
}

/** The mounts of snapshot `key` of `kind` for `f`: its own when active, else a view (`viewKey`) removed after. */
async function mountsOf<T>(
  conn: Connection,
  snapshotter: string,
  key: string,
  kind: Kind | undefined,
  viewKey: string,
  ctx: CallContext,
  f: (mounts: Mount[]) => Promise<T>,
): Promise<T> {
  if (kind === Kind.ACTIVE) return f((await conn.unary(SnapshotsService.mounts, { snapshotter, key }, ctx)).mounts);
  const { mounts } = await conn.unary(SnapshotsService.view, { snapshotter, key: viewKey, parent: key, labels: {} }, ctx);
  try {
    return await f(mounts);
  } finally {
    await conn.unary(SnapshotsService.remove, { snapshotter, key: viewKey }, ctx).catch(() => {});
  }
}

/** ctr's withMounts: snapshot `key` stated, then its mounts for `f` (a committed one through `<key>-view-key`). */
async function withMounts<T>(conn: Connection, snapshotter: string, key: string, ctx: CallContext, f: (mounts: Mount[]) => Promise<T>): Promise<T> {
  const { info } = await conn.unary(SnapshotsService.stat, { snapshotter, key }, ctx);
  return mountsOf(conn, snapshotter, key, info?.kind, `${key}-view-key`, ctx, f);
}

/** DiffService.Compare: the layer that turns `left` into `right`. */
async function compareMounts(conn: Connection, left: Mount[], right: Mount[], opts: DiffOptions, ctx: CallContext): Promise<Descriptor> {
  const { diff } = await conn.unary(
    DiffService.diff,
    { left, right, mediaType: opts.mediaType ?? '', ref: opts.ref ?? '', labels: opts.labels ?? {} },
    ctx,
  );
  return { mediaType: diff?.mediaType ?? '', digest: diff?.digest ?? '', size: diff?.size ?? 0, annotations: diff?.annotations };
}

/**
 * rootfs.CreateDiff: snapshot `key` (active or committed) against a view of its parent.
 * The layer is in the content store under `ctx.lease` if there is one.
 */
export async function createDiff(conn: Connection, snapshotter: string, key: string, opts: DiffOptions = {}, ctx: CallContext = {}): Promise<Descriptor> {
  const { info } = await conn.unary(SnapshotsService.stat, { snapshotter, key }, ctx);
  const parent = info?.parent ?? '';
  const lowerKey = `${parent}-parent-view-${uniquePart()}`;
  const lower = await conn.unary(SnapshotsService.view, { snapshotter, key: lowerKey, parent, labels: {} }, ctx);
  try {
    return await mountsOf(conn, snapshotter, key, info?.kind, `${key}-view-${uniquePart()}`, ctx, (upper) => compareMounts(conn, lower.mounts, upper, opts, ctx));
  } finally {
    await conn.unary(SnapshotsService.remove, { snapshotter, key: lowerKey }, ctx).catch(() => {});
  }
}

/** The layer that turns snapshot `a` into snapshot `b` (each active or committed), as `ctr snapshots diff A B` makes it. */
export async function compareSnapshots(conn: Connection, snapshotter: string, a: string, b: string, opts: DiffOptions = {}, ctx: CallContext = {}): Promise<Descriptor> {
  return withMounts(conn, snapshotter, a, ctx, (left) => withMounts(conn, snapshotter, b, ctx, (right) => compareMounts(conn, left, right, opts, ctx)));
}
