import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBlkio, parsePartitions, readV1Metrics } from './cgroup-v1.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/v1/${name}`, import.meta.url));
const dirs = new Map(['memory', 'cpu', 'cpuacct', 'pids', 'blkio'].map((c) => [c, fixture(c)]));
const procRoot = fileURLToPath(new URL('../fixtures/v1/', import.meta.url));
const read = (name: string) => readFileSync(fixture(name), 'utf8').trim();

describe('readV1Metrics on a cgroup v1 tree recorded on this project\'s host', () => {
  it('reads every controller as containerd\'s cgroups library does', async () => {
    const m = await readV1Metrics(dirs, procRoot);
    expect(m.pids).toEqual({ current: BigInt(read('pids/pids.current')), limit: 100n });
    expect(m.memory?.usage?.usage).toBe(BigInt(read('memory/memory.usage_in_bytes')));
    expect(m.memory?.usage?.usage).toBeGreaterThan(20n << 20n); // the recorded process touched 20 MiB
    expect(m.memory?.usage?.limit).toBe(64n << 20n);
    expect(m.memory?.usage?.max).toBe(BigInt(read('memory/memory.max_usage_in_bytes')));
    expect(m.memory?.swap?.usage).toBe(BigInt(read('memory/memory.memsw.usage_in_bytes')));
    const stat = Object.fromEntries(read('memory/memory.stat').split('\n').map((l) => l.split(' ')));
    expect(m.memory?.rss).toBe(BigInt(stat.rss));
    expect(m.memory?.totalRss).toBe(BigInt(stat.total_rss));
    expect(m.memory?.hierarchicalMemoryLimit).toBe(64n << 20n);
    expect(m.memoryOomControl?.oomKill).toBe(0n);
    const [, user, , system] = read('cpuacct/cpuacct.stat').split(/\s+/);
    expect(m.cpu?.usage?.user).toBe(BigInt(user ?? '') * 10_000_000n);
    expect(m.cpu?.usage?.kernel).toBe(BigInt(system ?? '') * 10_000_000n);
    expect(m.cpu?.usage?.total).toBe(BigInt(read('cpuacct/cpuacct.usage')));
    expect(m.cpu?.usage?.perCpu.reduce((a, b) => a + b, 0n)).toBe(m.cpu?.usage?.total);
    expect(m.cpu?.throttling?.periods).toBe(0n);
    // no CFQ on this host: the throttle files, whose only line is `Total 0`
    expect(m.blkio?.ioServiceBytesRecursive).toEqual([]);
  });

  it('leaves out controllers the task has no directory for', async () => {
    const m = await readV1Metrics(new Map([['pids', fixture('pids')]]), procRoot);
    expect(m.memory).toBeUndefined();
    expect(m.blkio).toBeUndefined();
    expect(m.pids?.limit).toBe(100n);
  });

  it('fails on a cgroup that went away', async () => {
    await expect(readV1Metrics(new Map([['memory', fixture('gone')]]), procRoot)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('parses blkio lines with and without an op, naming devices from /proc/partitions', () => {
    const devices = parsePartitions('major minor  #blocks  name\n\n 254        0   52428800 vda\n 254        1   52427759 vda1\n');
    expect(devices.get('254:1')).toBe('/dev/vda1');
    expect(parseBlkio('254:0 Read 4096\n254:0 Write 0\n254:1 12\nTotal 4096\n', devices)).toEqual([
      { op: 'Read', device: '/dev/vda', major: 254n, minor: 0n, value: 4096n },
      { op: 'Write', device: '/dev/vda', major: 254n, minor: 0n, value: 0n },
      { op: '', device: '/dev/vda1', major: 254n, minor: 1n, value: 12n },
    ]);
  });
});
