// The metadata database: opens LevelDB, runs migrations, owns the record stores and
// the garbage collector (mark and sweep of records under the writer mutex, then
// cleanup of the content and snapshot backends).
import type { ContentStore } from '@containerd-ts/content';
import { isFailedPrecondition, isNotFound, isNotImplemented } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import type { Snapshotter } from '@containerd-ts/snapshots';
import { ContainerStore } from './containers.js';
import { MetadataContentStore } from './content.js';
import type { DBCore } from './core.js';
import type { EventPublisher, MetadataEvent } from './events.js';
import { type GCNode, type Hold, type MarkResult, allRecordsPrefix, mark, nodeID } from './gc.js';
import { ImageStore } from './images.js';
import {
  blobKey,
  blobsPrefix,
  ingestKey,
  ingestsPrefix,
  leaseKey,
  leasedPrefix,
  namespaceKey,
  snapshotKey,
  snapshotsPrefix,
} from './keys.js';
import { LeaseManager } from './leases.js';
import { SharedLock } from './lock.js';
import { type Migration, migrate } from './migrations.js';
import { NamespaceStore, scanNamespaces } from './namespaces.js';
import type { IngestRecord, SnapshotRecord } from './records.js';
import { NamespacedSnapshotter } from './snapshotter.js';
import type { SnapshotGCBackend, SnapshotGCInfo } from './snapshots.js';
import { LevelStore, type Txn } from './store.js';

/** Blob deletes a collection keeps in flight. */
const BLOB_DELETES_IN_FLIGHT = 16;
/**
 * Snapshot removals a collection keeps in flight: snapshots with no orphan child left are
 * independent, and a snapshotter whose records group-commit shares one fsync among them.
 */
const SNAPSHOT_REMOVES_IN_FLIGHT = 16;

/**
 * Calls `remove` for every name of `order` (children before parents), up to `limit` at
 * once: a name starts only once every child of it in `order` has finished (removed or
 * failed, which `remove` reports by resolving). The first rejection stops new removals and
 * is thrown once none is in flight.
 */
export function removeChildrenFirst(
  order: readonly string[],
  parents: ReadonlyMap<string, string>,
  limit: number,
  remove: (name: string) => Promise<void>,
): Promise<void> {
  const waiting = new Map<string, number>();
  const included = new Set(order);
  for (const name of order) {
    const parent = parents.get(name);
    if (parent !== undefined && included.has(parent)) waiting.set(parent, (waiting.get(parent) ?? 0) + 1);
  }
  const ready = order.filter((name) => !waiting.has(name));
  let next = 0;
  let inFlight = 0;
  let failure: { err: unknown } | undefined;
  return new Promise<void>((resolve, reject) => {
    const pump = () => {
      while (!failure && inFlight < limit && next < ready.length) {
        const name = ready[next++]!;
        inFlight++;
        remove(name).then(
          () => finish(name),
          (err: unknown) => {
            failure ??= { err };
            finish(name);
          },
        );
      }
      if (inFlight === 0) {
        if (failure) reject(failure.err);
        else resolve();
      }
    };
    const finish = (name: string) => {
      inFlight--;
      const parent = parents.get(name);
      if (parent !== undefined && waiting.has(parent)) {
        const left = waiting.get(parent)! - 1;
        if (left === 0) {
          waiting.delete(parent);
          ready.push(parent);
        } else waiting.set(parent, left);
      }
      pump();
    };
    pump();
  });
}

/** Optional backend method: every ingest ref, without reading statuses (the local store has it). */
interface StatusRefWalker {
  walkStatusRefs(ctx: RequestContext, fn: (ref: string) => void | Promise<void>): Promise<void>;
}

/** Optional backend method: every blob's digest, without reading its info (the local store has it). */
interface DigestWalker {
  walkDigests(ctx: RequestContext, fn: (digest: string) => void | Promise<void>): Promise<void>;
}

export type ContentSharingPolicy = 'shared' | 'isolated';

