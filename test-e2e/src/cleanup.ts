// Nothing a test file starts outlives it, on every path: a failed hook, a test that times
// out, a worker stopped by a signal. setup.ts (vitest `setupFiles`) gives each test file a
// temporary root of its own and points TMPDIR at it, so every temporary directory of the
// file (the harness's, the tests' own, the daemons') is under that root; the harness
// registers every process it spawns here. When the file ends, whatever is left is stopped,
// unmounted and removed; when the worker exits or is signalled first, the same is done
// synchronously as a last resort. What runc, the shims and the clients leave on the host
// outside that root (see hostEntries) is removed at the end of the file too.
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, umount2 } from '@containerd-ts/sys';

interface Tracked {
  child: ChildProcess;
  /** Spawned as the leader of its own process group: the whole group is signalled. */
  group: boolean;
}

interface State {
  /** The running file's temporary root; undefined between files. */
  root: string | undefined;
  /** TMPDIR as it was before the file started (undefined: unset). */
  savedTmpdir: string | undefined;
  processes: Set<Tracked>;
  handlersInstalled: boolean;
  /** hostEntries() when the running file began. */
  hostBefore: ReadonlySet<string>;
}

// One state per worker, however many times vitest evaluates this module.
const KEY = Symbol.for('containerd-ts.test-e2e.cleanup');
const holder = globalThis as unknown as Record<symbol, State | undefined>;
holder[KEY] ??= { root: undefined, savedTmpdir: undefined, processes: new Set(), handlersInstalled: false, hostBefore: new Set() };
const state: State = holder[KEY];

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const under = (path: string, root: string) => path === root || path.startsWith(`${root}/`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The running test file's temporary root (the TMPDIR its processes see). */
export function fileRoot(): string | undefined {
  return state.root;
}

/**
 * Registers a process the harness spawned; it is stopped when the test file ends if it is
 * still running. Throws (after killing it) once the file was cleaned up: a hook that timed
 * out and carried on must not start anything the cleanup will not see.
 */
export function trackProcess(child: ChildProcess, group: boolean): void {
  const entry: Tracked = { child, group };
  if (state.root === undefined && state.savedTmpdir !== undefined) {
    signal(entry, 'SIGKILL');
    throw new Error('a process was started after its test file was cleaned up');
  }
  state.processes.add(entry);
  child.once('exit', () => state.processes.delete(entry));
  child.once('error', () => state.processes.delete(entry));
}

function signal(entry: Tracked, sig: NodeJS.Signals): void {
  const { child, group } = entry;
  if (child.pid === undefined || !alive(child)) return;
  try {
    if (group) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // already gone
  }
}

/** What of a run is still there: processes, mounts and loop devices under `root`. */
export interface Leftovers {
  /** `pid cmdline` of processes whose command line names `root` or whose TMPDIR is under it. */
  processes: string[];
  /** Mount points under `root`. */
  mounts: string[];
  /** Loop devices whose backing file is under `root`. */
  loopDevices: string[];
}

function processesOf(root: string): Array<{ pid: number; cmdline: string }> {
  const found: Array<{ pid: number; cmdline: string }> = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const read = (what: string) => {
      try {
        return readFileSync(`/proc/${name}/${what}`, 'utf8').split('\0');
      } catch {
        return []; // exited meanwhile, or not readable (a kernel thread)
      }
    };
    const args = read('cmdline');
    const environ = read('environ');
    const names = args.some((a) => a === root || a.includes(`${root}/`));
    const inside = environ.some((e) => e.startsWith('TMPDIR=') && under(e.slice('TMPDIR='.length), root));
    if (names || inside) found.push({ pid: Number(name), cmdline: args.filter((a) => a !== '').join(' ') });
  }
  return found;
}

const unescapeMountinfo = (s: string) => s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));

function mountsUnder(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => unescapeMountinfo(line.split(' ')[4] ?? ''))
    .filter((mountpoint) => mountpoint !== '' && under(mountpoint, root));
}

function loopDevicesUnder(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync('/sys/block').filter((n) => n.startsWith('loop'));
  } catch {
    return [];
  }
  return names
    .filter((n) => {
      try {
        const backing = readFileSync(`/sys/block/${n}/loop/backing_file`, 'utf8').trim().replace(/ \(deleted\)$/, '');
        return under(backing, root);
      } catch {
        return false; // not attached
      }
    })
    .map((n) => `/dev/${n}`);
}

export function leftovers(root: string): Leftovers {
  return {
    processes: processesOf(root).map((p) => `${p.pid} ${p.cmdline}`),
    mounts: mountsUnder(root),
    loopDevices: loopDevicesUnder(root),
  };
}

function killAll(root: string, sig: NodeJS.Signals): void {
  for (const p of processesOf(root)) {
    try {
      process.kill(p.pid, sig);
    } catch {
      // already gone
    }
  }
}

/** Unmounts everything under `root` (deepest first, stacked mounts too), then detaches its loop devices. */
function unmountAll(root: string): void {
  for (let round = 0; round < 20; round++) {
    const mounts = mountsUnder(root).sort((a, b) => b.length - a.length);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      try {
        umount2(m, MNT_DETACH);
      } catch {
        // unmounted with its parent, or not ours to unmount: reported by leftovers()
      }
    }
  }
  for (const device of loopDevicesUnder(root)) {
    try {
      execFileSync('losetup', ['-d', device], { stdio: 'ignore' });
    } catch {
      // reported by leftovers()
    }
  }
}

