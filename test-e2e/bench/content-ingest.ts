// Bench: `ctr content ingest` of a 512 MiB blob of random bytes (stdin redirected from a
// file, so ctr sends 1 MiB Write messages) against containerd-ts and Debian's containerd
// in one run, alternating, a few repetitions. Prints times, MB/s and the ratio.
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctr, startDaemon, startReference } from '../src/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 512);

/** Writes `size` random bytes to `path` and returns their digest. */
async function randomFile(path: string, size: number): Promise<string> {
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  try {
    for (let done = 0; done < size; ) {
      const chunk = randomBytes(Math.min(8 << 20, size - done));
      hash.update(chunk);
      await fh.write(chunk);
      done += chunk.length;
    }
  } finally {
    await fh.close();
  }
  return `sha256:${hash.digest('hex')}`;
}

/** Runs `ctr content ingest` with stdin redirected from `file`; resolves with the wall time in ms. */
async function ingest(socket: string, ref: string, file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const started = performance.now();
    const child = spawn('ctr', ['-a', socket, 'content', 'ingest', ref], { stdio: [fh.fd, 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const ms = performance.now() - started;
    if (code !== 0) throw new Error(`ctr content ingest failed (${code}): ${stderr}`);
    return ms;
  } finally {
    await fh.close();
  }
}

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
