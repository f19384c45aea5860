// Bench: `ctr run --rm IMG id /bin/true` latency (ctr's own start included), median of
// BENCH_RUNS (20) for containerd-ts and Debian's containerd in one run, alternating which
// goes first. Prints the medians and the ratio. Not a timed test: it reports.
import { execFile } from 'node:child_process';
import { pullInto, serveBusybox } from '../src/containers-run.js';
import { referenceConfig, startDaemon, startReference } from '../src/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 20);

function timeRun(socket: string, namespace: string, ref: string, id: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    execFile('ctr', ['-a', socket, '-n', namespace, 'run', '--rm', ref, id, '/bin/true'], { timeout: 60_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`ctr run on ${socket}: ${stderr}`));
      else resolve(performance.now() - t0);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchRun(): Promise<void> {
  const image = await serveBusybox();
  const ts = await startDaemon();
  const ref = await startReference({ config: referenceConfig() });
  // Different namespaces: ctr writes the cgroup path /<namespace>/<id> into the spec.
  const daemons = [
    { name: 'containerd', socket: ref.socket, ns: `bench-run-ref-${process.pid}`, ms: [] as number[] },
    { name: 'containerd-ts', socket: ts.socket, ns: `bench-run-ts-${process.pid}`, ms: [] as number[] },
  ];
  try {
    for (const d of daemons) {
      await pullInto(d.socket, d.ns, image.ref);
      await timeRun(d.socket, d.ns, image.ref, 'warmup'); // first run pays for cold caches
    }
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? daemons : [...daemons].reverse();
      for (const d of order) d.ms.push(await timeRun(d.socket, d.ns, image.ref, `run-${i}`));
    }
  } finally {
    await ts.cleanup();
    await ref.stop();
    await image.registry.stop();
  }
  const [refD, tsD] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];
  const r = median(refD.ms);
  const t = median(tsD.ms);
  console.log(`ctr run --rm /bin/true (${runs} runs each, alternating, medians)`);
  console.log(`  containerd     ${(r / 1000).toFixed(3)} s`);
  console.log(`  containerd-ts  ${(t / 1000).toFixed(3)} s`);
  console.log(`  ratio          ${(t / r).toFixed(2)}x (goal <= 1.0x)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRun();
