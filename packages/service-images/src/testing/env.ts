// Test set-up: the images gRPC service on a unix socket over a real content store,
// metadata database, event exchange and a GC scheduler that collects only when asked.
import { type ServiceEnvWithGC, createServiceEnv, manualGC } from '@containerd-ts/service-testing';
import { imagesGrpcService } from '../grpc.js';
import { ImagesService } from '../images.js';

export { backendDigests, putBlob } from '@containerd-ts/service-testing';
export type TestEnv = ServiceEnvWithGC;

export const createEnv = (): Promise<TestEnv> =>
  createServiceEnv({
    name: 'service-images',
    gc: manualGC,
    services: ({ db, scheduler }) => [imagesGrpcService(new ImagesService(db.images, scheduler!))],
  });
