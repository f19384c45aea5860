
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctr, startDaemon, startReference } from '../src/harness.js';
import { ingest, randomFile } from './content-files.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 512);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface IngestBenchResult {
  sizeMiB: number;
  containerdMs: number[];
  containerdTsMs: number[];
}

export async function benchContentIngest(): Promise<IngestBenchResult> {
  const size = sizeMiB << 20;
  const file = join(tmpdir(), `bench-ingest-${process.pid}.bin`);
  const ref = await startReference();
  const ts = await startDaemon();
  const result: IngestBenchResult = { sizeMiB, containerdMs: [], containerdTsMs: [] };
  try {
    for (let i = 0; i < runs; i++) {
      // Fresh bytes each round, so neither daemon finds the blob already stored.
      const digest = await randomFile(file, size);
      const order = i % 2 === 0 ? (['containerd', 'containerd-ts'] as const) : (['containerd-ts', 'containerd'] as const);
      for (const kind of order) {
        const socket = kind === 'containerd' ? ref.socket : ts.socket;
        const ms = await ingest(socket, `bench-${i}`, file);
        (kind === 'containerd' ? result.containerdMs : result.containerdTsMs).push(ms);
        const info = await ctr(socket, 'content', 'ls', '-q');
        if (!info.stdout.split('\n').includes(digest)) throw new Error(`${kind}: ${digest} missing after ingest`);
        await ctr(socket, 'content', 'rm', digest);
        if (process.env.BENCH_VERBOSE) console.log(`  ${kind} run ${i + 1}: ${ms.toFixed(0)} ms`);
      }
    }
  } finally {
    await rm(file, { force: true });
    await ts.cleanup();
    await ref.stop();
  }
  const mbps = (ms: number) => (size / 1e6 / (ms / 1000)).toFixed(0);
  const ref1 = median(result.containerdMs);
  const ts1 = median(result.containerdTsMs);
  const list = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(' ');
  console.log(`content ingest bench (${sizeMiB} MiB, ${runs} runs, medians)`);
  console.log(`  containerd     ${(ref1 / 1000).toFixed(2)} s  ${mbps(ref1)} MB/s   runs: ${list(result.containerdMs)}`);
  console.log(`  containerd-ts  ${(ts1 / 1000).toFixed(2)} s  ${mbps(ts1)} MB/s   runs: ${list(result.containerdTsMs)}`);
  console.log(`  ratio          ${(ts1 / ref1).toFixed(2)}x of containerd's time (goal <= 0.5x)`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchContentIngest();
