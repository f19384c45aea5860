// What the record stores (namespaces, content, leases, images, containers) need from
// the database that owns them; MetadataDB implements it.
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import type { EventPublisher, MetadataEvent } from './events.js';
import type { SharedLock } from './lock.js';
import type { LevelStore, Txn } from './store.js';

export interface DBCore {
  readonly store: LevelStore;
  readonly log: Logger | undefined;
  /** Held shared by writers that touch backend content then records; exclusive by content cleanup. */
  readonly contentLock: SharedLock;
  /** Same as contentLock, for the snapshots of one snapshotter. */
  snapshotLock(snapshotter: string): SharedLock;
  /** A write transaction; mutation callbacks run after it commits. */
  update<T>(fn: (tx: Txn) => Promise<T>): Promise<T>;
  /**
   * Records the namespace (as containerd creates its bucket on first use). Every write
   * that creates an object in a namespace calls it in the same transaction.
   */
  touchNamespace(tx: Txn, ns: string): Promise<void>;
  /** Notes that the running transaction deletes the namespace record (at once, not on commit). */
  forgetNamespace(ns: string): void;
  /** Notes, when `tx` commits, that a reference was removed (GC needed) and which backends to clean. */
  markDirty(tx: Txn, what: { content?: boolean; snapshotter?: string }): void;
  /** Changes whenever a blob record may have been removed (see ContentStore.removals). */
  contentRemovals(): number;
  /** Notes a time when a lease or ingest stops holding things, for the expiry timer. */
  noteExpiry(at: Date): void;
  /** Sends an event; failures are logged, never thrown at the caller whose change is already committed. */
  publish(ctx: RequestContext, topic: string, event: MetadataEvent): Promise<void>;
  /** Runs a collection (through the GC scheduler when one is attached) and waits for it. */
  scheduleAndWait(): Promise<unknown>;
  /** Whether the content store shares backend blobs across namespaces. */
  readonly sharedContent: boolean;
}

export type { EventPublisher };
