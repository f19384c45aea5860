// The local snapshots service: each namespaced snapshotter of the metadata database,
// wrapped so prepare, commit and remove publish containerd's snapshot events.
import type { EventPublisher } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Info, InfoUpdate, Mount, SnapshotOptions, Snapshotter, Usage, WalkFn } from '@containerd-ts/snapshots';

/** Snapshotters by name, as the snapshots gRPC service serves them (containerd's service instance). */
export type SnapshotterMap = ReadonlyMap<string, Snapshotter>;

/**
 * A snapshotter that publishes `/snapshot/prepare`, `/snapshot/commit` and
 * `/snapshot/remove` after each succeeds (views publish nothing, as in containerd). A
 * publish failure is the call's failure, as there; the change itself stays.
 */
export class PublishingSnapshotter implements Snapshotter {
  /** Present only when the wrapped snapshotter offers it. */
  readonly cleanup?: (ctx: RequestContext) => Promise<void>;

  constructor(
    private readonly inner: Snapshotter,
    private readonly publisher: EventPublisher,
  ) {
    const cleanup = inner.cleanup?.bind(inner);
    if (cleanup) this.cleanup = cleanup;
  }

  stat(ctx: RequestContext, key: string): Promise<Info> {
    return this.inner.stat(ctx, key);
  }

  update(ctx: RequestContext, info: InfoUpdate, fieldpaths?: readonly string[]): Promise<Info> {
    return this.inner.update(ctx, info, fieldpaths);
  }

  usage(ctx: RequestContext, key: string): Promise<Usage> {
    return this.inner.usage(ctx, key);
  }

  mounts(ctx: RequestContext, key: string): Promise<Mount[]> {
    return this.inner.mounts(ctx, key);
  }

  async prepare(ctx: RequestContext, key: string, parent = '', options?: SnapshotOptions): Promise<Mount[]> {
    const mounts = await this.inner.prepare(ctx, key, parent, options);
    await this.publisher.publish(ctx, '/snapshot/prepare', { type: 'containerd.events.SnapshotPrepare', fields: { key, parent } });
    return mounts;
  }

  view(ctx: RequestContext, key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]> {
    return this.inner.view(ctx, key, parent, options);
  }

  async commit(ctx: RequestContext, name: string, key: string, options?: SnapshotOptions): Promise<void> {
    await this.inner.commit(ctx, name, key, options);
    await this.publisher.publish(ctx, '/snapshot/commit', { type: 'containerd.events.SnapshotCommit', fields: { key, name } });
  }

  async remove(ctx: RequestContext, key: string): Promise<void> {
    await this.inner.remove(ctx, key);
    await this.publisher.publish(ctx, '/snapshot/remove', { type: 'containerd.events.SnapshotRemove', fields: { key } });
  }

  walk(ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void> {
    return this.inner.walk(ctx, fn, filters);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The snapshots service's snapshotters: every namespaced snapshotter, publishing events. */
export function publishingSnapshotters(snapshotters: ReadonlyMap<string, Snapshotter>, publisher: EventPublisher): SnapshotterMap {
  const out = new Map<string, Snapshotter>();
  for (const [name, sn] of snapshotters) out.set(name, new PublishingSnapshotter(sn, publisher));
  return out;
}
