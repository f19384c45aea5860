// Test set-up: the containers gRPC service on a unix socket over a real content store,
// metadata database and event exchange.
import { type ServiceEnv, createServiceEnv } from '@containerd-ts/service-testing';
import { ContainersService } from '../containers.js';
import { containersGrpcService } from '../grpc.js';

export type TestEnv = ServiceEnv;

export const createEnv = (): Promise<TestEnv> =>
  createServiceEnv({
    name: 'service-containers',
    services: ({ db }) => [containersGrpcService(new ContainersService(db.containers))],
  });
