// io.containerd.grpc.v1 healthcheck: the standard grpc.health.v1 service. The daemon is
// SERVING while it accepts requests; containerd registers only the overall ("") service.
import { HealthCheckResponse_ServingStatus, HealthService } from '@containerd-ts/api/services/health';
import { notFound } from '@containerd-ts/errdefs';
import { grpcService, serverStream, unary } from '@containerd-ts/grpc-server';
import { definePlugin } from '@containerd-ts/plugin';

const check = (service: string) => {
  if (service !== '') throw notFound(`unknown service ${service}`);
  return { status: HealthCheckResponse_ServingStatus.SERVING };
};

export const healthcheckPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'healthcheck',
  init: () => ({
    services: [
      grpcService(HealthService, {
        check: unary((req: { service: string }) => check(req.service)),
        watch: serverStream(async (req: { service: string }, ctx, call) => {
          call.write(
            req.service === ''
              ? { status: HealthCheckResponse_ServingStatus.SERVING }
              : { status: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN },
          );
          // The status never changes while serving: hold the stream until the client leaves.
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
        }),
      }),
    ],
  }),
});
