// Where a process's cgroups are: the cgroup mounts from mountinfo and the process's
// /proc/<pid>/cgroup lines, and which cgroup mode the host runs (as containerd's
// cgroups.Mode(): unified when /sys/fs/cgroup itself is cgroup2).
import { join } from 'node:path';

export type CgroupMode = 'legacy' | 'hybrid' | 'unified';

export interface CgroupMount {
  readonly mountPoint: string;
  /** The hierarchy path mounted there (`/` unless a cgroup namespace or bind mount). */
  readonly root: string;
  readonly version: 1 | 2;
  /** v1 controllers of the hierarchy (`cpu`, `cpuacct`, `name=systemd`, …). */
  readonly controllers: readonly string[];
}

const unescapeMount = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
const MOUNT_OPTIONS = new Set(['rw', 'ro']);

/** The cgroup and cgroup2 mounts of a mountinfo text. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const out: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post) continue;
    const f = pre.split(' ');
    const [fstype, , superOptions = ''] = post.split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    out.push({
      mountPoint: unescapeMount(f[4] ?? ''),
      root: unescapeMount(f[3] ?? '/'),
      version: fstype === 'cgroup2' ? 2 : 1,
      controllers: fstype === 'cgroup' ? superOptions.split(',').filter((o) => !MOUNT_OPTIONS.has(o)) : [],
    });
  }
  return out;
}

export function cgroupMode(mounts: readonly CgroupMount[], base = '/sys/fs/cgroup'): CgroupMode {
  if (mounts.some((m) => m.version === 2 && m.mountPoint === base)) return 'unified';
  if (mounts.some((m) => m.version === 2 && m.mountPoint === join(base, 'unified'))) return 'hybrid';
  return 'legacy';
}

export interface ProcCgroup {
  readonly controllers: readonly string[];
  readonly path: string;
}

/** /proc/<pid>/cgroup: `hierarchy-id:controller,list:/path` lines (`0::/path` for v2). */
export function parseProcCgroup(text: string): ProcCgroup[] {
  const out: ProcCgroup[] = [];
  for (const line of text.split('\n')) {
    const first = line.indexOf(':');
    const second = line.indexOf(':', first + 1);
    if (first < 0 || second < 0) continue;
    const list = line.slice(first + 1, second);
    out.push({ controllers: list ? list.split(',') : [], path: line.slice(second + 1) });
  }
  return out;
}

const under = (mount: CgroupMount, path: string): string =>
  join(mount.mountPoint, mount.root !== '/' && path.startsWith(mount.root) ? path.slice(mount.root.length) : path);

/** The v1 directory of each controller the process is in. */
export function v1Dirs(proc: readonly ProcCgroup[], mounts: readonly CgroupMount[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of proc) {
    for (const controller of entry.controllers) {
      const mount = mounts.find((m) => m.version === 1 && m.controllers.includes(controller));
      if (mount) out.set(controller, under(mount, entry.path));
    }
  }
  return out;
}

/** The unified directory of the process (the `0::` line under the cgroup2 mount). */
export function v2Dir(proc: readonly ProcCgroup[], mounts: readonly CgroupMount[]): string | undefined {
  const entry = proc.find((e) => e.controllers.length === 0 && !e.path.startsWith('name='));
  const mount = mounts.find((m) => m.version === 2);
  return entry && mount ? under(mount, entry.path) : undefined;
}
