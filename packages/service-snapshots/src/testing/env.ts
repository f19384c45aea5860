// Test set-up: the snapshots gRPC service on a unix socket over a real native snapshotter
// (`native`), content store, metadata database and event exchange.
import { type ServiceEnv, createServiceEnv } from '@containerd-ts/service-testing';
import { snapshotsGrpcService } from '../grpc.js';
import { publishingSnapshotters } from '../publishing.js';

export type TestEnv = ServiceEnv;

export const createEnv = (): Promise<TestEnv> =>
  createServiceEnv({
    name: 'service-snapshots',
    native: true,
    services: ({ db, exchange }) => [snapshotsGrpcService(publishingSnapshotters(db.snapshotters(), exchange))],
  });
