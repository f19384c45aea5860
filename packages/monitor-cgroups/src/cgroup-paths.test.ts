import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cgroupMode, parseCgroupMounts, parseProcCgroup, v1Dirs, v2Dir } from './cgroup-paths.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url)), 'utf8');

describe('cgroup paths', () => {
  it('finds a process\'s v1 directories on a hybrid host (recorded mountinfo and /proc/<pid>/cgroup)', () => {
    const mounts = parseCgroupMounts(fixture('v1/mountinfo'));
    expect(cgroupMode(mounts)).toBe('hybrid');
    const dirs = v1Dirs(parseProcCgroup(fixture('v1/proc-cgroup')), mounts);
    expect(dirs.get('memory')).toBe('/sys/fs/cgroup/memory/h10fixture');
    expect(dirs.get('cpuacct')).toBe('/sys/fs/cgroup/cpuacct/h10fixture');
    expect(dirs.get('pids')).toBe('/sys/fs/cgroup/pids/h10fixture');
    expect(dirs.get('name=systemd')).toBe('/sys/fs/cgroup/systemd/');
  });

  it('finds the unified directory on a cgroup v2 host', () => {
    const mounts = parseCgroupMounts(fixture('v2/mountinfo'));
    expect(cgroupMode(mounts)).toBe('unified');
    expect(v2Dir(parseProcCgroup(fixture('v2/proc-cgroup-limited')), mounts)).toBe('/sys/fs/cgroup/k8s/limited');
  });

  it('maps co-mounted controllers and a mount of a sub-hierarchy (cgroup namespace)', () => {
    const mounts = parseCgroupMounts('30 22 0:28 /ns1 /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n');
    expect(cgroupMode(mounts)).toBe('legacy');
    const dirs = v1Dirs(parseProcCgroup('3:cpu,cpuacct:/ns1/web\n'), mounts);
    expect(dirs.get('cpu')).toBe('/sys/fs/cgroup/cpu,cpuacct/web');
    expect(dirs.get('cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct/web');
  });
});
