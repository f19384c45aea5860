// Registration: io.containerd.grpc.v1 gc — beyond containerd, an operator's API to run
// the garbage collector now and to see what it would remove and what holds the rest.
import type {} from '@containerd-ts/gc-scheduler';
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { GCController } from './gc.js';
import { gcGrpcService } from './grpc.js';

export * from './api.js';
export { type CollectionRequester, GCController, parseCollectRequest, parseExplainRequest } from './gc.js';
export { gcGrpcService } from './grpc.js';

export const gcGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'gc',
  requires: ['io.containerd.metadata.v1', 'io.containerd.gc.v1'],
  init(ctx) {
    // Without a scheduler (disabled), Collect runs the collection directly.
    const scheduler = ctx.getAll('io.containerd.gc.v1').values().next().value;
    return { services: [gcGrpcService(new GCController(ctx.get('io.containerd.metadata.v1'), scheduler))] };
  },
});
