// Registration: io.containerd.service.v1 leases-service (the local service) and
// io.containerd.grpc.v1 leases (its gRPC API), with containerd's requires.
import type {} from '@containerd-ts/gc-scheduler';
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { leasesGrpcService } from './grpc.js';
import { LeasesService } from './leases.js';

export { leasesGrpcService } from './grpc.js';
export { type CollectionRequester, type CreateLeaseOptions, type Lease, type LeaseResource, LeasesService } from './leases.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.leases-service': LeasesService;
  }
}

export const leasesServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'leases-service',
  // As containerd: only the metadata plugin is declared; the GC scheduler, which is
  // registered before the services, must be loaded (init fails without it, as there).
  requires: ['io.containerd.metadata.v1'],
  init: (ctx) => new LeasesService(ctx.get('io.containerd.metadata.v1').leases, ctx.get('io.containerd.gc.v1')),
});

export const leasesGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'leases',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'leases-service')) throw new Error('leases service not found');
    return { services: [leasesGrpcService(ctx.getByID('io.containerd.service.v1', 'leases-service'))] };
  },
});
