// The shim binary: runtime name → path as containerd resolves it, and the two commands
// the daemon runs itself — `start` (prints the address of the shim it launched) and
// `delete` (cleans up after a shim that is gone, prints a DeleteResponse) — with
// containerd 1.6's arguments and environment.
import { closeSync, existsSync, realpathSync, statSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Any } from '@containerd-ts/api';
import { Any as AnyCodec } from '@containerd-ts/api/types/any';
import { DeleteResponse } from '@containerd-ts/api/runtime/task';
import { lookPath } from '@containerd-ts/snapshots';
import { pipe, posixSpawn, waitpidNoHang } from '@containerd-ts/sys';
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
  const argv = [config.runtime, '-namespace', namespace, '-address', config.address, '-publish-binary', config.publishBinary, ...args];
  const env: NodeJS.ProcessEnv = { ...process.env, GOMAXPROCS: '2', TTRPC_ADDRESS: config.ttrpcAddress };
  if (config.schedCore) env.SCHED_CORE = '1';
  if (options.signal?.aborted) return Promise.reject(options.signal.reason ?? new Error('aborted'));
  const [inR, inW] = pipe();
  const [outR, outW] = pipe();
  const [errR, errW] = pipe();
  let pid: number;
  try {
    // The options are a few bytes: the pipe holds them until the shim reads.
    if (options.stdin && options.stdin.length > 0) writeSync(inW, options.stdin);
    // containerd starts the shim in its own process group, so a signal to the daemon's
    // group (Ctrl-C) does not reach the shims. posix_spawn, not child_process: forking
    // the daemon would block it for as long as copying its page tables takes.
    pid = posixSpawn({
      path: config.runtime,
      argv,
      env: Object.entries(env).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`])),
      ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
      stdio: [inR, outW, errW],
      newProcessGroup: true,
    });
  } catch (err) {
    for (const fd of [outR, errR]) closeSync(fd);
    throw err;
  } finally {
    for (const fd of [inR, inW, outW, errW]) closeSync(fd);
  }
  return new Promise((resolvePromise, reject) => {
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const combined: Buffer[] = [];
    let open = 2;
    let timer: NodeJS.Timeout | undefined;
    const kill = () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const onAbort = () => kill();
    if (options.timeoutMs) timer = setTimeout(kill, options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Once both pipes are closed the shim has exited (or is about to): reap it.
    const reap = (delay: number) => {
      let status: ReturnType<typeof waitpidNoHang>;
      try {
        status = waitpidNoHang(pid);
      } catch (err) {
        reject(err);
        return;
      }
      if (!status.exited) {
        setTimeout(() => reap(Math.min(delay * 2, 50)), delay);
        return;
      }
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (options.signal?.aborted) {
        reject(options.signal.reason ?? new Error('aborted'));
        return;
      }
      resolvePromise({ code: status.code, signal: status.signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), combined: Buffer.concat(combined) });
    };
    const read = (fd: number, into: Buffer[]) => {
      const socket = new Socket({ fd, readable: true, writable: false });
      socket.on('data', (d: Buffer) => {
        into.push(d);
        combined.push(d);
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        if (--open === 0) reap(1);
      });
    };
    read(outR, stdout);
    read(errR, stderr);
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

/** Set by `bin/containerd-ts` to its own path: the daemon's executable. */
export const BINARY_ENV = 'CONTAINERD_TS_BINARY';

/**
 * What containerd passes as `-publish-binary` (and the v1 shim's `-containerd-binary`): the
 * daemon's own executable — `bin/containerd-ts` when it started the daemon (it says so in
 * CONTAINERD_TS_BINARY), else the script node runs (the bundle's launcher).
 */
export function defaultPublishBinary(env: NodeJS.ProcessEnv = process.env): string {
  const launcher = env[BINARY_ENV];
  if (launcher && isAbsolute(launcher) && existsSync(launcher)) return launcher;
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
