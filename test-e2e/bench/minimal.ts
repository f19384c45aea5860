// Bench: the minimal runtime (examples/minimal) against the full containerd-ts — time from
// process start until `ctr version` answers, idle RSS two seconds after that (medians of
// BENCH_RUNS runs, default 5), and the size of a production install of each package. Prints figures; it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, realpath, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { socketAnswers } from '@containerd-ts/daemon';
import { containerdTs, repoRoot } from '../src/harness.js';
import { ctrVersionOk, rssKiB } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);

interface Variant {
  name: string;
  command: string[];
}

const variants: Variant[] = [
  // What users run: the bundled daemons with V8's code cache (bin/containerd-ts,
  // examples/minimal/bin/minimal-containerd; both built with bundle-daemon).
  { name: 'full (bundled)', command: [containerdTs] },
  { name: 'minimal (bundled)', command: [join(repoRoot, 'examples/minimal/bin/minimal-containerd')] },
  // The same plugins loaded as plain ES modules.
  { name: 'full (ES modules)', command: ['node', join(repoRoot, 'apps/containerd-ts/dist/main.js')] },
  { name: 'minimal (ES modules)', command: ['node', join(repoRoot, 'examples/minimal/dist/main.js')] },
];

const rssMiB = async (pid: number) => (await rssKiB(pid)) / 1024;

interface Sample {
  startMs: number;
  rssMiB: number;
}

async function measure(v: Variant): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-minimal-'));
  const socket = join(dir, 'd.sock');
  const [cmd, ...pre] = v.command;
  const t0 = performance.now();
  const child = spawn(cmd!, [...pre, '--root', `${dir}/root`, '--state', `${dir}/state`, '--address', socket], {
    stdio: 'ignore',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: '' },
  });
  // ctr backs off for a second after a refused connection: wait (every 2 ms) until the
  // socket accepts, then ask ctr. The same for every variant.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${v.name} exited with ${child.exitCode}`);
    if (performance.now() - t0 > 30_000) throw new Error(`${v.name} did not answer`);
    if ((await socketAnswers(socket, 100)) && ctrVersionOk(socket)) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const startMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 2000));
  const rss = await rssMiB(child.pid!);
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
  return { startMs, rssMiB: rss };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Bytes of the regular files under `dir` (each inode once), and how many; a package's own
 * node_modules left out, and so are source maps and V8 code caches (debugging aids and
 * caches a daemon writes at run time, not what it needs).
 */
async function treeSize(dir: string, seen: Set<bigint>, skipNodeModules: boolean): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (skipNodeModules && entry.name === 'node_modules') continue;
      const sub = await treeSize(path, seen, skipNodeModules);
      bytes += sub.bytes;
      files += sub.files;
    } else if (entry.isFile()) {
      if (/\.(map|v8cache)$/.test(entry.name)) continue;
      const st = await stat(path, { bigint: true });
      if (seen.has(st.ino)) continue;
      seen.add(st.ino);
      bytes += Number(st.size);
      files += 1;
    }
  }
  return { bytes, files };
}


interface PackageJson {
  name?: string;
  files?: string[];
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * What a production install of `pkgDir` holds: the package's published files and, for every
 * production dependency (transitively, each package once), its whole directory. The same
 * closure `pnpm deploy --prod` copies, computed from the workspace's own node_modules: running
 * pnpm deploy inside the live workspace re-links its node_modules under other builds.
 */
async function installSize(pkgDir: string, leaveOut: ReadonlySet<string> = new Set()): Promise<{ bytes: number; files: number; packages: number }> {
  const seenInodes = new Set<bigint>();
  const seenPackages = new Set<string>();
  let bytes = 0;
  let files = 0;
  const visit = async (dir: string, own: boolean): Promise<void> => {
    const real = await realpath(dir);
    if (seenPackages.has(real)) return;
    seenPackages.add(real);
    const pkg = JSON.parse(await readFile(join(real, 'package.json'), 'utf8')) as PackageJson;
    let size = { bytes: 0, files: 0 };
    const add = (s: { bytes: number; files: number }) => {
      size = { bytes: size.bytes + s.bytes, files: size.files + s.files };
    };
    if (own || (pkg.files && real.startsWith(`${repoRoot}/`) && !real.includes('/node_modules/'))) {
      // A workspace package installs what it publishes: `files` and its package.json.
      for (const f of ['package.json', ...(pkg.files ?? [])]) add(await pathSize(join(real, f), seenInodes));
    } else {
      add(await treeSize(real, seenInodes, true));
    }
    bytes += size.bytes;
    files += size.files;
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      if (leaveOut.has(dep)) continue;
      const at = await resolvePackage(real, dep);
      if (at) await visit(at, false);
    }
  };
  await visit(pkgDir, true);
  return { bytes, files, packages: seenPackages.size };
}

/** Where `name` resolves from `dir` (node_modules lookup upwards); undefined for a missing optional one. */
async function resolvePackage(dir: string, name: string): Promise<string | undefined> {
  for (let at = dir; ; at = dirname(at)) {
    const candidate = join(at, 'node_modules', name);
    if (await stat(join(candidate, 'package.json')).then(() => true, () => false)) return candidate;
    if (dirname(at) === at) return undefined;
  }
}

async function pathSize(path: string, seen: Set<bigint>): Promise<{ bytes: number; files: number }> {
  const st = await stat(path, { bigint: true }).catch(() => undefined);
  if (!st) return { bytes: 0, files: 0 };
  if (st.isDirectory()) return treeSize(path, seen, false);
  if (seen.has(st.ino)) return { bytes: 0, files: 0 };
  seen.add(st.ino);
  return { bytes: Number(st.size), files: 1 };
}

export async function benchMinimal(): Promise<void> {
  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < runs; i++) {
    for (const v of variants) samples.get(v.name)!.push(await measure(v));
  }
  console.log(`minimal runtime bench (${runs} runs, medians; start = until ctr version answers; RSS 2 s after)`);
  for (const v of variants) {
    const s = samples.get(v.name)!;
    console.log(
      `  ${v.name.padEnd(22)} start ${median(s.map((x) => x.startMs)).toFixed(0).padStart(5)} ms   idle RSS ${median(s.map((x) => x.rssMiB)).toFixed(1).padStart(6)} MiB`,
    );
  }
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  console.log('production install (the package\'s published files + its production dependency closure)');
  for (const [name, dir] of [
    ['full', 'apps/containerd-ts'],
    ['minimal', 'examples/minimal'],
  ] as const) {
    const size = await installSize(join(repoRoot, dir));
    // @containerd-ts/snapshots lists vitest as a dependency (for its ./testsuite export).
    const lean = await installSize(join(repoRoot, dir), new Set(['vitest']));
    console.log(
      `  ${name.padEnd(8)} ${mib(size.bytes).padStart(10)} in ${String(size.files).padStart(5)} files, ${String(size.packages).padStart(3)} packages   without vitest's closure ${mib(lean.bytes).padStart(9)}, ${lean.packages} packages`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchMinimal();
