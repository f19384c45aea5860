// Registration: io.containerd.service.v1 content-service (the namespaced content store
// of the metadata database) and io.containerd.grpc.v1 content (its gRPC API), as
// containerd registers them.
import type { ContentStore } from '@containerd-ts/content';
import { grpcService } from '@containerd-ts/grpc-server';
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { contentServiceDefinition } from './codec.js';
import { ReaderCache } from './reader-cache.js';
import { contentServer } from './server.js';

export { contentServiceDefinition, encodeReadResponse } from './codec.js';
export { type ContentServerOptions, contentServer, LIST_BATCH, READ_CHUNK } from './server.js';
export { ReaderCache, type ReaderCacheOptions } from './reader-cache.js';
export { serveWrite } from './write.js';
export { GO_ZERO_TIME, GrpcStatusError, goQuote } from './status.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.content-service': ContentStore;
  }
}

export const contentServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'content-service',
  // As containerd: the exchange for /content/delete events, the database for the store.
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  init(ctx) {
    const db = ctx.get('io.containerd.metadata.v1');
    // The metadata store publishes /content/delete after a successful delete (containerd
    // does it in this service's wrapper; publishing here as well would send it twice). The
    // exchange is still taken, as containerd takes it: without one this service fails, and
    // with it the content gRPC API, exactly as there (disabled_plugins).
    ctx.get('io.containerd.event.v1');
    return db.contentStore();
  },
});

export const contentGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'content',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'content-service')) throw new Error('content store service not found');
    const store = ctx.getByID('io.containerd.service.v1', 'content-service');
    const readers = new ReaderCache(store);
    ctx.onClose(() => readers.close());
    return { services: [grpcService(contentServiceDefinition, contentServer(store, { log: ctx.log, readers }))] };
  },
});
