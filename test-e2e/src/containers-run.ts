// Shared by the container tests: the busybox image on a loopback registry pulled into both
// daemons, and what a daemon must not leave behind once its containers are gone (bundles,
// work dirs, runc state, shims, mounts, cgroups, leases).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxImage } from './busybox-image.js';
import { type RunResult, type Service, containerdTs, ctr, spawnService } from './harness.js';
import { type Registry, pushImage, startRegistry } from './registry.js';

export interface ImageSource {
  registry: Registry;
  /** `127.0.0.1:PORT/busybox:1`. */
  ref: string;
}

export async function serveBusybox(): Promise<ImageSource> {
  const registry = await startRegistry();
  const ref = await pushImage(registry, 'busybox', '1', busyboxImage());
  return { registry, ref };
}

export async function pullInto(socket: string, namespace: string, ref: string): Promise<void> {
  const r = await ctr(socket, '-n', namespace, 'images', 'pull', '--plain-http', ref);
  if (r.code !== 0) throw new Error(`pull ${ref} into ${socket}: ${r.stderr}`);
}

const list = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

/**
 * Test clean-up: kills and deletes the tasks and containers `ids` whatever state they are in,
 * ignoring what is already gone. `unlabelRestart` first drops the restart monitor's label,
 * which would otherwise bring a killed task back; `concurrent` removes them all at once.
 */
export async function removeContainers(socket: string, namespace: string, ids: readonly string[], opts: { unlabelRestart?: boolean; concurrent?: boolean } = {}): Promise<void> {
  const c = (...args: string[]) => ctr(socket, '-n', namespace, ...args).catch(() => undefined);
  const remove = async (id: string) => {
    if (opts.unlabelRestart) await c('containers', 'label', id, 'containerd.io/restart.status=');
    await c('tasks', 'kill', '-s', 'KILL', id);
    await c('tasks', 'delete', '-f', id);
    await c('containers', 'delete', id);
  };
  if (opts.concurrent) await Promise.all(ids.map(remove));
  else for (const id of ids) await remove(id);
}

/** Shim processes serving a daemon (their `-address` is its socket). */
export function shimsOf(socket: string): number[] {
  const pids: number[] = [];
  for (const p of list('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!cmdline[0]?.includes('containerd-shim')) continue;
    const at = cmdline.indexOf('-address');
    if (at >= 0 && cmdline[at + 1] === socket) pids.push(Number(p));
  }
  return pids;
}

/** cgroup directories `/<namespace>/<id>` left in any hierarchy. */
function cgroupsOf(namespace: string, ids: readonly string[]): string[] {
  const out: string[] = [];
  const roots = existsSync('/sys/fs/cgroup/cgroup.controllers') ? ['/sys/fs/cgroup'] : list('/sys/fs/cgroup').map((c) => join('/sys/fs/cgroup', c));
  for (const root of roots) {
    for (const id of ids) {
      const dir = join(root, namespace, id);
      if (existsSync(dir)) out.push(dir);
    }
  }
  return out;
}

export interface DaemonDirs {
  socket: string;
  root: string;
  state: string;
}

/**
 * Starts containerd-ts again on the root, state and socket of `d` (after a stop or a
 * `kill -9`), with `env` added to the environment; resolves once `ctr version` answers.
 */
export async function restartDaemon(d: DaemonDirs, env: NodeJS.ProcessEnv = {}): Promise<Service> {
  const svc = spawnService(containerdTs, ['--root', d.root, '--state', d.state, '--address', d.socket], { env: { ...process.env, ...env } });
  for (let i = 0; i < 400; i++) {
    if (svc.child.exitCode !== null || svc.child.signalCode !== null) throw new Error(`containerd-ts exited: ${svc.logs()}`);
    if ((await ctr(d.socket, 'version')).code === 0) return svc;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`containerd-ts did not answer after restart: ${svc.logs()}`);
}

/** The socket a runc shim of `id` listens on (containerd's shim.SocketAddress). */
export function shimSocket(socket: string, namespace: string, id: string): string {
  return `/run/containerd/s/${createHash('sha256').update(join(socket, namespace, id)).digest('hex')}`;
}

/**
 * What a containerd-ts daemon left of a namespace's containers; empty when nothing leaks.
 * Shims get a few seconds to exit after their task is deleted.
 */
export async function leftovers(d: DaemonDirs, namespace: string, ids: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < 100 && shimsOf(d.socket).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of shimsOf(d.socket)) out.push(`shim process ${pid}`);
  for (const e of list(join(d.state, 'io.containerd.runtime.v2.task', namespace))) out.push(`bundle ${e}`);
  for (const e of list(join(d.root, 'io.containerd.runtime.v2.task', namespace))) out.push(`work dir ${e}`);
  for (const e of list(join(d.state, 'runc', namespace))) out.push(`runc state ${e}`);
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const target = line.split(' ')[4];
    if (target && (target.startsWith(d.root) || target.startsWith(d.state))) out.push(`mount ${target}`);
  }
  for (const dir of cgroupsOf(namespace, ids)) out.push(`cgroup ${dir}`);
  for (const id of ids) if (existsSync(shimSocket(d.socket, namespace, id))) out.push(`shim socket of ${id}`);
  const leases = await ctr(d.socket, '-n', namespace, 'leases', 'ls', '-q');
  for (const l of leases.stdout.split('\n').filter(Boolean)) out.push(`lease ${l}`);
  const containers = await ctr(d.socket, '-n', namespace, 'containers', 'ls', '-q');
  for (const c of containers.stdout.split('\n').filter(Boolean)) out.push(`container ${c}`);
  return out;
}

/** A ctr result as one comparable text, with the namespace and pids made neutral. */
export function comparable(r: RunResult, namespace: string): string {
  return `${r.stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`
    .replaceAll(namespace, '<ns>')
    .replace(/time="[^"]*"/g, 'time="<time>"')
    .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)? \+0000 UTC/g, '<time>');
}
