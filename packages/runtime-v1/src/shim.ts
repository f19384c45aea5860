// Starting Debian's runtime v1 shim (`containerd-shim`) as containerd 1.6's
// runtime/v1/shim/client does: its flags (-namespace -workdir -address
// -containerd-binary [-criu] [-runtime-root] [-systemd-cgroup] [-debug]), GOMAXPROCS=2, a
// process group of its own, the bundle as working directory, stdout and stderr on the
// work dir's `shim.stdout.log` / `shim.stderr.log` fifos, an OOM score one above the
// daemon's. The shim is the daemon's child (it does not daemonise): whoever starts it
// reaps it (`reapShim`).
//
// containerd creates the listening socket and hands it over as fd 3; containerd-ts passes
// the same address with the shim's `-socket` flag instead and the shim listens itself
// (its socket is ready once a connection succeeds).
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeFileSync, constants as fsConstants } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createFifo } from '@containerd-ts/runtime-v2';
import { posixSpawn, waitpidNoHang } from '@containerd-ts/sys';

/** Where containerd puts the v1 shims' sockets (`unix:///run/containerd/s/<hash>`). */
export const SOCKET_ROOT = '/run/containerd/s';
/** Longest unix socket path Go accepts for the shim's socket. */
const SOCKET_PATH_LIMIT = 106;

/** The shim's socket address for a task: containerd's sha256 of `<daemon address>/<ns>/<id>`. */
export function shimAddress(daemonAddress: string, namespace: string, id: string): string {
  const hash = createHash('sha256').update(join(daemonAddress, namespace, id)).digest('hex');
  return `unix://${join(SOCKET_ROOT, hash)}`;
}

/** The file system path of a `unix://` address; undefined for an abstract socket. */
export function socketPath(address: string): string | undefined {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : undefined;
}

/** Removes a shim's socket file (an abstract socket has none). */
export async function removeSocket(address: string): Promise<void> {
  const path = socketPath(address);
  if (path !== undefined) await rm(path, { force: true });
}

export interface ShimSpawnConfig {
  /** Path of `containerd-shim`. */
  shim: string;
  /** The daemon's gRPC address (`-address`, where `publish` sends events). */
  address: string;
  /** What `-containerd-binary` names: the executable the shim runs `publish` with. */
  publishBinary: string;
  debug: boolean;
}

export interface ShimSpawnOptions {
  namespace: string;
  /** The bundle (the shim's working directory). */
  bundlePath: string;
  /** `<root>/<namespace>/<id>`: `-workdir`, where the shim's log fifos are. */
  workDir: string;
  /** The socket the shim serves. */
  socket: string;
  criuPath: string;
  runtimeRoot: string;
  systemdCgroup: boolean;
}

/** The shim's argv, containerd's flags in containerd's order (then `-socket`). */
export function shimArgs(config: ShimSpawnConfig, options: ShimSpawnOptions): string[] {
  const args = [config.shim, '-namespace', options.namespace, '-workdir', options.workDir, '-address', config.address, '-containerd-binary', config.publishBinary];
  if (options.criuPath !== '') args.push('-criu', options.criuPath);
  if (options.runtimeRoot !== '') args.push('-runtime-root', options.runtimeRoot);
  if (options.systemdCgroup) args.push('-systemd-cgroup');
  if (config.debug) args.push('-debug');
  args.push('-socket', options.socket);
  return args;
}

/** The shim's stdout and stderr fifos in its work dir (the shim also logs into them). */
export function shimLogPaths(workDir: string): { stdout: string; stderr: string } {
  return { stdout: join(workDir, 'shim.stdout.log'), stderr: join(workDir, 'shim.stderr.log') };
}

/** Starts the shim; returns its pid. The caller has the log fifos' readers open already. */
export async function spawnShim(config: ShimSpawnConfig, options: ShimSpawnOptions): Promise<number> {
  const path = socketPath(options.socket);
  if ((path ?? options.socket).length > SOCKET_PATH_LIMIT) {
    throw new Error(`${JSON.stringify(options.socket)}: unix socket path too long (> ${SOCKET_PATH_LIMIT})`);
  }
  if (path !== undefined) {
    await mkdir(join(path, '..'), { recursive: true, mode: 0o700 });
    // A socket left by a shim that died (EADDRINUSE otherwise), as containerd removes it.
    await rm(path, { force: true });
  }
  const logs = shimLogPaths(options.workDir);
  await createFifo(logs.stdout);
  await createFifo(logs.stderr);
  const flags = fsConstants.O_RDWR | fsConstants.O_NONBLOCK;
  const fds: number[] = [];
  try {
    fds.push(openSync('/dev/null', fsConstants.O_RDONLY));
    fds.push(openSync(logs.stdout, flags));
    fds.push(openSync(logs.stderr, flags));
    const env = Object.entries({ ...process.env, GOMAXPROCS: '2' }).flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${v}`]));
    const pid = posixSpawn({
      path: config.shim,
      argv: shimArgs(config, options),
      env,
      cwd: options.bundlePath,
      stdio: [fds[0]!, fds[1]!, fds[2]!],
      newProcessGroup: true,
    });
    setupOOMScore(pid);
    return pid;
  } finally {
    for (const fd of fds) closeSync(fd);
  }
}

/** Gives the shim the daemon's OOM score adjustment + 1 (at most 1000), as containerd. */
function setupOOMScore(pid: number): void {
  try {
    const score = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim());
    writeFileSync(`/proc/${pid}/oom_score_adj`, String(Math.min(score + 1, 1000)));
  } catch {
    // the shim is gone already, or /proc is not writable: it keeps the daemon's score
  }
}

/**
 * Resolves once the shim has exited: reaped when it is the daemon's child (polling, the
 * daemon has no SIGCHLD handler of its own), else (a shim of an earlier daemon, re-parented)
 * once it no longer exists, as containerd's waitForExit polls kill(pid, 0).
 */
export function reapShim(pid: number, intervalMs = 50): Promise<void> {
  return new Promise((resolve) => {
    const poll = () => {
      let done: boolean;
      try {
        done = waitpidNoHang(pid).exited;
      } catch {
        done = !processAlive(pid); // ECHILD: not the daemon's child
      }
      if (done) resolve();
      else setTimeout(poll, intervalMs).unref();
    };
    poll();
  });
}

/** Whether a process exists (kill -0). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