/** Where a client keeps a task's FIFO set (ctr's and ctr-ts's default `--fifo-dir`). */
const FIFO_DIR = '/run/containerd/fifo';

/**
 * Directories on the host, outside any test root, that a file's daemons, shims and clients
 * leave behind as containerd's do: a client's FIFO set per task (a detached `run`, a task a
 * test never deleted), runc's state root per namespace, and the namespace's cgroup at the top
 * of every cgroup hierarchy (runc makes `/<namespace>/<id>` and removes only `<id>`).
 */
export function hostEntries(): Set<string> {
  const parents = [FIFO_DIR, '/run/containerd/runc'];
  const dirs = (parent: string) => {
    try {
      return readdirSync(parent, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => `${parent}/${e.name}`);
    } catch {
      return [];
    }
  };
  parents.push(...dirs('/sys/fs/cgroup'));
  return new Set(parents.flatMap(dirs));
}

/** Every path some process has open (its file descriptors' targets). */
export function openPaths(): Set<string> {
  const open = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        open.add(readlinkSync(`/proc/${pid}/fd/${fd}`));
      } catch {
        // closed meanwhile
      }
    }
  }
  return open;
}

/**
 * Removes the host entries that are not in `before` and that nothing uses any more: a FIFO
 * set none of whose FIFOs a process holds open and that is at least `minAgeMs` old (so one
 * a client has just made is left alone), a runc root or cgroup only when empty (rmdir, which
 * a cgroup with tasks or children refuses). Returns what it removed.
 */
export function removeHostLeftovers(before: ReadonlySet<string>, minAgeMs = 2_000): string[] {
  const fresh = [...hostEntries()].filter((dir) => !before.has(dir));
  if (fresh.length === 0) return [];
  const open = fresh.some((dir) => dir.startsWith(`${FIFO_DIR}/`)) ? openPaths() : new Set<string>();
  const removed: string[] = [];
  for (const dir of fresh) {
    try {
      if (dir.startsWith(`${FIFO_DIR}/`)) {
        if (Date.now() - statSync(dir).mtimeMs < minAgeMs) continue;
        if (readdirSync(dir).some((name) => open.has(`${dir}/${name}`))) continue;
        rmSync(dir, { recursive: true, force: true });
      } else {
        rmdirSync(dir);
      }
      removed.push(dir);
    } catch {
      // in use, not empty, or gone already
    }
  }
  return removed;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Synchronous cleanup, for process exit and signals: SIGKILL, unmount, remove. */
export function cleanupSync(root: string): void {
  for (const entry of state.processes) signal(entry, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    killAll(root, 'SIGKILL');
    if (processesOf(root).length === 0) break;
    sleepSync(50);
  }
  unmountAll(root);
  rmSync(root, { recursive: true, force: true, maxRetries: 3 });
}

/**
 * Stops every tracked process still running (SIGTERM to its group, SIGKILL after `graceMs`),
 * then any other process naming `root` (a daemon's children, a client a test started
 * itself), unmounts everything under `root` and removes it. Returns what had been left.
 */
export async function cleanup(root: string, graceMs = 10_000): Promise<Leftovers> {
  const left = leftovers(root);
  const running = [...state.processes].filter((e) => alive(e.child));
  const exited = (e: Tracked) => new Promise<void>((r) => (alive(e.child) ? e.child.once('exit', () => r()) : r()));
  for (const e of running) signal(e, 'SIGTERM');
  await Promise.race([Promise.all(running.map(exited)), sleep(graceMs)]);
  for (const e of running) signal(e, 'SIGKILL');
  await Promise.race([Promise.all(running.map(exited)), sleep(5_000)]);
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    killAll(root, sig);
    for (let i = 0; i < 100 && processesOf(root).length > 0; i++) await sleep(50);
  }
  unmountAll(root);
  await rm(root, { recursive: true, force: true, maxRetries: 3 });
  return left;
}

function installExitHandlers(): void {
  if (state.handlersInstalled) return;
  state.handlersInstalled = true;
  const last = () => {
    const root = state.root;
    state.root = undefined;
    if (root !== undefined) cleanupSync(root);
  };
  process.on('exit', last);
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    const onSignal = () => {
      try {
        last();
      } finally {
        // Then die of the signal as without this handler.
        process.removeListener(sig, onSignal);
        process.kill(process.pid, sig);
      }
    };
    process.on(sig, onSignal);
  }
}

/** Starts a test file: a fresh temporary root, TMPDIR pointing at it. */
export function beginFile(): string {
  if (state.root !== undefined) cleanupSync(state.root);
  state.savedTmpdir = process.env.TMPDIR ?? '';
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'e2e-')));
  state.root = root;
  state.hostBefore = hostEntries();
  process.env.TMPDIR = root;
  installExitHandlers();
  return root;
}

/** Ends a test file: cleans its root up and restores TMPDIR; returns what had been left. */
export async function endFile(): Promise<Leftovers | undefined> {
  const root = state.root;
  if (root === undefined) return undefined;
  state.root = undefined;
  if (state.savedTmpdir) process.env.TMPDIR = state.savedTmpdir;
  else delete process.env.TMPDIR;
  const left = await cleanup(root);
  removeHostLeftovers(state.hostBefore);
  return left;
}
