// Registration: io.containerd.service.v1 snapshots-service (the namespaced snapshotters,
// publishing events) and io.containerd.grpc.v1 snapshots (their gRPC API), as containerd
// registers them.
import type {} from '@containerd-ts/events-exchange';
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { snapshotsGrpcService } from './grpc.js';
import { type SnapshotterMap, publishingSnapshotters } from './publishing.js';

export { LIST_BATCH, snapshotsGrpcService, toApiInfo } from './grpc.js';
export { PublishingSnapshotter, type SnapshotterMap, publishingSnapshotters } from './publishing.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.snapshots-service': SnapshotterMap;
  }
}

export const snapshotsServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'snapshots-service',
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  init: (ctx) => publishingSnapshotters(ctx.get('io.containerd.metadata.v1').snapshotters(), ctx.get('io.containerd.event.v1')),
});

export const snapshotsGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'snapshots',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'snapshots-service')) throw new Error('snapshots service not found');
    return { services: [snapshotsGrpcService(ctx.getByID('io.containerd.service.v1', 'snapshots-service'))] };
  },
});
