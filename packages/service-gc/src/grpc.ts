// The containerdts.services.gc.v1.GC gRPC service (JSON bodies) over the GC service.
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';
import { GCService as GCDefinition } from './api.js';
import { type GCController, parseCollectRequest, parseExplainRequest } from './gc.js';

export function gcGrpcService(local: GCController): GrpcServiceRegistration {
  return grpcService(GCDefinition, {
    collect: unary(async (req: unknown, ctx) => {
      parseCollectRequest(req);
      return local.collect(ctx.signal);
    }),
    explain: unary(async (req: unknown) => local.explain(parseExplainRequest(req))),
  });
}
