// Bench: a Prometheus scrape of `/v1/metrics` with BENCH_CONTAINERS (50) running containers —
// scrape latency and the daemon's CPU time per scrape — for containerd-ts and Debian's
// containerd in one run, alternating which is scraped first, scrapes 1.1 s apart (past
// containerd-ts's 1 s cache: every scrape reads every cgroup). Prints medians and means
// (the CPU times come in 10 ms clock ticks) and ratios. Not a timed test: it reports.
//
// BENCH_WARMUP (10) scrapes of each daemon come first and are reported apart: a Prometheus
// server scrapes every 15–30 s for as long as the daemon runs, so the per-scrape cost that
// matters is the steady one; containerd-ts's first scrapes also pay V8's compilation of the
// code they run (its total is printed).
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { pullInto, serveBusybox } from '../src/containers-run.js';
import { referenceConfig, startDaemon, startReference } from '../src/harness.js';

const containers = Number(process.env.BENCH_CONTAINERS ?? 50);
const scrapes = Number(process.env.BENCH_SCRAPES ?? 20);
const warmups = Number(process.env.BENCH_WARMUP ?? 10);

const ctr = (socket: string, ns: string, ...args: string[]) =>
  new Promise<void>((resolve, reject) => {
    execFile('ctr', ['-a', socket, '-n', ns, ...args], { timeout: 60_000 }, (err, _out, stderr) => (err ? reject(new Error(`ctr ${args.join(' ')}: ${stderr}`)) : resolve()));
  });

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === 'object' && address ? address.port : 0;
}

/** utime + stime of a process, in milliseconds (clock ticks of 10 ms). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

export async function benchMetricsScrape(): Promise<void> {
  const image = await serveBusybox();
  const [tsPort, refPort] = [await freePort(), await freePort()];
  const ts = await startDaemon({ config: `version = 2\n[metrics]\n  address = "127.0.0.1:${tsPort}"\n` });
  const ref = await startReference({ config: referenceConfig('[metrics]', `  address = "127.0.0.1:${refPort}"`) });
  const daemons = [
    { name: 'containerd', socket: ref.socket, pid: ref.pid, port: refPort, ns: `bench-scrape-ref-${process.pid}`, ms: [] as number[], cpu: [] as number[], warmCpu: 0, bytes: 0 },
    { name: 'containerd-ts', socket: ts.socket, pid: ts.child.pid ?? 0, port: tsPort, ns: `bench-scrape-ts-${process.pid}`, ms: [] as number[], cpu: [] as number[], warmCpu: 0, bytes: 0 },
  ];
  try {
    for (const d of daemons) {
      await pullInto(d.socket, d.ns, image.ref);
      for (let i = 0; i < containers; i++) await ctr(d.socket, d.ns, 'run', '-d', image.ref, `c${i}`, 'sleep', '100000');
    }
    for (let i = 0; i < warmups; i++) {
      for (const d of i % 2 === 0 ? daemons : [...daemons].reverse()) {
        const cpu0 = cpuMs(d.pid);
        await fetch(`http://127.0.0.1:${d.port}/v1/metrics`).then((r) => r.text());
        d.warmCpu += cpuMs(d.pid) - cpu0;
      }
      await new Promise((r) => setTimeout(r, 1100));
    }
    for (let i = 0; i < scrapes; i++) {
      const order = i % 2 === 0 ? daemons : [...daemons].reverse();
      for (const d of order) {
        const cpu0 = cpuMs(d.pid);
        const t0 = performance.now();
        const text = await fetch(`http://127.0.0.1:${d.port}/v1/metrics`).then((r) => r.text());
        d.ms.push(performance.now() - t0);
        d.cpu.push(cpuMs(d.pid) - cpu0);
        d.bytes = text.length;
      }
      await new Promise((r) => setTimeout(r, 1100));
    }
  } finally {
    for (const d of daemons) {
      for (let i = 0; i < containers; i++) {
        await ctr(d.socket, d.ns, 'tasks', 'kill', '-s', 'KILL', `c${i}`).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 1000));
      for (let i = 0; i < containers; i++) {
        await ctr(d.socket, d.ns, 'tasks', 'delete', `c${i}`).catch(() => {});
        await ctr(d.socket, d.ns, 'containers', 'rm', `c${i}`).catch(() => {});
      }
    }
    await ts.cleanup();
    await ref.stop();
    await image.registry.stop();
  }
  const [r, t] = daemons as [(typeof daemons)[0], (typeof daemons)[0]];
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  console.log(`Prometheus scrape with ${containers} running containers (${warmups} warm-up + ${scrapes} scrapes each, alternating)`);
  for (const d of [r, t]) {
    console.log(
      `  ${d.name.padEnd(14)} latency median ${median(d.ms).toFixed(1)} ms; daemon CPU per scrape median ${median(d.cpu)} ms, mean ${mean(d.cpu).toFixed(1)} ms; warm-up ${d.warmCpu} ms CPU in all; ${d.bytes} bytes`,
    );
  }
  console.log(
    `  latency ratio  ${(median(t.ms) / median(r.ms)).toFixed(2)}x, CPU ratio ${(median(t.cpu) / Math.max(median(r.cpu), 1)).toFixed(2)}x (medians), ${(mean(t.cpu) / Math.max(mean(r.cpu), 1)).toFixed(2)}x (means) (goal <= 1.0x)`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchMetricsScrape();
