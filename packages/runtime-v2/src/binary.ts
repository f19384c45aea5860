// The shim binary: runtime name → path as containerd resolves it, and the two commands
// the daemon runs itself — `start` (prints the address of the shim it launched) and
// `delete` (cleans up after a shim that is gone, prints a DeleteResponse) — with
// containerd 1.6's arguments and environment.
import { spawn } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Any } from '@containerd-ts/api';
import { Any as AnyCodec } from '@containerd-ts/api/types/any';
import { DeleteResponse } from '@containerd-ts/api/runtime/task';
import { lookPath } from '@containerd-ts/snapshots';
import { type Timestamp, now } from '@containerd-ts/timestamp';
import type { Bundle } from './bundle.js';

/** containerd's shim binary name for a runtime name: `io.containerd.runc.v2` → `containerd-shim-runc-v2`; '' when malformed. */
export function shimBinaryName(runtime: string): string {
  const parts = runtime.split('.');
  if (parts.length < 2) return '';
  return `containerd-shim-${parts[parts.length - 2]}-${parts[parts.length - 1]}`;
}

/** Resolves runtime names to shim paths (cached per binary name, as containerd). */
export class RuntimeResolver {
  private readonly cache = new Map<string, string>();

  constructor(private readonly selfDir: string = dirname(process.argv[1] ?? process.execPath)) {}

  resolve(runtime: string): string {
    if (runtime === '') throw new Error('no runtime name');
    if (isAbsolute(runtime)) {
      try {
        statSync(runtime);
      } catch (err) {
        throw new Error(`invalid custom binary path: stat ${runtime}: ${describeErrno(err)}`, { cause: err });
      }
      return runtime;
    }
    const name = shimBinaryName(runtime);
    if (name === '') {
      throw new Error(
        `invalid runtime name ${runtime}, correct runtime name should be either format like \`io.containerd.runc.v1\` or a full path to the binary`,
      );
    }
    const cached = this.cache.get(name);
    if (cached) return cached;
    // A runtime name with a directory part (`/opt/x/io.containerd.foo.v1` is absolute and
    // handled above; `dir/io.containerd.foo.v1` is relative) names the binary beside it.
    let path: string | undefined;
    const beside = resolve(dirname(runtime), name);
    if (existsSync(beside)) path = beside;
    path ??= lookPath(name);
    if (path === undefined && existsSync(join(this.selfDir, name))) path = join(this.selfDir, name);
    if (path === undefined) throw new Error(`runtime ${JSON.stringify(runtime)} binary not installed ${JSON.stringify(name)}: file does not exist`);
    path = resolve(path);
    this.cache.set(name, path);
    return path;
  }
}

function describeErrno(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
}

export interface ShimCommandConfig {
  /** Path of the shim binary. */
  runtime: string;
  /** The daemon's gRPC address. */
  address: string;
  /** Where shims forward events (TTRPC_ADDRESS). */
  ttrpcAddress: string;
  /** What `-publish-binary` names (containerd passes its own executable). */
  publishBinary: string;
  schedCore: boolean;
  debug: boolean;
}

export interface Exit {
  pid: number;
  status: number;
  /** When the process exited, with the shim's nanoseconds. */
  timestamp: Timestamp | undefined;
}

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** stdout and stderr as they interleaved. */
  combined: Buffer;
}

/** Go's exec error text for a finished command. */
function exitText(r: { code: number | null; signal: NodeJS.Signals | null }): string {
  return r.signal ? `signal: ${signalName(r.signal)}` : `exit status ${r.code}`;
}

function signalName(signal: NodeJS.Signals): string {
  return signal === 'SIGKILL' ? 'killed' : signal === 'SIGTERM' ? 'terminated' : signal.toLowerCase().replace(/^sig/, '');
}

function runShim(
  config: ShimCommandConfig,
  namespace: string,
  args: readonly string[],
  options: { cwd: string | undefined; stdin?: Uint8Array; timeoutMs?: number; signal?: AbortSignal },
): Promise<CommandResult> {
  const argv = ['-namespace', namespace, '-address', config.address, '-publish-binary', config.publishBinary, ...args];
  const env: NodeJS.ProcessEnv = { ...process.env, GOMAXPROCS: '2', TTRPC_ADDRESS: config.ttrpcAddress };
  if (config.schedCore) env.SCHED_CORE = '1';
  return new Promise((resolvePromise, reject) => {
    const child = spawn(config.runtime, argv, {
      cwd: options.cwd,
      env,
      // containerd starts the shim in its own process group, so a signal to the daemon's
      // group (Ctrl-C) does not reach the shims.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.timeoutMs ? { timeout: options.timeoutMs, killSignal: 'SIGKILL' as const } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const combined: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => {
      stdout.push(d);
      combined.push(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr.push(d);
      combined.push(d);
    });
    child.stdin.on('error', () => {
      // the shim may exit without reading its options
    });
    child.stdin.end(options.stdin ? Buffer.from(options.stdin) : undefined);
    child.once('error', (err) => reject(err));
    child.once('close', (code, signal) =>
      resolvePromise({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), combined: Buffer.concat(combined) }),
    );
  });
}

/**
 * Runs `<shim> … -id <id> [-debug] start` in the bundle with the runtime options on
 * stdin, and returns the address the shim printed.
 */
export async function startShim(
  config: ShimCommandConfig,
  bundle: Bundle,
  options: Any | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const args = ['-id', bundle.id, ...(config.debug ? ['-debug'] : []), 'start'];
  const stdin = options ? AnyCodec.encode(options).finish() : undefined;
  const r = await runShim(config, bundle.namespace, args, { cwd: bundle.path, ...(stdin ? { stdin } : {}), ...(signal ? { signal } : {}) });
  if (r.code !== 0) throw new Error(`${r.combined.toString()}: ${exitText(r)}`);
  return r.combined.toString().trim();
}

/**
 * Runs `<shim> … -id <id> -bundle <path> delete` (the shim cleans up runc's state and
 * the rootfs mount of a task whose shim is gone) and returns the exit it reports.
 */
export async function deleteShim(config: ShimCommandConfig, bundle: Bundle, timeoutMs: number): Promise<Exit> {
  const args = ['-id', bundle.id, '-bundle', bundle.path, 'delete'];
  // The shim works out of its bundle; when that is gone it still runs from / and reports.
  const cwd = existsSync(bundle.path) ? bundle.path : '/';
  const r = await runShim(config, bundle.namespace, args, { cwd, timeoutMs });
  if (r.code !== 0) throw new Error(`${r.stderr.toString()}: ${exitText(r)}`);
  const response = DeleteResponse.decode(r.stdout);
  return { pid: response.pid, status: response.exitStatus, timestamp: response.exitedAt ?? now() };
}

/** What containerd passes as `-publish-binary`: the daemon's own executable (our launcher when there is one). */
export function defaultPublishBinary(): string {
  const script = process.argv[1];
  if (script) {
    try {
      return realpathSync(script);
    } catch {
      // fall through
    }
  }
  return process.execPath;
}
