// A snapshotter served by another process over containerd.services.snapshots.v1.Snapshots,
// as containerd's proxy snapshotter: every request names the proxy (the `snapshotter`
// field) and carries the caller's namespace and lease; gRPC errors come back as errdefs.
import {
  type Info as ApiInfo,
  Kind as ApiKind,
  SnapshotsService,
} from '@containerd-ts/api/services/snapshots';
import type { Mount as ApiMount } from '@containerd-ts/api/types/mount';
import { parseAll } from '@containerd-ts/filters';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Timestamp } from '@containerd-ts/timestamp';
import {
  type Info,
  type InfoUpdate,
  Kind,
  type Mount,
  type SnapshotOptions,
  type Snapshotter,
  type Usage,
  type WalkFn,
} from '@containerd-ts/snapshots';
import type { ProxyConnection } from './connection.js';

// As containerd's proxy: anything neither active nor view is committed, both ways.
const fromApiKind = (kind: ApiKind): Info['kind'] =>
  kind === ApiKind.ACTIVE ? Kind.Active : kind === ApiKind.VIEW ? Kind.View : Kind.Committed;
const toApiKind = (kind: Info['kind'] | undefined): ApiKind =>
  kind === Kind.Active ? ApiKind.ACTIVE : kind === Kind.View ? ApiKind.VIEW : ApiKind.COMMITTED;

const epoch = (): Timestamp => ({ seconds: 0, nanos: 0 });

const fromApiInfo = (info: ApiInfo | undefined): Info => ({
  kind: fromApiKind(info?.kind ?? ApiKind.UNKNOWN),
  name: info?.name ?? '',
  parent: info?.parent ?? '',
  labels: { ...(info?.labels ?? {}) },
  created: info?.createdAt ?? epoch(),
  updated: info?.updatedAt ?? epoch(),
});

const toApiInfo = (info: InfoUpdate): ApiInfo => ({
  name: info.name,
  parent: info.parent ?? '',
  kind: toApiKind(info.kind),
  createdAt: info.created,
  updatedAt: info.updated,
  labels: { ...(info.labels ?? {}) },
});

const fromApiMounts = (mounts: readonly ApiMount[]): Mount[] =>
  mounts.map((m) => ({ type: m.type, source: m.source, ...(m.target ? { target: m.target } : {}), options: [...m.options] }));

const labelsOf = (options: SnapshotOptions | undefined): Record<string, string> => ({ ...(options?.labels ?? {}) });

export class RemoteSnapshotter implements Snapshotter {
  constructor(
    private readonly conn: ProxyConnection,
    /** Sent as the `snapshotter` field of every request: the proxy plugin's name. */
    readonly snapshotterName: string,
  ) {}

  stat(ctx: RequestContext, key: string): Promise<Info> {
    return this.conn.call(ctx, async (c, call) =>
      fromApiInfo((await c.unary(SnapshotsService.stat, { snapshotter: this.snapshotterName, key }, call)).info),
    );
  }

  update(ctx: RequestContext, info: InfoUpdate, fieldpaths: readonly string[] = []): Promise<Info> {
    return this.conn.call(ctx, async (c, call) => {
      const res = await c.unary(
        SnapshotsService.update,
        { snapshotter: this.snapshotterName, info: toApiInfo(info), updateMask: [...fieldpaths] },
        call,
      );
      return fromApiInfo(res.info);
    });
  }

  usage(ctx: RequestContext, key: string): Promise<Usage> {
    return this.conn.call(ctx, async (c, call) => {
      const res = await c.unary(SnapshotsService.usage, { snapshotter: this.snapshotterName, key }, call);
      return { size: res.size, inodes: res.inodes };
    });
  }

  mounts(ctx: RequestContext, key: string): Promise<Mount[]> {
    return this.conn.call(ctx, async (c, call) =>
      fromApiMounts((await c.unary(SnapshotsService.mounts, { snapshotter: this.snapshotterName, key }, call)).mounts),
    );
  }

  prepare(ctx: RequestContext, key: string, parent = '', options?: SnapshotOptions): Promise<Mount[]> {
    return this.conn.call(ctx, async (c, call) => {
      const req = { snapshotter: this.snapshotterName, key, parent, labels: labelsOf(options) };
      return fromApiMounts((await c.unary(SnapshotsService.prepare, req, call)).mounts);
    });
  }

  view(ctx: RequestContext, key: string, parent = '', options?: SnapshotOptions): Promise<Mount[]> {
    return this.conn.call(ctx, async (c, call) => {
      const req = { snapshotter: this.snapshotterName, key, parent, labels: labelsOf(options) };
      return fromApiMounts((await c.unary(SnapshotsService.view, req, call)).mounts);
    });
  }

  commit(ctx: RequestContext, name: string, key: string, options?: SnapshotOptions): Promise<void> {
    return this.conn.call(ctx, async (c, call) => {
      await c.unary(SnapshotsService.commit, { snapshotter: this.snapshotterName, name, key, labels: labelsOf(options) }, call);
    });
  }

  remove(ctx: RequestContext, key: string): Promise<void> {
    return this.conn.call(ctx, async (c, call) => {
      await c.unary(SnapshotsService.remove, { snapshotter: this.snapshotterName, key }, call);
    });
  }

  async walk(ctx: RequestContext, fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    // A bad filter is refused here with its class: the List stream would report it as Unknown.
    parseAll(filters);
    const batches = this.conn.stream(ctx, (c, call) =>
      c.serverStream(SnapshotsService.list, { snapshotter: this.snapshotterName, filters: [...filters] }, call),
    );
    for await (const batch of batches) {
      for (const info of batch.info) await fn(fromApiInfo(info));
    }
  }

  cleanup(ctx: RequestContext): Promise<void> {
    return this.conn.call(ctx, async (c, call) => {
      await c.unary(SnapshotsService.cleanup, { snapshotter: this.snapshotterName }, call);
    });
  }

  /** The connection belongs to the proxy plugin, which closes it; as containerd's proxy, nothing to release here. */
  async close(): Promise<void> {}
}
