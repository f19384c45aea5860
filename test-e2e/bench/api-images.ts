// What the API benches (`scale.ts`, `grpc-floor.ts`) send: the images they create, and a pool
// that keeps a fixed number of calls in flight.
import type { Image } from '@containerd-ts/api/services/images';

/** Calls each bench keeps pending. */
export const IN_FLIGHT = 16;

/** Runs `fn(0..n-1)` with at most IN_FLIGHT calls pending. */
export async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, n) }, worker));
}

export const benchImageName = (i: number) => `registry.example.com/bench/app-${i % 50}:v${i}`;

/** Image `i` as created through the API (the daemon sets its times): two labels, one tenth in group `tenth`. */
export function benchImage(i: number): Image {
  return {
    name: benchImageName(i),
    labels: { 'bench.index': String(i), 'bench.group': i % 10 === 0 ? 'tenth' : 'rest' },
    target: {
      mediaType: 'application/vnd.oci.image.index.v1+json',
      digest: `sha256:${i.toString(16).padStart(64, '0')}`,
      size: 1000 + i,
      annotations: {},
    },
    createdAt: undefined,
    updatedAt: undefined,
  };
}