export interface MetadataDBOptions {
  /** Directory of the LevelDB database (created when missing). */
  path: string;
  /** The backend content store (not namespaced). */
  content: ContentStore;
  /**
   * Backend snapshotters by name. Each is served namespaced through `snapshotter(name)`,
   * and the collector removes its snapshots that no record references.
   */
  snapshotters?: ReadonlyMap<string, Snapshotter>;
  /** `shared` (default): a blob in the backend can be added to a namespace by naming its digest. */
  contentSharingPolicy?: ContentSharingPolicy;
  publisher?: EventPublisher;
  log?: Logger;
  /** fsync each commit (default true). */
  sync?: boolean;
  /** Called with the keys of each batch once it is on disk, before its writers resolve (tests). */
  onSync?: (keys: readonly string[]) => void;
  /** Migration table (tests); defaults to this version's. */
  migrations?: readonly Migration[];
}

/** What a collection did. */
export interface GCStats {
  /** Milliseconds the metadata was locked for mark and sweep (the scheduler's pause time). */
  metaMs: number;
  /** Milliseconds spent cleaning the content backend, when it was cleaned. */
  contentMs?: number;
  /** Milliseconds spent cleaning each snapshotter that was cleaned. */
  snapshotMs: Record<string, number>;
  /** Records removed. */
  removed: { content: number; ingests: number; snapshots: number; leases: number };
  /** Backend objects removed. */
  backend: { blobs: number; ingests: number; snapshots: number };
}

/** What a collection would do now, and why the rest stays. */
export interface GCReport {
  /** Records the collector would remove. */
  remove: GCNode[];
  /** Every collectable record it keeps (content, ingests, snapshots, leases), with what holds it. */
  keep: Array<{ node: GCNode; holds: Hold[] }>;
  /** Backend objects nothing would reference once the records are removed. */
  backend: { blobs: string[]; ingests: string[]; snapshots: Record<string, string[]> };
}

/** Something that runs collections on the database's behalf (the GC scheduler). */
export interface CollectionScheduler {
  scheduleAndWait(): Promise<unknown>;
}

export class MetadataDB implements DBCore {
  readonly namespaces: NamespaceStore;
  readonly leases: LeaseManager;
  readonly images: ImageStore;
  readonly containers: ContainerStore;
  readonly contentLock = new SharedLock();
  readonly sharedContent: boolean;
  readonly log: Logger | undefined;

  private readonly content: MetadataContentStore;
  private readonly snapshotLocks = new Map<string, SharedLock>();
  private readonly namespacedSnapshotters = new Map<string, NamespacedSnapshotter>();
  private readonly knownNamespaces = new Set<string>();
  /** Counts namespace deletions, so a touch committed after one does not mark its namespace known. */
  private forgottenNamespaces = 0;
  private readonly mutationCallbacks: Array<(dirty: boolean) => void> = [];
  private publisher: EventPublisher | undefined;
  private scheduler: CollectionScheduler | undefined;
  private dirty = 0;
  private removedContent = 0;
  // Backends are reconciled by the first collection after open: a crash may have left
  // a committed blob without its record, or an ingest without one.
  private dirtyContent = true;
  private readonly dirtySnapshotters: Set<string>;
  private earliestExpiry: Date | undefined;
  private collecting: Promise<GCStats> | undefined;

  private constructor(
    readonly store: LevelStore,
    private readonly backend: ContentStore,
    private readonly gcBackends: Map<string, SnapshotGCBackend>,
    options: MetadataDBOptions,
  ) {
    this.sharedContent = (options.contentSharingPolicy ?? 'shared') === 'shared';
    this.publisher = options.publisher;
    this.log = options.log;
    this.dirtySnapshotters = new Set(gcBackends.keys());
    this.namespaces = new NamespaceStore(this);
    this.leases = new LeaseManager(this);
    this.images = new ImageStore(this);
    this.containers = new ContainerStore(this);
    this.content = new MetadataContentStore(this, backend);
  }

