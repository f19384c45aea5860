import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseIoStat, readV2Metrics } from './cgroup-v2.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/v2/${name}`, import.meta.url));

describe('readV2Metrics on recorded cgroup v2 trees', () => {
  it('reads a limited container: pids, cpu, memory, memory.events, io and hugetlb', async () => {
    const m = await readV2Metrics(fixture('limited'));
    expect(m.pids).toEqual({ current: 3n, limit: 100n });
    expect(m.cpu).toEqual({ usageUsec: 1843221n, userUsec: 1520117n, systemUsec: 323104n, nrPeriods: 120n, nrThrottled: 7n, throttledUsec: 40521n });
    expect(m.memory?.usage).toBe(55705600n);
    expect(m.memory?.usageLimit).toBe(67108864n);
    // `max` (no limit) reads as 0, as containerd's library does for memory files
    expect(m.memory?.swapLimit).toBe(0n);
    expect(m.memory?.anon).toBe(53096448n);
    expect(m.memory?.fileMapped).toBe(860160n);
    expect(m.memory?.slab).toBe(1077248n);
    expect(m.memory?.pgfault).toBe(13377n);
    expect(m.memory?.pgmajfault).toBe(2n);
    expect(m.memoryEvents).toEqual({ low: 0n, high: 0n, max: 14n, oom: 1n, oomKill: 1n });
    expect(m.io?.usage).toEqual([
      { major: 254n, minor: 0n, rbytes: 1458176n, wbytes: 4096n, rios: 62n, wios: 1n },
      { major: 7n, minor: 0n, rbytes: 20480n, wbytes: 0n, rios: 5n, wios: 0n },
    ]);
    expect(m.hugetlb.map((h) => h.pagesize).sort()).toEqual(['1GB', '2MB']);
  });

  it('reads an unlimited container: pids.max `max` is 2^64-1, absent files are zero, cpu needs its controller', async () => {
    const m = await readV2Metrics(fixture('unlimited'));
    expect(m.pids).toEqual({ current: 1n, limit: 18446744073709551615n });
    expect(m.memory?.usage).toBe(872448n);
    expect(m.memory?.usageLimit).toBe(0n);
    expect(m.memory?.anon).toBe(225280n);
    expect(m.memoryEvents).toBeUndefined();
    expect(m.io?.usage).toEqual([]);
    // cgroup.controllers lists no cpu: containerd's library leaves the cpu fields at 0
    expect(m.cpu?.usageUsec).toBe(0n);
  });

  it('rejects nothing it does not understand in io.stat', () => {
    expect(parseIoStat('8:0 rbytes=1 wbytes=x rios=2 other=3\nbogus\n')).toEqual([{ major: 8n, minor: 0n, rbytes: 1n, wbytes: 0n, rios: 2n, wios: 0n }]);
  });
});
