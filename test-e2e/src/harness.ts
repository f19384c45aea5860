// Starts daemons (containerd-ts or the reference containerd) on temp dirs and runs the
// real `ctr` against them. Every process started here is registered with cleanup.ts, so
// none outlives its test file, whatever path the test takes.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trackProcess } from './cleanup.js';

function findRepoRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`no pnpm-workspace.yaml above ${from}`);
    dir = up;
  }
  return dir;
}

export const repoRoot = findRepoRoot(dirname(fileURLToPath(import.meta.url)));
export const containerdTs = join(repoRoot, 'bin', 'containerd-ts');
export const ctrTs = join(repoRoot, 'bin', 'ctr-ts');

/** The Debian package that provides each host tool the tests run. */
const debianPackage: Record<string, string> = {
  containerd: 'containerd',
  ctr: 'containerd',
  runc: 'runc',
  'docker-registry': 'docker-registry',
  'mkfs.btrfs': 'btrfs-progs',
  btrfs: 'btrfs-progs',
  losetup: 'mount',
  git: 'git',
  openssl: 'openssl',
  go: 'golang-go',
};

/**
 * Throws, naming the tool and its Debian package, unless every tool is on PATH: a test that
 * needs a missing tool fails with that message, it is never skipped.
 */
export function requireTools(purpose: string, ...tools: string[]): void {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  const missing = tools.filter((t) => !dirs.some((d) => existsSync(join(d, t))));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((t) => debianPackage[t] ?? t))];
  throw new Error(
    `${purpose} needs ${missing.join(', ')}, not found on PATH (Debian package ${packages.join(', ')}; scripts/setup.sh installs it)`,
  );
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        // A command that could not be started says so (execFile leaves stderr empty).
        const why = err && typeof (err as { code?: unknown }).code === 'string' ? `${err.message}\n` : '';
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) + why });
      },
    );
    trackProcess(child, false);
    // a command that exits before reading its input closes the pipe: EPIPE is no test failure
    child.stdin?.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs Debian's `ctr` against a socket. */
export const ctr = (socket: string, ...args: string[]) => {
  requireTools('ctr', 'ctr');
  return run('ctr', ['-a', socket, ...args]);
};

/**
 * ctr 1.6.20 now and then fails a push with this line (containerd/containerd#5734), against
 * Debian containerd as much as against containerd-ts.
 */
export const CTR_PUSH_FLAKE = 'failed to copy: rpc error: code = Internal desc = unexpected EOF';

/**
 * Runs `push` (a `ctr … push`: ctr is only the reference client) again while it fails with
 * ctr's known push flake, up to three times in all, saying so on the test's output.
 */
export async function retryCtrPushFlake(what: string, push: () => Promise<RunResult>): Promise<RunResult> {
  let r = await push();
  for (let attempt = 2; attempt <= 3 && r.code !== 0 && r.stderr.includes(CTR_PUSH_FLAKE); attempt++) {
    console.log(`${what}: ctr failed (${r.stderr.trim()}), running it again (attempt ${attempt})`);
    r = await push();
  }
  return r;
}

/** A long-running process started by a test, its output kept for error messages. */
export interface Service {
  child: ChildProcess;
  logs(): string;
  /** Resolves with the exit code once the process has exited (null: killed by a signal, or never started). */
  exited: Promise<number | null>;
  /** Sends `signal` unless the process has exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** SIGTERM, then SIGKILL to its whole process group if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Starts a long-running process as the leader of its own process group (so its children
 * can be killed with it), registered for the end-of-file cleanup.
 */
export function spawnService(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Service {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: opts.env ?? process.env, cwd: opts.cwd });
  trackProcess(child, true);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => {
    child.once('exit', (code) => r(code));
    child.once('error', (err) => {
      output += `${cmd}: ${err.message}\n`;
      r(null);
    });
  });
  const running = () => child.pid !== undefined && child.exitCode === null && child.signalCode === null;
  const service: Service = {
    child,
    logs: () => output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (running()) child.kill(signal);
      return exited;
    },
    async stop(graceMs = 20_000) {
      if (running()) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return service;
}

