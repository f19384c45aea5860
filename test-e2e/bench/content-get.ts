// Bench: `ctr content get` of a 512 MiB blob of random bytes (ctr reads it with one Read
// call per 32 KiB: 16,384 calls) from containerd-ts and Debian's containerd in one run,
// alternating. The blob is ingested once into each daemon first. Prints times and the ratio.
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { createHash, } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctr, startDaemon, startReference } from '../src/harness.js';
import { ingest, randomFile } from './content-files.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const sizeMiB = Number(process.env.BENCH_SIZE_MIB ?? 512);

/** `ctr content get <digest>`; resolves with the wall time in ms once every byte has been hashed and checked. */
async function get(socket: string, digest: string, size: number): Promise<number> {
  const started = performance.now();
  const child = spawn('ctr', ['-a', socket, 'content', 'get', digest], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hash = createHash('sha256');
  let got = 0;
  child.stdout!.on('data', (d: Buffer) => {
    hash.update(d);
    got += d.length;
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`ctr content get failed (${code}): ${stderr}`);
  if (got !== size || `sha256:${hash.digest('hex')}` !== digest) throw new Error(`ctr content get returned ${got} bytes, not the blob`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchContentGet(): Promise<void> {
  const size = sizeMiB << 20;
  const load0 = loadavg();
  const file = join(tmpdir(), `bench-get-${process.pid}.bin`);
  const ref = await startReference();
  const ts = await startDaemon();
  const ms: Record<'containerd' | 'containerd-ts', number[]> = { containerd: [], 'containerd-ts': [] };
  try {
    const digest = await randomFile(file, size);
    for (const socket of [ref.socket, ts.socket]) {
      await ingest(socket, 'bench-get', file);
      const info = await ctr(socket, 'content', 'ls', '-q');
      if (!info.stdout.split('\n').includes(digest)) throw new Error(`${digest} missing after ingest`);
    }
    await rm(file, { force: true });
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? (['containerd', 'containerd-ts'] as const) : (['containerd-ts', 'containerd'] as const);
      for (const kind of order) {
        const t = await get(kind === 'containerd' ? ref.socket : ts.socket, digest, size);
        ms[kind].push(t);
        if (process.env.BENCH_VERBOSE) console.log(`  ${kind} run ${i + 1}: ${t.toFixed(0)} ms`);
      }
    }
  } finally {
    await rm(file, { force: true });
    await ts.cleanup();
    await ref.stop();
  }
  const load1 = loadavg();
  const a = median(ms.containerd);
  const b = median(ms['containerd-ts']);
  const list = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(' ');
  console.log(
    `content get bench (${sizeMiB} MiB, ${runs} runs, medians; load average ${load0[0]!.toFixed(1)} at start, ${load1[0]!.toFixed(1)} at end)`,
  );
  console.log(`  containerd     ${(a / 1000).toFixed(2)} s   runs: ${list(ms.containerd)}`);
  console.log(`  containerd-ts  ${(b / 1000).toFixed(2)} s   runs: ${list(ms['containerd-ts'])}`);
  console.log(`  ratio          ${(b / a).toFixed(2)}x of containerd's time (goal <= 1.0x)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchContentGet();
