// Bench: the daemon's memory under load, Debian's `ctr` as the client, against containerd-ts
// and Debian's containerd in one run (each phase on one daemon then the other, the order
// alternating from phase to phase):
//   1. load: 10 concurrent pulls of the multi-layer fixture image (each into its own
//      namespace, so each downloads and unpacks) plus 5 concurrent pulls of other images, then
//      20 concurrent `ctr content ingest`s of 20 MB each — peak RSS (VmHWM, reset before the
//      phase) and RSS once idle afterwards (BENCH_IDLE_S, 10 s);
//   2. 100 pull / `images rm --sync` cycles of a small image, and 20 of the big (~117 MB
//      unpacked) one — RSS before, along the way and after (idle).
// Prints the figures and containerd-ts's ratio to containerd's (the goal: ≤ 1.5x).
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayer, gzipLayer } from '@containerd-ts/archive/testing';
import { busyboxImage } from '../src/busybox-image.js';
import { ctr, startDaemon, startReference } from '../src/harness.js';
import { type Blob, type FixtureImage, fixtureImage } from '../src/image-fixture.js';
import { pushImage, startRegistry } from '../src/registry.js';
import { ingest, randomFile } from './content-files.js';
import { rssKiB } from './measure.js';

const smallCycles = Number(process.env.BENCH_SMALL_CYCLES ?? 100);
const bigCycles = Number(process.env.BENCH_BIG_CYCLES ?? 20);
const idleSeconds = Number(process.env.BENCH_IDLE_S ?? 10);
const concurrentSame = 10;
const ingests = 20;
const ingestMiB = 20;
const snapshotter = process.env.BENCH_SNAPSHOTTER ?? 'overlayfs';

type Kind = 'containerd' | 'containerd-ts';
interface Daemon {
  kind: Kind;
  socket: string;
  pid: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (kib: number) => kib / 1024;

async function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
}

/** Resets the process's peak RSS (VmHWM) to its current RSS (needs root; false when refused). */
async function resetPeak(pid: number): Promise<boolean> {
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples RSS every 100 ms until stopped; the highest seen (for when VmHWM cannot be reset). */
function sampler(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssKiB(pid).catch(() => 0));
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

function ctrOk(socket: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ctr', ['-a', socket, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ctr ${args.join(' ')} failed (${code}): ${stderr}`))));
  });
}

const pull = (socket: string, namespace: string, ref: string) =>
  ctrOk(socket, ['-n', namespace, 'images', 'pull', '--plain-http', '--snapshotter', snapshotter, ref]);

async function removeImages(socket: string, namespace: string): Promise<void> {
  const names = (await ctr(socket, '-n', namespace, 'images', 'ls', '-q')).stdout.split('\n').filter(Boolean);
  if (names.length > 0) await ctrOk(socket, ['-n', namespace, 'images', 'rm', '--sync', ...names]);
}

