// Bench: metadata at scale through the gRPC API, against containerd-ts and Debian's
// containerd in one run, alternating: create 5,000 images and 2,500 leases (16 requests
// in flight), list images, list them with a label filter and with a name filter, 200
// gets, list leases, delete everything; each run in a fresh namespace. Then the daemon's
// RSS. Prints medians and ratios.
// Not a timed test: it reports, it does not fail on a slow machine.
import { ImagesService } from '@containerd-ts/api/services/images';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { Connection } from '@containerd-ts/client';
import { IN_FLIGHT, benchImage, benchImageName, pool } from './api-images.js';
import { compareSteps } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const imageCount = Number(process.env.BENCH_IMAGES ?? 5000);
const leaseCount = Number(process.env.BENCH_LEASES ?? 2500);
const gets = 200;

const steps = [
  'create images',
  'create leases',
  'list images',
  'list, label filter',
  'list, name filter',
  `${gets} gets`,
  'list leases',
  'delete images',
  'delete leases',
] as const;
type Step = (typeof steps)[number];

async function timed(out: Map<Step, number>, step: Step, fn: () => Promise<void>): Promise<void> {
  const t0 = performance.now();
  await fn();
  out.set(step, performance.now() - t0);
}

/** One run in a fresh namespace; returns milliseconds per step. */
async function runOnce(socket: string, namespace: string): Promise<Map<Step, number>> {
  const conn = new Connection(socket, { namespace });
  const out = new Map<Step, number>();
  try {
    await conn.ready();
    await timed(out, 'create images', () =>
      pool(imageCount, (i) =>
        conn.unary(ImagesService.create, {
          image: benchImage(i),
        }),
      ),
    );
    await timed(out, 'create leases', () =>
      pool(leaseCount, (i) => conn.unary(LeasesService.create, { id: `bench-lease-${i}`, labels: { 'bench.index': String(i) } })),
    );
    const expectCount = (what: string, got: number, want: number) => {
      if (got !== want) throw new Error(`${what}: ${got} results, expected ${want}`);
    };
    await timed(out, 'list images', async () => {
      expectCount('list images', (await conn.unary(ImagesService.list, { filters: [] })).images.length, imageCount);
    });
    await timed(out, 'list, label filter', async () => {
      const r = await conn.unary(ImagesService.list, { filters: ['labels."bench.group"==tenth'] });
      expectCount('label filter', r.images.length, Math.ceil(imageCount / 10));
    });
    await timed(out, 'list, name filter', async () => {
      const r = await conn.unary(ImagesService.list, { filters: ['name~="app-7:"'] });
      expectCount('name filter', r.images.length, Math.floor((imageCount - 8) / 50) + 1);
    });
    await timed(out, `${gets} gets`, () => pool(gets, (i) => conn.unary(ImagesService.get, { name: benchImageName((i * 37) % imageCount) })));
    await timed(out, 'list leases', async () => {
      expectCount('list leases', (await conn.unary(LeasesService.list, { filters: [] })).leases.length, leaseCount);
    });
    await timed(out, 'delete images', () => pool(imageCount, (i) => conn.unary(ImagesService.delete, { name: benchImageName(i), sync: false })));
    await timed(out, 'delete leases', () => pool(leaseCount, (i) => conn.unary(LeasesService.delete, { id: `bench-lease-${i}`, sync: false })));
  } finally {
    conn.close();
  }
  return out;
}

export async function benchScale(): Promise<void> {
  await compareSteps({ runs, steps, tag: 'scale', runOnce, verbose: Boolean(process.env.BENCH_VERBOSE), describe: (load0, load1) => `scale bench: ${imageCount} images, ${leaseCount} leases, ${IN_FLIGHT} in flight, ${runs} runs per daemon (medians; load average ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end)` });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScale();
