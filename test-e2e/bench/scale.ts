// Bench: metadata at scale through the gRPC API, against containerd-ts and Debian's
// containerd in one run, alternating: create 5,000 images and 2,500 leases (16 requests
// in flight), list images, list them with a label filter and with a name filter, 200
// gets, list leases, delete everything; each run in a fresh namespace. Then the daemon's
// RSS. Prints medians and ratios.
// Not a timed test: it reports, it does not fail on a slow machine.
import { loadavg } from 'node:os';
import { ImagesService } from '@containerd-ts/api/services/images';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { Connection } from '@containerd-ts/client';
import { startDaemon, startReference } from '../src/harness.js';
import { rssKiB } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const imageCount = Number(process.env.BENCH_IMAGES ?? 5000);
const leaseCount = Number(process.env.BENCH_LEASES ?? 2500);
const inFlight = 16;
const gets = 200;

type Kind = 'containerd' | 'containerd-ts';
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

/** Runs `fn(0..n-1)` with at most `inFlight` calls pending. */
async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

const imageName = (i: number) => `registry.example.com/bench/app-${i % 50}:v${i}`;
const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;

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
          image: {
            name: imageName(i),
            labels: { 'bench.index': String(i), 'bench.group': i % 10 === 0 ? 'tenth' : 'rest' },
            target: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: digest(i), size: 1000 + i, annotations: {} },
            createdAt: undefined,
            updatedAt: undefined,
          },
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
    await timed(out, `${gets} gets`, () => pool(gets, (i) => conn.unary(ImagesService.get, { name: imageName((i * 37) % imageCount) })));
    await timed(out, 'list leases', async () => {
      expectCount('list leases', (await conn.unary(LeasesService.list, { filters: [] })).leases.length, leaseCount);
    });
    await timed(out, 'delete images', () => pool(imageCount, (i) => conn.unary(ImagesService.delete, { name: imageName(i), sync: false })));
    await timed(out, 'delete leases', () => pool(leaseCount, (i) => conn.unary(LeasesService.delete, { id: `bench-lease-${i}`, sync: false })));
  } finally {
    conn.close();
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchScale(): Promise<void> {
  const load0 = loadavg();
  const reference = await startReference();
  const ts = await startDaemon();
  const daemons: Record<Kind, { socket: string; pid: number }> = {
    containerd: { socket: reference.socket, pid: reference.pid },
    'containerd-ts': { socket: ts.socket, pid: ts.child.pid! },
  };
  const samples: Record<Kind, Array<Map<Step, number>>> = { containerd: [], 'containerd-ts': [] };
  const rss: Record<Kind, number[]> = { containerd: [], 'containerd-ts': [] };
  const started = Date.now();
  try {
    for (let i = 0; i < runs; i++) {
      const order: Kind[] = i % 2 === 0 ? ['containerd', 'containerd-ts'] : ['containerd-ts', 'containerd'];
      for (const kind of order) {
        const r = await runOnce(daemons[kind].socket, `scale-${started}-${i}`);
        samples[kind].push(r);
        rss[kind].push((await rssKiB(daemons[kind].pid)) / 1024);
        if (process.env.BENCH_VERBOSE) {
          console.log(`  run ${i + 1} ${kind}: ${steps.map((s) => `${s} ${(r.get(s)! / 1000).toFixed(3)} s`).join(', ')}`);
        }
      }
    }
  } finally {
    await ts.cleanup();
    await reference.stop();
  }
  const load1 = loadavg();
  console.log(
    `scale bench: ${imageCount} images, ${leaseCount} leases, ${inFlight} in flight, ${runs} runs per daemon (medians; load average ${load0[0]!.toFixed(1)} at start, ${load1[0]!.toFixed(1)} at end)`,
  );
  console.log(`  ${'step'.padEnd(22)} ${'containerd'.padStart(11)} ${'containerd-ts'.padStart(14)}  ratio`);
  for (const step of steps) {
    const a = median(samples.containerd.map((m) => m.get(step)!));
    const b = median(samples['containerd-ts'].map((m) => m.get(step)!));
    console.log(`  ${step.padEnd(22)} ${`${(a / 1000).toFixed(3)} s`.padStart(11)} ${`${(b / 1000).toFixed(3)} s`.padStart(14)}  ${(b / a).toFixed(2)}x`);
  }
  const ra = median(rss.containerd);
  const rb = median(rss['containerd-ts']);
  console.log(`  ${'RSS after (MB)'.padEnd(22)} ${ra.toFixed(1).padStart(11)} ${rb.toFixed(1).padStart(14)}  ${(rb / ra).toFixed(2)}x`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchScale();