async function removeContent(socket: string, namespace: string): Promise<void> {
  const digests = (await ctr(socket, '-n', namespace, 'content', 'ls', '-q')).stdout.split('\n').filter(Boolean);
  if (digests.length > 0) await ctrOk(socket, ['-n', namespace, 'content', 'rm', ...digests]);
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A one-layer image of a compressible and an incompressible file (`mib` MiB each), distinct per seed. */
function plainImage(seed: number, mib: number): FixtureImage {
  const key = createHash('sha256').update(`memory-load-${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const random = Buffer.concat([cipher.update(Buffer.alloc(mib << 20)), cipher.final()]);
  const text = Buffer.from(`line ${seed} of a compressible file\n`.repeat(Math.ceil((mib << 20) / 32))).subarray(0, mib << 20);
  const tar = buildLayer([
    { name: 'data/', mtime: 1_700_000_000 },
    { name: 'data/random.bin', data: random },
    { name: 'data/text.txt', data: text },
  ]);
  const blob = (mediaType: string, data: Buffer): Blob => ({ mediaType, digest: sha256(data), size: data.length, data });
  const layer = blob('application/vnd.oci.image.layer.v1.tar+gzip', gzipLayer(tar));
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  const config = blob(
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(tar)] } })),
  );
  const manifest = blob(
    'application/vnd.oci.image.manifest.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  return { manifest, config, layers: [layer], unpackedSize: tar.length, entryCount: 3 };
}

interface LoadResult {
  peakMB: number;
  afterPullsMB: number;
  idleMB: number;
  seconds: number;
}

async function loadPhase(d: Daemon, bigRef: string, otherRefs: string[], files: string[]): Promise<LoadResult> {
  const tag = d.kind === 'containerd' ? 'ref' : 'ts';
  const namespaces = Array.from({ length: concurrentSame }, (_, i) => `memload-${tag}-${i}`);
  const otherNs = `memload-${tag}-other`;
  const hwm = await resetPeak(d.pid);
  const samples = hwm ? undefined : sampler(d.pid);
  const t0 = performance.now();
  await Promise.all([...namespaces.map((ns) => pull(d.socket, ns, bigRef)), ...otherRefs.map((ref) => pull(d.socket, otherNs, ref))]);
  const afterPullsMB = mb(await rssKiB(d.pid));
  await Promise.all(files.map((file, i) => ingest(d.socket, `memload-${i}`, file)));
  const seconds = (performance.now() - t0) / 1000;
  const peakKiB = hwm ? await statusKiB(d.pid, 'VmHWM') : await samples!.stop();
  await sleep(idleSeconds * 1000);
  const idleMB = mb(await rssKiB(d.pid));
  for (const ns of [...namespaces, otherNs]) await removeImages(d.socket, ns);
  await removeContent(d.socket, 'default');
  return { peakMB: mb(peakKiB), afterPullsMB, idleMB, seconds };
}

interface CycleResult {
  rssMB: number[];
  idleMB: number;
  seconds: number;
}

async function cyclePhase(d: Daemon, ref: string, cycles: number, name: string): Promise<CycleResult> {
  const ns = `memcycle-${name}-${d.kind === 'containerd' ? 'ref' : 'ts'}`;
  const rssMB = [mb(await rssKiB(d.pid))];
  const every = Math.max(1, Math.floor(cycles / 4));
  const t0 = performance.now();
  for (let i = 1; i <= cycles; i++) {
    await pull(d.socket, ns, ref);
    await removeImages(d.socket, ns);
    if (i % every === 0 || i === cycles) rssMB.push(mb(await rssKiB(d.pid)));
  }
  const seconds = (performance.now() - t0) / 1000;
  await sleep(idleSeconds * 1000);
  return { rssMB, idleMB: mb(await rssKiB(d.pid)), seconds };
}

const f0 = (x: number) => x.toFixed(0);

export async function benchMemoryLoad(): Promise<void> {
  const registry = await startRegistry();
  const files: string[] = [];
  const ref = await startReference();
  const ts = await startDaemon();
  const daemons: Daemon[] = [
    { kind: 'containerd', socket: ref.socket, pid: ref.pid },
    { kind: 'containerd-ts', socket: ts.socket, pid: ts.child.pid! },
  ];
  try {
    const big = fixtureImage({ compression: 'gzip', scale: 'full' });
    const bigRef = await pushImage(registry, 'memload/fixture', 'gzip', big);
    const small = fixtureImage({ compression: 'gzip', scale: 'small' });
    const smallRef = await pushImage(registry, 'memload/fixture', 'small', small);
    const otherRefs = [
      await pushImage(registry, 'memload/fixture', 'zstd', fixtureImage({ compression: 'zstd', scale: 'full' })),
      await pushImage(registry, 'memload/fixture', 'small-zstd', fixtureImage({ compression: 'zstd', scale: 'small' })),
      await pushImage(registry, 'memload/busybox', 'latest', busyboxImage()),
      await pushImage(registry, 'memload/plain', 'a', plainImage(1, 8)),
      await pushImage(registry, 'memload/plain', 'b', plainImage(2, 16)),
    ];
    for (let i = 0; i < ingests; i++) {
      const file = join(tmpdir(), `bench-memload-${process.pid}-${i}.bin`);
      files.push(file);
      await randomFile(file, ingestMiB << 20);
    }
    const start: Record<Kind, number> = { containerd: 0, 'containerd-ts': 0 };
    for (const d of daemons) start[d.kind] = mb(await rssKiB(d.pid));

    const order = (phase: number) => (phase % 2 === 0 ? daemons : [...daemons].reverse());
    const load = new Map<Kind, LoadResult>();
    for (const d of order(0)) {
      load.set(d.kind, await loadPhase(d, bigRef, otherRefs, files));
      if (process.env.BENCH_VERBOSE) console.log(`  load ${d.kind}: ${JSON.stringify(load.get(d.kind))}`);
    }
    const smallRes = new Map<Kind, CycleResult>();
    for (const d of order(1)) {
      smallRes.set(d.kind, await cyclePhase(d, smallRef, smallCycles, 'small'));
      if (process.env.BENCH_VERBOSE) console.log(`  small cycles ${d.kind}: ${JSON.stringify(smallRes.get(d.kind))}`);
    }
    const bigRes = new Map<Kind, CycleResult>();
    for (const d of order(2)) {
      bigRes.set(d.kind, await cyclePhase(d, bigRef, bigCycles, 'big'));
      if (process.env.BENCH_VERBOSE) console.log(`  big cycles ${d.kind}: ${JSON.stringify(bigRes.get(d.kind))}`);
    }

    const ratio = (f: (k: Kind) => number) => `${(f('containerd-ts') / f('containerd')).toFixed(2)}x`;
    console.log(`memory under load (RSS in MB; idle = ${idleSeconds} s after the work; goal: containerd-ts <= 1.5x containerd)`);
    console.log(`  RSS at start             containerd ${f0(start.containerd)}   containerd-ts ${f0(start['containerd-ts'])}`);
    const l = (k: Kind) => load.get(k)!;
    console.log(
      `  load: ${concurrentSame} + ${otherRefs.length} concurrent pulls, then ${ingests} x ${ingestMiB} MB concurrent ingests (${f0(l('containerd').seconds)} s / ${f0(l('containerd-ts').seconds)} s)`,
    );
    console.log(`    peak                   containerd ${f0(l('containerd').peakMB)}   containerd-ts ${f0(l('containerd-ts').peakMB)}   ratio ${ratio((k) => l(k).peakMB)}`);
    console.log(
      `    after the pulls        containerd ${f0(l('containerd').afterPullsMB)}   containerd-ts ${f0(l('containerd-ts').afterPullsMB)}   ratio ${ratio((k) => l(k).afterPullsMB)}`,
    );
    console.log(`    idle                   containerd ${f0(l('containerd').idleMB)}   containerd-ts ${f0(l('containerd-ts').idleMB)}   ratio ${ratio((k) => l(k).idleMB)}`);
    for (const [label, res, n] of [
      ['small image', smallRes, smallCycles],
      ['big image', bigRes, bigCycles],
    ] as const) {
      const c = (k: Kind) => res.get(k)!;
      const path = (k: Kind) => c(k).rssMB.map(f0).join(' -> ');
      console.log(`  ${n} pull / rm --sync cycles, ${label} (${f0(c('containerd').seconds)} s / ${f0(c('containerd-ts').seconds)} s)`);
      console.log(`    containerd     ${path('containerd')}, idle ${f0(c('containerd').idleMB)}`);
      console.log(`    containerd-ts  ${path('containerd-ts')}, idle ${f0(c('containerd-ts').idleMB)}`);
      console.log(
        `    ratio          end ${ratio((k) => c(k).rssMB.at(-1)!)}, idle ${ratio((k) => c(k).idleMB)}, growth ${f0(c('containerd').rssMB.at(-1)! - c('containerd').rssMB[0]!)} / ${f0(c('containerd-ts').rssMB.at(-1)! - c('containerd-ts').rssMB[0]!)} MB`,
      );
    }
  } finally {
    await ts.cleanup();
    await ref.stop();
    await registry.stop();
    await Promise.all(files.map((f) => rm(f, { force: true })));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchMemoryLoad();
