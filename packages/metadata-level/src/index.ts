// Plugin registration of the metadata database: io.containerd.metadata.v1 "bolt" (the
// ID stays containerd's for config compatibility; the storage is LevelDB).
import { join } from 'node:path';
import { definePlugin } from '@containerd-ts/plugin';
import type {} from '@containerd-ts/snapshots';
import { z } from 'zod';
import { MetadataDB } from './db.js';
import type { EventPublisher } from './events.js';

export {
  type CollectionScheduler,
  type ContentSharingPolicy,
  type GCReport,
  type GCStats,
  MetadataDB,
  type MetadataDBOptions,
} from './db.js';
export { type Namespace, NamespaceStore } from './namespaces.js';
export { MetadataContentStore, INGEST_EXPIRY_MS } from './content.js';
export {
  addLeaseResource,
  removeLeaseResource,
  type Lease,
  type LeaseCreateOptions,
  type LeaseDeleteOptions,
  LeaseManager,
  type LeaseResource,
  parseExpire,
} from './leases.js';
export { type Image, type ImageDeleteOptions, type ImageInput, ImageStore, type ImageTarget } from './images.js';
export { type ImageFields, type ImageRecord, writeImageFields } from './image-record.js';
export { type LeaseRecord, writeLeaseFields } from './lease-record.js';
export { writeStoredRecord } from './wire-record.js';
export { type AnyValue, type Container, type ContainerInput, ContainerStore } from './containers.js';
export type { GCNode, GCResourceType, Hold } from './gc.js';
export { type SnapshotGCBackend, type SnapshotGCInfo, isSnapshotGCBackend } from './snapshots.js';
export { NamespacedSnapshotter, backendKey } from './snapshotter.js';
export type { EventPublisher, MetadataEvent } from './events.js';
export { GCLabel, storedLabels, validateLabels } from './labels.js';
export type { DBCore } from './core.js';
export { LevelStore, Txn } from './store.js';
export { SharedLock } from './lock.js';
export { type Migration, migrations } from './migrations.js';
export type { SnapshotRecord } from './records.js';
export * as keys from './keys.js';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.metadata.v1': MetadataDB;
  }
}

const isPublisher = (value: unknown): value is EventPublisher =>
  typeof value === 'object' && value !== null && typeof (value as Partial<EventPublisher>).publish === 'function';

/** Directory of the LevelDB database under the plugin's root. */
export const DB_DIRNAME = 'meta.leveldb';

export default definePlugin({
  type: 'io.containerd.metadata.v1',
  id: 'bolt',
  requires: ['io.containerd.content.v1', 'io.containerd.snapshotter.v1'],
  config: z
    .object({
      content_sharing_policy: z.enum(['shared', 'isolated']).default('shared'),
    })
    .strict(),
  async init(ctx) {
    const path = join(ctx.rootDir, DB_DIRNAME);
    // Events go to the exchange, looked up when published: containerd loads the exchange
    // after the metadata plugin (and this plugin's requires stay containerd's).
    const publisher: EventPublisher = {
      async publish(c, topic, event) {
        for (const exchange of ctx.getAll('io.containerd.event.v1').values()) {
          if (isPublisher(exchange)) return exchange.publish(c, topic, event);
        }
      },
    };
    const db = await MetadataDB.open({
      path,
      publisher,
      content: ctx.get('io.containerd.content.v1'),
      contentSharingPolicy: ctx.config.content_sharing_policy,
      // Every snapshotter that loaded, served namespaced; the collector removes their
      // snapshots that no record references.
      snapshotters: ctx.getAll('io.containerd.snapshotter.v1'),
      log: ctx.log,
    });
    ctx.onClose(() => db.close());
    // containerd exports the sharing policy and the database path.
    ctx.meta.exports.policy = ctx.config.content_sharing_policy;
    ctx.meta.exports.path = path;
    return db;
  },
});
