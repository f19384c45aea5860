// Registration: io.containerd.service.v1 namespaces-service (the local service) and
// io.containerd.grpc.v1 namespaces (its gRPC API), with containerd's requires.
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { namespacesGrpcService } from './grpc.js';
import { NamespacesService } from './namespaces.js';

export { namespacesGrpcService } from './grpc.js';
export { type Namespace, NamespacesService } from './namespaces.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.namespaces-service': NamespacesService;
  }
}

export const namespacesServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'namespaces-service',
  // The exchange is required and taken as in containerd (so without one this service fails
  // as there); the metadata layer publishes the events.
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  init: (ctx) => {
    const db = ctx.get('io.containerd.metadata.v1');
    ctx.get('io.containerd.event.v1');
    return new NamespacesService(db.namespaces);
  },
});

export const namespacesGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'namespaces',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'namespaces-service')) throw new Error('namespaces service not found');
    return { services: [namespacesGrpcService(ctx.getByID('io.containerd.service.v1', 'namespaces-service'))] };
  },
});
