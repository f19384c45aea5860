// Starts daemons (containerd-ts or the reference containerd) on temp dirs and runs the
// real `ctr` against them.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
export const referenceScript = resolve(repoRoot, '../shared/scripts/reference-containerd.sh');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], opts: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      cmd,
      args,
      { env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Runs Debian's `ctr` against a socket. */
export const ctr = (socket: string, ...args: string[]) => run('ctr', ['-a', socket, ...args]);

/** A long-running process started by a test, its output kept for error messages. */
export interface Service {
  child: ChildProcess;
  logs(): string;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** Sends `signal` unless the process has exited, and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export function spawnService(cmd: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Service {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    logs: () => output,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
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

/** Starts containerd-ts on a fresh temp root/state/socket; resolves once `ctr version` answers. */
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
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`containerd-ts exited with ${child.exitCode}: ${output()}`);
    const r = await ctr(socket, 'version');
    if (r.code === 0) return daemon;
    await new Promise((r2) => setTimeout(r2, 50));
  }
  await daemon.cleanup();
  throw new Error(`containerd-ts did not answer on ${socket}: ${output()}`);
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

/**
 * The reference containerd from Debian, via the shared script; with `config`, Debian's
 * containerd is started directly on that config text instead (`{{dir}}` is replaced by its
 * temp dir; root, state and the socket must live under it, the socket at
 * `{{dir}}/containerd.sock`), for tests that need proxy plugins or disabled plugins on it.
 */
export async function startReference(options: { config?: string } = {}): Promise<{ dir: string; socket: string; logs(): string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'refcd-'));
  if (options.config === undefined) {
    const r = await run('bash', [referenceScript, 'start', dir], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`reference containerd did not start: ${r.stderr}`);
    return {
      dir,
      socket: r.stdout.trim(),
      logs: () => {
        try {
          return readFileSync(join(dir, 'containerd.log'), 'utf8');
        } catch {
          return '';
        }
      },
      async stop() {
        await run('bash', [referenceScript, 'stop', dir]);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const socket = join(dir, 'containerd.sock');
  const file = join(dir, 'config.toml');
  await writeFile(file, options.config.replaceAll('{{dir}}', dir));
  const service = spawnService('containerd', ['--config', file]);
  const stop = async () => {
    await service.kill();
    await rm(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 200; i++) {
    if (service.child.exitCode !== null) throw new Error(`containerd exited with ${service.child.exitCode}: ${service.logs()}`);
    if ((await ctr(socket, 'version')).code === 0) return { dir, socket, logs: service.logs, stop };
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`containerd did not answer on ${socket}: ${service.logs()}`);
}
