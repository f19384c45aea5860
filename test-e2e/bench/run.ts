// Bench: `ctr run --rm IMG id /bin/true` latency (ctr's own start included), median of
// BENCH_RUNS (20) for containerd-ts and Debian's containerd in one run, alternating which
// goes first. Prints the medians and the ratio. With BENCH_METHODS=1 both daemons serve
// metrics with containerd's gRPC histogram, and the bench also prints each gRPC method's
// server time per run on each daemon (grpc_server_handling_seconds_sum / runs).
// Not a timed test: it reports.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { pullInto, serveBusybox } from '../src/containers-run.js';
import { referenceConfig, startDaemon, startReference } from '../src/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 20);
const methods = process.env.BENCH_METHODS === '1';

/** A loopback TCP port free right now (for a daemon's metrics listener). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Seconds and calls per gRPC method (`Service/Method`) from a metrics text's handling-time histogram. */
export function handlingSeconds(text: string): Map<string, { sum: number; count: number }> {
  const out = new Map<string, { sum: number; count: number }>();
  for (const line of text.split('\n')) {
    const m = /^grpc_server_handling_seconds_(sum|count)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1]!, l[2]!]));
    const key = `${(labels.grpc_service ?? '').split('.').pop()}/${labels.grpc_method ?? ''}`;
    const e = out.get(key) ?? { sum: 0, count: 0 };
    e[m[1] as 'sum' | 'count'] = Number(m[3]);
    out.set(key, e);
  }
  return out;
}

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
  const tsPort = methods ? await freePort() : 0;
  const refPort = methods ? await freePort() : 0;
  const metricsConfig = (port: number) => ['[metrics]', `  address = "127.0.0.1:${port}"`, '  grpc_histogram = true'];
  const ts = await startDaemon(methods ? { config: ['version = 2', ...metricsConfig(tsPort)].join('\n') } : {});
  const ref = await startReference({ config: referenceConfig(...(methods ? metricsConfig(refPort) : [])) });
  let before: Array<Map<string, { sum: number; count: number }>> = [];
  let after: Array<Map<string, { sum: number; count: number }>> = [];
  const scrape = (port: number) => fetch(`http://127.0.0.1:${port}/v1/metrics`).then(async (r) => handlingSeconds(await r.text()));
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
    if (methods) before = await Promise.all([scrape(refPort), scrape(tsPort)]);
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? daemons : [...daemons].reverse();
      for (const d of order) d.ms.push(await timeRun(d.socket, d.ns, image.ref, `run-${i}`));
    }
    if (methods) after = await Promise.all([scrape(refPort), scrape(tsPort)]);
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
  if (methods) {
    // What the timed runs added to each method's histogram (the pull and warm-up left out).
    const perRun = (i: number, key: string) => {
      const a = after[i]?.get(key);
      const b = before[i]?.get(key);
      return { ms: (((a?.sum ?? 0) - (b?.sum ?? 0)) * 1000) / runs, calls: ((a?.count ?? 0) - (b?.count ?? 0)) / runs };
    };
    const keys = [...new Set([...(after[0]?.keys() ?? []), ...(after[1]?.keys() ?? [])])]
      .filter((k) => perRun(0, k).calls > 0 || perRun(1, k).calls > 0)
      .sort((x, y) => perRun(1, y).ms - perRun(1, x).ms);
    console.log('server time per run by gRPC method (calls per run, ms per run): containerd | containerd-ts');
    let total = [0, 0];
    for (const k of keys) {
      const [a, b] = [perRun(0, k), perRun(1, k)];
      total = [total[0]! + a.ms, total[1]! + b.ms];
      console.log(`  ${k.padEnd(28)} ${a.calls.toFixed(1).padStart(5)} ${a.ms.toFixed(2).padStart(8)} | ${b.calls.toFixed(1).padStart(5)} ${b.ms.toFixed(2).padStart(8)}`);
    }
    console.log(`  ${'total'.padEnd(28)} ${''.padStart(5)} ${total[0]!.toFixed(1).padStart(8)} | ${''.padStart(5)} ${total[1]!.toFixed(1).padStart(8)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRun();
