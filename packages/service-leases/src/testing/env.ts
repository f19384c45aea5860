// Test set-up: the leases gRPC service on a unix socket over a real content store,
// metadata database and a GC scheduler that collects on its own (mutations, expiries).
import { type ServiceEnvWithGC, createServiceEnv } from '@containerd-ts/service-testing';
import { leasesGrpcService } from '../grpc.js';
import { LeasesService } from '../leases.js';

export { backendDigests, putBlob } from '@containerd-ts/service-testing';
export type TestEnv = ServiceEnvWithGC;

export const createEnv = (): Promise<TestEnv> =>
  createServiceEnv({
    name: 'service-leases',
    publish: false,
    gc: { pauseThreshold: 0.02, deletionThreshold: 0, mutationThreshold: 100, scheduleDelayMs: 0, startupDelayMs: 0 },
    services: ({ db, scheduler }) => [leasesGrpcService(new LeasesService(db.leases, scheduler!))],
  });
