// Test set-up: the namespaces gRPC service on a unix socket over a real content store,
// metadata database and event exchange.
import { type ServiceEnv, createServiceEnv } from '@containerd-ts/service-testing';
import { namespacesGrpcService } from '../grpc.js';
import { NamespacesService } from '../namespaces.js';

export { putBlob } from '@containerd-ts/service-testing';
export type TestEnv = ServiceEnv;

export const createEnv = (): Promise<TestEnv> =>
  createServiceEnv({
    name: 'service-namespaces',
    services: ({ db }) => [namespacesGrpcService(new NamespacesService(db.namespaces))],
  });
