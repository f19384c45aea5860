// Registration: io.containerd.service.v1 introspection-service (the local service) and
// io.containerd.grpc.v1 introspection (its gRPC API), as containerd registers them.
import { IntrospectionService as IntrospectionDefinition } from '@containerd-ts/api/services/introspection';
import { grpcService, unary } from '@containerd-ts/grpc-server';
import { definePlugin } from '@containerd-ts/plugin';
import { IntrospectionService } from './introspection.js';

export { IntrospectionService, type PluginInfo } from './introspection.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.introspection-service': IntrospectionService;
  }
}

export const introspectionServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'introspection-service',
  init: (ctx) => new IntrospectionService(ctx.rootDir, () => ctx.plugins()),
});

export const introspectionGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'introspection',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    const local = ctx.getByID('io.containerd.service.v1', 'introspection-service');
    return {
      services: [
        grpcService(IntrospectionDefinition, {
          plugins: unary((req: { filters: string[] }) => ({ plugins: local.plugins(req.filters) })),
          server: unary(async () => ({ uuid: await local.serverUUID() })),
        }),
      ],
    };
  },
});
