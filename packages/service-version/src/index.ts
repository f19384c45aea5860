// io.containerd.grpc.v1 version: answers containerd.services.version.v1.Version with the
// daemon's version and revision.
import { VersionService } from '@containerd-ts/api/services/version';
import { grpcService, unary } from '@containerd-ts/grpc-server';
import { definePlugin } from '@containerd-ts/plugin';

export const versionPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'version',
  init: (ctx) => ({
    services: [
      grpcService(VersionService, {
        version: unary(() => ({ version: ctx.daemon.version, revision: ctx.daemon.revision })),
      }),
    ],
  }),
});
