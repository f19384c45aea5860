// The images of `grpc-floor.ts`, the same as `scale.ts` creates: created in the daemons
// through the API, held in memory by the floor server.
import type { Image } from '@containerd-ts/api/services/images';

export const floorImageName = (i: number) => `registry.example.com/bench/app-${i % 50}:v${i}`;

export function floorImage(i: number): Image {
  return {
    name: floorImageName(i),
    labels: { 'bench.index': String(i), 'bench.group': i % 10 === 0 ? 'tenth' : 'rest' },
    target: {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${i.toString(16).padStart(64, '0')}`,
      size: 1000 + i,
      annotations: {},
    },
    createdAt: { seconds: 1_764_979_200, nanos: 0 },
    updatedAt: { seconds: 1_764_979_200, nanos: 0 },
  };
}
