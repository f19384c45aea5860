// Registration: io.containerd.service.v1 containers-service (the local service) and
// io.containerd.grpc.v1 containers (its gRPC API), with containerd's requires.
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { ContainersService } from './containers.js';
import { containersGrpcService } from './grpc.js';

export { containersGrpcService, toApiContainer } from './grpc.js';
export { type AnyValue, type Container, type ContainerInput, ContainersService } from './containers.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.containers-service': ContainersService;
  }
}

export const containersServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'containers-service',
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  init(ctx) {
    // The metadata database publishes the container events; the exchange must be loaded
    // all the same (init fails without it, as in containerd).
    ctx.get('io.containerd.event.v1');
    return new ContainersService(ctx.get('io.containerd.metadata.v1').containers);
  },
});

export const containersGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'containers',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'containers-service')) throw new Error('containers service not found');
    return { services: [containersGrpcService(ctx.getByID('io.containerd.service.v1', 'containers-service'))] };
  },
});