  static async open(options: MetadataDBOptions): Promise<MetadataDB> {
    const store = await LevelStore.open(options.path, { sync: options.sync ?? true, onSync: options.onSync });
    try {
      await migrate(store, options.migrations);
      const db = new MetadataDB(store, options.content, new Map(), options);
      for (const [name, backend] of options.snapshotters ?? []) db.addSnapshotter(name, backend);
      await db.computeExpiry();
      return db;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** The namespaced content store over the backend. */
  contentStore(): ContentStore {
    return this.content;
  }

  /**
   * Lets the collector remove snapshots of `name` that no record references. Register a
   * snapshotter only once its snapshots are recorded here (by the snapshot metadata
   * layer): the next collection removes every backend snapshot without a record.
   */
  registerSnapshotter(name: string, backend: SnapshotGCBackend): void {
    this.gcBackends.set(name, backend);
    this.dirtySnapshotters.add(name);
  }

  /**
   * Serves `backend` namespaced under `name` (keys, labels and parents recorded here)
   * and lets the collector remove its snapshots that no record references.
   */
  addSnapshotter(name: string, backend: Snapshotter): Snapshotter {
    const sn = new NamespacedSnapshotter(this, name, backend);
    this.namespacedSnapshotters.set(name, sn);
    this.registerSnapshotter(name, backend);
    return sn;
  }

  /** The namespaced snapshotter `name`; undefined when no such snapshotter was added. */
  snapshotter(name: string): Snapshotter | undefined {
    return this.namespacedSnapshotters.get(name);
  }

  /** Every namespaced snapshotter by name, in the order they were added. */
  snapshotters(): Map<string, Snapshotter> {
    return new Map(this.namespacedSnapshotters);
  }

  /** Sets (or removes) where events go. */
  setPublisher(publisher: EventPublisher | undefined): void {
    this.publisher = publisher;
  }

  /** Routes `sync` deletes through a scheduler; without one they collect directly. */
  setScheduler(scheduler: CollectionScheduler | undefined): void {
    this.scheduler = scheduler;
  }

  /**
   * Calls `fn` after every committed change, with whether references were removed since
   * the last collection. Returns a function that unregisters it.
   */
  registerMutationCallback(fn: (dirty: boolean) => void): () => void {
    this.mutationCallbacks.push(fn);
    return () => {
      const i = this.mutationCallbacks.indexOf(fn);
      if (i >= 0) this.mutationCallbacks.splice(i, 1);
    };
  }

  /** The earliest known time a lease or ingest stops holding things (for an expiry timer). */
  nextExpiry(): Date | undefined {
    return this.earliestExpiry;
  }

  // ---- DBCore ----

  snapshotLock(snapshotter: string): SharedLock {
    let lock = this.snapshotLocks.get(snapshotter);
    if (!lock) {
      lock = new SharedLock();
      this.snapshotLocks.set(snapshotter, lock);
    }
    return lock;
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    const result = await this.store.write(fn);
    const dirty = this.dirty > 0;
    for (const cb of [...this.mutationCallbacks]) {
      try {
        cb(dirty);
      } catch (err) {
        this.log?.warn({ error: (err as Error).message }, 'mutation callback failed');
      }
    }
    return result;
  }

  async touchNamespace(tx: Txn, ns: string): Promise<void> {
    if (this.knownNamespaces.has(ns)) return;
    if ((await tx.get(namespaceKey(ns))) === undefined) tx.putJSON(namespaceKey(ns), { labels: {} });
    // Transactions run one after another, but a batch's commit hooks run once it is on disk:
    // a deletion that ran after this transaction, before the hook, must win.
    const forgotten = this.forgottenNamespaces;
    tx.onCommit(() => {
      if (this.forgottenNamespaces === forgotten) this.knownNamespaces.add(ns);
    });
  }

  /**
   * Drops `ns` from the known namespaces at once, not when the deletion is on disk: a
   * transaction that runs after the deleting one, while its batch is being written, must see
   * the record gone and write it anew. Should the deletion fail, the next touch only reads the record again.
   */
  forgetNamespace(ns: string): void {
    this.knownNamespaces.delete(ns);
    this.forgottenNamespaces++;
  }

  contentRemovals(): number {
    return this.removedContent;
  }

  markDirty(tx: Txn, what: { content?: boolean; snapshotter?: string }): void {
    tx.onCommit(() => {
      this.dirty++;
      if (what.content) {
        this.dirtyContent = true;
        this.removedContent++;
      }
      if (what.snapshotter) this.dirtySnapshotters.add(what.snapshotter);
    });
  }

  noteExpiry(at: Date): void {
    if (!this.earliestExpiry || at < this.earliestExpiry) this.earliestExpiry = at;
  }

  async publish(ctx: RequestContext, topic: string, event: MetadataEvent): Promise<void> {
    if (!this.publisher) return;
    try {
      await this.publisher.publish(ctx, topic, event);
    } catch (err) {
      this.log?.warn({ topic, error: (err as Error).message }, 'failed to publish event');
    }
  }

  async scheduleAndWait(): Promise<unknown> {
    if (this.scheduler) return this.scheduler.scheduleAndWait();
    return this.garbageCollect();
  }

  // ---- garbage collection ----

  /**
   * Removes every record nothing holds, then the backend blobs, ingests and snapshots no
   * record references. Collections do not overlap: a call during one waits for it and
   * then runs its own.
   */
  async garbageCollect(): Promise<GCStats> {
    const previous = this.collecting;
    const run = (async () => {
      if (previous) await previous.catch(() => {});
      return this.collect();
    })();
    this.collecting = run;
    try {
      return await run;
    } finally {
      if (this.collecting === run) this.collecting = undefined;
    }
  }

  private async collect(): Promise<GCStats> {
    const stats: GCStats = {
      metaMs: 0,
      snapshotMs: {},
      removed: { content: 0, ingests: 0, snapshots: 0, leases: 0 },
      backend: { blobs: 0, ingests: 0, snapshots: 0 },
    };
    const t0 = performance.now();
    let cleanContent = false;
    const cleanSnapshotters = new Set<string>();
    await this.store.exclusive(async () => {
      const marked = await mark(this.store.entries(allRecordsPrefix));
      const tx = this.store.newTxn();
      for (const node of marked.unreachable) {
        const { namespace: ns, key } = node;
        switch (node.type) {
          case 'content':
            tx.del(blobKey(ns, key));
            stats.removed.content++;
            this.dirtyContent = true;
            tx.onCommit(() => this.removedContent++);
            break;
          case 'ingest':
            tx.del(ingestKey(ns, key));
            stats.removed.ingests++;
            this.dirtyContent = true;
            break;
          case 'snapshot': {
            const slash = key.indexOf('/');
            tx.del(snapshotKey(ns, key.slice(0, slash), key.slice(slash + 1)));
            stats.removed.snapshots++;
            this.dirtySnapshotters.add(key.slice(0, slash));
            break;
          }
          case 'lease':
            tx.del(leaseKey(ns, key));
            await tx.delPrefix(leasedPrefix(ns, key));
            stats.removed.leases++;
            break;
        }
        this.log?.debug({ type: node.type, namespace: ns, key }, 'remove');
      }
      await this.store.commit(tx);
      this.earliestExpiry = marked.nextExpiry;
      this.dirty = 0;
      cleanContent = this.dirtyContent;
      this.dirtyContent = false;
      for (const s of this.dirtySnapshotters) cleanSnapshotters.add(s);
      this.dirtySnapshotters.clear();
    });
    stats.metaMs = performance.now() - t0;

    const jobs: Array<Promise<void>> = [];
    if (cleanContent) {
      jobs.push(
        (async () => {
          const t = performance.now();
          try {
            const removed = await this.cleanupContent();
            stats.backend.blobs += removed.blobs;
            stats.backend.ingests += removed.ingests;
            stats.contentMs = performance.now() - t;
          } catch (err) {
            this.dirtyContent = true;
            this.log?.warn({ error: (err as Error).message }, 'content garbage collection failed');
          }
        })(),
      );
    }
    for (const name of cleanSnapshotters) {
      const backend = this.gcBackends.get(name);
      if (!backend) continue;
      jobs.push(
        (async () => {
          const t = performance.now();
          try {
            stats.backend.snapshots += await this.cleanupSnapshotter(name, backend);
            stats.snapshotMs[name] = performance.now() - t;
          } catch (err) {
            this.dirtySnapshotters.add(name);
            this.log?.warn({ snapshotter: name, error: (err as Error).message }, 'snapshot garbage collection failed');
          }
        })(),
      );
    }
    await Promise.all(jobs);
    return stats;
  }

  /** Digests and backend ingest refs the records reference, skipping records in `excluded` (node IDs). */
  private async contentReferences(excluded?: ReadonlySet<string>): Promise<{ blobs: Set<string>; ingests: Set<string> }> {
    const blobs = new Set<string>();
    const ingests = new Set<string>();
    for (const ns of await this.namespaceNames()) {
      const bp = blobsPrefix(ns);
      for await (const key of this.store.keys(bp)) {
        const digest = key.slice(bp.length);
        if (!excluded?.has(nodeID({ type: 'content', namespace: ns, key: digest }))) blobs.add(digest);
      }
      const ip = ingestsPrefix(ns);
      for await (const [key, value] of this.store.entries(ip)) {
        if (excluded?.has(nodeID({ type: 'ingest', namespace: ns, key: key.slice(ip.length) }))) continue;
        const rec = JSON.parse(value) as IngestRecord;
        // A shared ingest keeps the blob it expects, which may be another namespace's.
        if (rec.expected) blobs.add(rec.expected);
        if (rec.ref) ingests.add(rec.ref);
      }
    }
    return { blobs, ingests };
  }

  /** Namespaces holding anything, whether or not they have a namespace record. */
  private async namespaceNames(): Promise<string[]> {
    return (await scanNamespaces(this.store)).map((n) => n.name);
  }

  /** Backend blobs and ingests no record references. */
  private async contentOrphans(excluded?: ReadonlySet<string>): Promise<{ blobs: string[]; ingests: string[] }> {
    const seen = await this.contentReferences(excluded);
    const blobs: string[] = [];
    const note = (digest: string) => {
      if (!seen.blobs.has(digest)) blobs.push(digest);
    };
    // A backend that can list digests without reading infos saves a stat per blob.
    const digests = this.backend as Partial<DigestWalker>;
    if (typeof digests.walkDigests === 'function') await digests.walkDigests({}, note);
    else await this.backend.walk({}, (info) => note(info.digest));
    const ingests: string[] = [];
    const noteRef = (ref: string) => {
      if (!seen.ingests.has(ref)) ingests.push(ref);
    };
    // A backend that can list ingest refs without reading their status saves a read per ingest.
    const walker = this.backend as Partial<StatusRefWalker>;
    if (typeof walker.walkStatusRefs === 'function') await walker.walkStatusRefs({}, noteRef);
    else for (const st of await this.backend.listStatuses({})) noteRef(st.ref);
    return { blobs, ingests };
  }

  private cleanupContent(): Promise<{ blobs: number; ingests: number }> {
    // Exclusive: no writer is between committing a blob and writing its record.
    return this.contentLock.withExclusive(async () => {
      const orphans = await this.contentOrphans();
      let blobs = 0;
      let ingests = 0;
      // Blobs do not depend on each other: several deletes in flight keep the file system
      // busy instead of waiting for each round trip through the thread pool.
      // The first failure stops them all, and is thrown once none is in flight.
      let next = 0;
      let failure: { err: unknown } | undefined;
      const deleter = async () => {
        while (!failure && next < orphans.blobs.length) {
          const digest = orphans.blobs[next++]!;
          try {
            await this.backend.delete({}, digest);
            blobs++;
            this.log?.debug({ digest }, 'removed content');
          } catch (err) {
            if (!isNotFound(err)) failure ??= { err };
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(BLOB_DELETES_IN_FLIGHT, orphans.blobs.length) }, deleter));
      if (failure) throw failure.err;
      for (const ref of orphans.ingests) {
        try {
          await this.backend.abort({}, ref);
          ingests++;
          this.log?.debug({ ref }, 'cleanup aborting ingest');
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      return { blobs, ingests };
    });
  }

  /** Backend names of the snapshots of `snapshotter` that records reference. */
  private async snapshotReferences(snapshotter: string, excluded?: ReadonlySet<string>): Promise<Set<string>> {
    const seen = new Set<string>();
    for (const ns of await this.namespaceNames()) {
      const prefix = `${snapshotsPrefix(ns)}${snapshotter}/`;
      for await (const [key, value] of this.store.entries(prefix)) {
        if (excluded?.has(nodeID({ type: 'snapshot', namespace: ns, key: `${snapshotter}/${key.slice(prefix.length)}` }))) continue;
        const rec = JSON.parse(value) as SnapshotRecord;
        if (rec.name) seen.add(rec.name);
      }
    }
    return seen;
  }

  /** Backend snapshots no record references, children before parents. */
  private async snapshotOrphans(backend: SnapshotGCBackend, seen: Set<string>): Promise<string[]> {
    return (await this.snapshotOrphanTree(backend, seen)).order;
  }

  /**
   * Backend snapshots no record references: children before parents (`order`), and the
   * parent of each that has one in the backend.
   */
  private async snapshotOrphanTree(backend: SnapshotGCBackend, seen: Set<string>): Promise<{ order: string[]; parents: Map<string, string> }> {
    const infos: SnapshotGCInfo[] = [];
    await backend.walk({}, (info) => {
      infos.push(info);
    });
    const children = new Map<string, string[]>();
    const parents = new Map<string, string>();
    const names = new Set(infos.map((i) => i.name));
    const roots: string[] = [];
    for (const info of infos) {
      if (info.parent && names.has(info.parent)) {
        parents.set(info.name, info.parent);
        let list = children.get(info.parent);
        if (!list) {
          list = [];
          children.set(info.parent, list);
        }
        list.push(info.name);
      } else {
        roots.push(info.name);
      }
    }
    const order: string[] = [];
    const visit = (name: string) => {
      for (const child of children.get(name) ?? []) visit(child);
      if (!seen.has(name)) order.push(name);
    };
    for (const r of roots) visit(r);
    return { order, parents };
  }

  private cleanupSnapshotter(name: string, backend: SnapshotGCBackend): Promise<number> {
    return this.snapshotLock(name).withExclusive(async () => {
      const { order, parents } = await this.snapshotOrphanTree(backend, await this.snapshotReferences(name));
      let removed = 0;
      const removeOne = async (key: string) => {
        try {
          await backend.remove({}, key);
          removed++;
          this.log?.debug({ snapshotter: name, key }, 'removed snapshot');
        } catch (err) {
          // A snapshot that still has children (one of them in use) stays, as in containerd.
          if (!isFailedPrecondition(err) && !isNotFound(err)) throw err;
          this.log?.warn({ snapshotter: name, key, error: (err as Error).message }, 'failed to remove snapshot');
        }
      };
      await removeChildrenFirst(order, parents, SNAPSHOT_REMOVES_IN_FLIGHT, removeOne);
      if (backend.cleanup) {
        try {
          await backend.cleanup({});
        } catch (err) {
          if (!isNotImplemented(err)) throw err;
        }
      }
      return removed;
    });
  }

  /**
   * A dry run: what a collection would remove now and what holds everything else
   * (leases, images, containers, labels, parents, unexpired ingests). Changes nothing.
   */
  async explain(): Promise<GCReport> {
    let marked: MarkResult | undefined;
    await this.store.exclusive(async () => {
      marked = await mark(this.store.entries(allRecordsPrefix));
    });
    const m = marked!;
    const removing = new Set(m.unreachable.map(nodeID));
    const keep: GCReport['keep'] = [];
    for (const [id, entry] of m.entries) {
      if (entry.node.type === 'image' || entry.node.type === 'container' || !m.reachable.has(id)) continue;
      keep.push({ node: entry.node, holds: m.holds.get(id) ?? [] });
    }
    const content = await this.contentOrphans(removing);
    const snapshots: Record<string, string[]> = {};
    for (const [name, backend] of this.gcBackends) {
      snapshots[name] = await this.snapshotOrphans(backend, await this.snapshotReferences(name, removing));
    }
    return { remove: m.unreachable, keep, backend: { blobs: content.blobs, ingests: content.ingests, snapshots } };
  }

  private async computeExpiry(): Promise<void> {
    const marked = await mark(this.store.entries(allRecordsPrefix));
    this.earliestExpiry = marked.nextExpiry;
  }

  async close(): Promise<void> {
    await this.collecting?.catch(() => {});
    await this.store.close();
  }
}
