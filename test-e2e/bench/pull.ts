// Bench: `images pull --plain-http` of the issue 4 fixture image (~62 MB compressed,
// ~117 MB unpacked in ~3,000 files) from a loopback docker-registry, gzip and zstd, in one
// run, alternating: Debian's `ctr` into Debian's containerd (pigz installed), `ctr` into
// containerd-ts, and `ctr-ts` into containerd-ts (its pull fetches layers concurrently and
// unpacks each as it arrives). Every image is removed (`images rm --sync`, so blobs and
// snapshots go too) before each pull, so each pull downloads and unpacks everything.
// Prints medians and the ratios to ctr + containerd. BENCH_CTR_TS_BASELINE=<another ctr-ts>
// (e.g. a copy of an earlier build) adds a fourth row, that ctr-ts into the same containerd-ts,
// so a change is measured before and after in one run. BENCH_DAEMON_BASELINE=<another
// containerd-ts command> (e.g. a copy of an earlier build's bin/containerd-ts and dist) starts
// that daemon too and adds `ctr` and `ctr-ts` into it as rows, for a daemon change. For every
// pull into a containerd-ts the daemon's CPU time (all threads, and its main thread alone, from
// /proc) is printed too: on a shared machine it is steadier than the wall-clock time; so is
// the client's CPU time (user + system, from this process's waited-for children in /proc).
// BENCH_DAEMON_BASELINE_CTR_TS=<another ctr-ts> makes the baseline daemon's `ctr-ts` row use
// that client (an earlier build of both: the whole "before" of a change to either).
// Each run also times the floor every pull pays here whatever the daemon: GNU tar extracting
// the image's layers, already decompressed and in the page cache, into a new directory beside
// the daemons' roots (then removed, as the pulls' trees are): the kernel's creation of the
// files alone.
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ctr, ctrTs, startDaemon, startReference } from '../src/harness.js';
import { type Compression, type FixtureImage, fixtureImage } from '../src/image-fixture.js';
import { pushImage, startRegistry } from '../src/registry.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const snapshotter = process.env.BENCH_SNAPSHOTTER ?? 'overlayfs';
const baseline = process.env.BENCH_CTR_TS_BASELINE ?? '';
const daemonBaseline = process.env.BENCH_DAEMON_BASELINE ?? '';
const daemonBaselineCtrTs = process.env.BENCH_DAEMON_BASELINE_CTR_TS || '';