export interface StartedDaemon {
  dir: string;
  socket: string;
  root: string;
  state: string;
  child: ChildProcess;
  logs: () => string;
  /** SIGTERM and wait; resolves with the exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
  cleanup(): Promise<void>;
}

export interface StartOptions {
  /** Config file text; `{{dir}}` is replaced by the daemon's temp dir. */
  config?: string;
  args?: string[];
  /** Command to run instead of bin/containerd-ts (e.g. a custom daemon script). */
  command?: string[];
  /** Resolve as soon as the process exits (for start-failure tests). */
  expectExit?: boolean;
  /** Environment and working directory of the daemon (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Waits until `ready()` or the service exits; false when it exited. */
async function waitReady(service: Service, ready: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let done = false;
  void service.exited.then(() => (done = true));
  while (performance.now() < deadline) {
    if (done) return false;
    if (await ready()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`did not answer within ${timeoutMs / 1000} s`);
}

/**
 * Starts containerd-ts on a fresh temp root/state/socket; resolves once `ctr version` answers.
 * If it does not, it is stopped and its directory removed before the error is thrown.
 */
export async function startDaemon(options: StartOptions = {}): Promise<StartedDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'ctdts-'));
  const socket = join(dir, 'containerd-ts.sock');
  const root = join(dir, 'root');
  const state = join(dir, 'state');
  const args = ['--root', root, '--state', state, '--address', socket, ...(options.args ?? [])];
  if (options.config !== undefined) {
    const file = join(dir, 'config.toml');
    await writeFile(file, options.config.replaceAll('{{dir}}', dir));
    args.push('--config', file);
  }
  const [cmd, ...pre] = options.command ?? [containerdTs];
  const service = spawnService(cmd!, [...pre, ...args], { env: options.env, cwd: options.cwd });
  const { child, exited } = service;
  const output = () => service.logs();
  const daemon: StartedDaemon = {
    dir,
    socket,
    root,
    state,
    child,
    logs: output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const started = performance.now();
      const code = await service.kill(signal);
      return { code, ms: performance.now() - started };
    },
    async cleanup() {
      await daemon.stop('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (options.expectExit) {
    await exited;
    return daemon;
  }
  try {
    if (await waitReady(service, async () => (await ctr(socket, 'version')).code === 0, 30_000)) return daemon;
    throw new Error(`containerd-ts exited with ${child.exitCode ?? child.signalCode}: ${output()}`);
  } catch (err) {
    await daemon.cleanup();
    if (err instanceof Error && err.message.startsWith('did not answer')) {
      throw new Error(`containerd-ts ${err.message} on ${socket}: ${output()}`);
    }
    throw err;
  }
}

/**
 * Config text for `startReference({ config })`: root, state and sockets under `{{dir}}`,
 * the CRI plugin disabled (it wants a CNI setup this machine lacks), then `extra` lines
 * (plugin sections, proxy_plugins, …).
 */
export function referenceConfig(...extra: string[]): string {
  return [
    'version = 2',
    'root = "{{dir}}/root"',
    'state = "{{dir}}/state"',
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    '  address = "{{dir}}/containerd.sock"',
    '[ttrpc]',
    '  address = "{{dir}}/containerd.sock.ttrpc"',
    ...extra,
  ].join('\n');
}

export interface Reference {
  dir: string;
  socket: string;
  /** The daemon's process ID (benches read its memory). */
  pid: number;
  logs(): string;
  /** Stops the daemon (SIGTERM, SIGKILL after 20 s) and removes its directory. */
  stop(): Promise<void>;
}

/**
 * Debian's containerd as the reference, started by this harness on `config` (default
 * `referenceConfig()`; `{{dir}}` is replaced by its temp dir: root, state and sockets must
 * live under it, the socket at `{{dir}}/containerd.sock`), as its own process group;
 * resolves once `ctr version` answers. If it does not, it is stopped and its directory
 * removed before the error (with its log) is thrown.
 */
export async function startReference(options: { config?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Reference> {
  requireTools('the reference containerd', 'containerd', 'ctr');
  const dir = await mkdtemp(join(tmpdir(), 'refcd-'));
  const socket = join(dir, 'containerd.sock');
  const file = join(dir, 'config.toml');
  let service: Service | undefined;
  const stop = async () => {
    await service?.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await writeFile(file, (options.config ?? referenceConfig()).replaceAll('{{dir}}', dir));
    service = spawnService('containerd', ['--config', file], { env: options.env });
    const s = service;
    if (await waitReady(s, async () => (await ctr(socket, 'version')).code === 0, 30_000)) return { dir, socket, pid: s.child.pid!, logs: s.logs, stop };
    throw new Error(`reference containerd exited with ${s.child.exitCode ?? s.child.signalCode}: ${s.logs()}`);
  } catch (err) {
    await stop();
    if (err instanceof Error && err.message.startsWith('did not answer')) {
      throw new Error(`reference containerd ${err.message} on ${socket}: ${service?.logs() ?? ''}`);
    }
    throw err;
  }
}
