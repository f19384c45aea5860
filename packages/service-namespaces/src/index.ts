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
  // The exchange is required as in containerd; the metadata layer publishes the events.
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  init: (ctx) => new NamespacesService(ctx.get('io.containerd.metadata.v1').namespaces),
});

export const namespacesGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'namespaces',
  requires: ['io.containerd.service.v1'],
  init: (ctx) => ({ services: [namespacesGrpcService(ctx.getByID('io.containerd.service.v1', 'namespaces-service'))] }),
});