/** CPU time (ms, user + system) of this process's children that have ended and been waited for. */
function childrenCpuMs(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  // cutime and cstime: fields 16 and 17 of proc(5), 13 and 14 after "pid (comm) ".
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

/** CPU time (ms) of a process, all threads and its main thread, from /proc (utime + stime). */
function cpuMs(pid: number): { all: number; main: number } {
  const ticks = (file: string) => {
    const fields = readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
    // After "pid (comm) ": state is field 0, utime 11, stime 12 (fields 14 and 15 of proc(5)).
    return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100
  };
  return { all: ticks(`/proc/${pid}/stat`), main: ticks(`/proc/${pid}/task/${pid}/stat`) };
}

async function timedPull(client: string, socket: string, ref: string): Promise<{ ms: number; cpu: number }> {
  const cpuBefore = childrenCpuMs();
  const started = performance.now();
  const child = spawn(client, ['-a', socket, 'images', 'pull', '--plain-http', '--snapshotter', snapshotter, ref], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ms = performance.now() - started;
  if (code !== 0) throw new Error(`${client} images pull failed (${code}): ${stderr}`);
  return { ms, cpu: childrenCpuMs() - cpuBefore };
}

/** A gzip image's layers as plain tars in `dir`, base first (the zstd image has the same tars). */
function plainLayers(image: FixtureImage, dir: string): string[] {
  return image.layers.map((layer, i) => {
    const file = join(dir, `layer-${i}.tar`);
    writeFileSync(file, gunzipSync(layer.data));
    return file;
  });
}

/** Milliseconds GNU tar takes to extract `tars` in order into a new directory under tmpdir (removed after). */
function extractMs(tars: readonly string[]): number {
  const target = mkdtempSync(join(tmpdir(), 'pull-floor-'));
  try {
    const started = performance.now();
    for (const tar of tars) {
      const r = spawnSync('tar', ['-xf', tar, '-C', target, '--same-owner', '--same-permissions'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`tar -xf ${tar}: ${r.stderr || r.error?.message}`);
    }
    return performance.now() - started;
  } finally {
    rmSync(target, { recursive: true, force: true });
  }
}

async function removeAll(socket: string): Promise<void> {
  const names = (await ctr(socket, 'images', 'ls', '-q')).stdout.split('\n').filter(Boolean);
  if (names.length > 0) {
    const r = await ctr(socket, 'images', 'rm', '--sync', ...names);
    if (r.code !== 0) throw new Error(`images rm: ${r.stderr}`);
  }
  const left = (await ctr(socket, 'snapshots', '--snapshotter', snapshotter, 'ls')).stdout.trim().split('\n');
  if (left.length > 1) throw new Error(`snapshots left after rm --sync: ${left.join('\n')}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface PullBenchResult {
  compression: Compression;
  compressedBytes: number;
  unpackedBytes: number;
  entries: number;
  containerdMs: number[];
  containerdTsMs: number[];
  /** ctr-ts into containerd-ts. */
  ctrTsMs: number[];
  /** BENCH_CTR_TS_BASELINE's ctr-ts into containerd-ts (empty without it). */
  baselineMs: number[];
  /** `ctr` and `ctr-ts` into BENCH_DAEMON_BASELINE's containerd-ts (empty without it). */
  baseDaemonMs: number[];
  baseDaemonCtrTsMs: number[];
  /** GNU tar extracting the plain layers (the kernel's file creation alone), once per run. */
  floorMs: number[];
  /** Daemon CPU per pull (ms, all threads / main thread), by row. */
  cpu: Record<string, Array<{ all: number; main: number }>>;
  /** Client CPU per pull (ms, user + system), by row. */
  clientCpu: Record<string, number[]>;
}

export async function benchPull(): Promise<PullBenchResult[]> {
  const registry = await startRegistry();
  const refs = new Map<Compression, string>();
  const tarDir = mkdtempSync(join(tmpdir(), 'pull-layers-'));
  const tars = plainLayers(fixtureImage({ compression: 'gzip', scale: 'full' }), tarDir);
  const results: PullBenchResult[] = [];
  for (const compression of ['gzip', 'zstd'] as const) {
    const image = fixtureImage({ compression, scale: 'full' });
    refs.set(compression, await pushImage(registry, 'bench', compression, image));
    results.push({
      compression,
      compressedBytes: image.layers.reduce((n, l) => n + l.size, 0),
      unpackedBytes: image.unpackedSize,
      entries: image.entryCount,
      containerdMs: [],
      containerdTsMs: [],
      ctrTsMs: [],
      baselineMs: [],
      baseDaemonMs: [],
      baseDaemonCtrTsMs: [],
      floorMs: [],
      cpu: {},
      clientCpu: {},
    });
  }
  const reference = await startReference();
  const ts = await startDaemon();
  const baseTs = daemonBaseline !== '' ? await startDaemon({ command: [daemonBaseline] }) : undefined;
  try {
    for (const result of results) {
      const ref = refs.get(result.compression)!;
      for (let i = 0; i < runs; i++) {
        type Kind = 'containerd' | 'containerd-ts' | 'ctr-ts' | 'baseline' | 'base-daemon' | 'ctr-ts-base-daemon';
        const kinds: Kind[] = ['containerd', 'containerd-ts', 'ctr-ts'];
        if (baseline !== '') kinds.push('baseline');
        if (baseTs) kinds.push('base-daemon', 'ctr-ts-base-daemon');
        // rotate which goes first
        const order = kinds.map((_, k) => kinds[(k + i) % kinds.length] as Kind);
        for (const kind of order) {
          const daemon = kind === 'containerd' ? undefined : kind === 'base-daemon' || kind === 'ctr-ts-base-daemon' ? baseTs : ts;
          const socket = daemon ? daemon.socket : reference.socket;
          await removeAll(socket);
          const pid = daemon?.child.pid;
          const before = pid ? cpuMs(pid) : undefined;
          const client =
            kind === 'ctr-ts' ? ctrTs : kind === 'ctr-ts-base-daemon' ? daemonBaselineCtrTs || ctrTs : kind === 'baseline' ? baseline : 'ctr';
          const { ms, cpu: clientCpu } = await timedPull(client, socket, ref);
          result.clientCpu[kind] = [...(result.clientCpu[kind] ?? []), clientCpu];
          if (pid && before) {
            const after = cpuMs(pid);
            const cpus = result.cpu[kind] ?? [];
            cpus.push({ all: after.all - before.all, main: after.main - before.main });
            result.cpu[kind] = cpus;
          }
          const into: Record<Kind, number[]> = {
            containerd: result.containerdMs,
            'containerd-ts': result.containerdTsMs,
            'ctr-ts': result.ctrTsMs,
            baseline: result.baselineMs,
            'base-daemon': result.baseDaemonMs,
            'ctr-ts-base-daemon': result.baseDaemonCtrTsMs,
          };
          into[kind].push(ms);
          if (process.env.BENCH_VERBOSE) console.log(`  ${result.compression} ${kind} run ${i + 1}: ${ms.toFixed(0)} ms`);
        }
        result.floorMs.push(extractMs(tars));
      }
    }
  } finally {
    rmSync(tarDir, { recursive: true, force: true });
    await baseTs?.cleanup();
    await ts.cleanup();
    await reference.stop();
    await registry.stop();
  }
  const list = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(' ');
  for (const r of results) {
    const a = median(r.containerdMs);
    const b = median(r.containerdTsMs);
    const c = median(r.ctrTsMs);
    console.log(
      `images pull bench, ${r.compression} on ${snapshotter} (${(r.compressedBytes / 1e6).toFixed(0)} MB compressed, ${(r.unpackedBytes / 1e6).toFixed(0)} MB unpacked, ${r.entries} entries; ${runs} runs, medians)`,
    );
    console.log(`  ctr    + containerd     ${(a / 1000).toFixed(2)} s   runs: ${list(r.containerdMs)}`);
    console.log(`  ctr    + containerd-ts  ${(b / 1000).toFixed(2)} s   runs: ${list(r.containerdTsMs)}   ratio ${(b / a).toFixed(2)}x (goal <= 1.0x)`);
    console.log(`  ctr-ts + containerd-ts  ${(c / 1000).toFixed(2)} s   runs: ${list(r.ctrTsMs)}   ratio ${(c / a).toFixed(2)}x (goal <= 0.5x)`);
    const floor = median(r.floorMs);
    console.log(`  floor: tar -x of the plain layers  ${(floor / 1000).toFixed(2)} s   runs: ${list(r.floorMs)}   ${(floor / a).toFixed(2)}x of ctr + containerd`);
    if (r.baselineMs.length > 0) {
      const d = median(r.baselineMs);
      console.log(`  baseline ctr-ts + containerd-ts  ${(d / 1000).toFixed(2)} s   runs: ${list(r.baselineMs)}   ratio ${(d / a).toFixed(2)}x`);
    }
    if (r.baseDaemonMs.length > 0) {
      const e = median(r.baseDaemonMs);
      const f = median(r.baseDaemonCtrTsMs);
      console.log(`  ctr    + baseline containerd-ts  ${(e / 1000).toFixed(2)} s   runs: ${list(r.baseDaemonMs)}   ratio ${(e / a).toFixed(2)}x`);
      console.log(`  ${daemonBaselineCtrTs ? 'baseline ctr-ts' : 'ctr-ts'} + baseline containerd-ts  ${(f / 1000).toFixed(2)} s   runs: ${list(r.baseDaemonCtrTsMs)}   ratio ${(f / a).toFixed(2)}x`);
    }
    for (const [kind, cpus] of Object.entries(r.clientCpu)) {
      console.log(`  client CPU, ${kind}: ${(median(cpus) / 1000).toFixed(2)} s (median; runs: ${list(cpus)})`);
    }
    for (const [kind, cpus] of Object.entries(r.cpu)) {
      const all = median(cpus.map((c) => c.all));
      const main = median(cpus.map((c) => c.main));
      const runsText = cpus.map((c) => `${(c.all / 1000).toFixed(2)}/${(c.main / 1000).toFixed(2)}`).join(' ');
      console.log(`  daemon CPU, ${kind}: ${(all / 1000).toFixed(2)} s all threads, ${(main / 1000).toFixed(2)} s main thread (medians; runs all/main: ${runsText})`);
    }
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) await benchPull();
