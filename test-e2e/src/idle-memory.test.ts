// The daemon gives memory back once it goes quiet (packages/daemon/src/idle-memory.ts): once
// shortly after start-up, then once per quiet spell after calls — a compacting full GC and
// malloc_trim — and it still answers, with everything it held, afterwards.
import { LeasesService } from '@containerd-ts/api/services/leases';
import { Connection } from '@containerd-ts/client';
import { afterEach, describe, expect, it } from 'vitest';
import { ctr, type StartedDaemon, startDaemon } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Release {
  ms: number;
  rssBefore: number;
  rssAfter: number;
}

/** The daemon's "released memory after going idle" lines so far (JSON log). */
function releases(d: StartedDaemon): Release[] {
  return d
    .logs()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => o.msg === 'released memory after going idle')
    .map((o) => ({ ms: Number(o.ms), rssBefore: Number(o.rssBefore), rssAfter: Number(o.rssAfter) }));
}

async function waitReleases(d: StartedDaemon, n: number, timeoutMs: number): Promise<Release[]> {
  const until = performance.now() + timeoutMs;
  while (releases(d).length < n && performance.now() < until) await sleep(50);
  return releases(d);
}

let daemon: StartedDaemon | undefined;
afterEach(async () => {
  await daemon?.cleanup();
  daemon = undefined;
});

describe('idle memory release', () => {
  it('releases after start-up and once per quiet spell after calls, giving memory back, and still serves', async () => {
    daemon = await startDaemon({ config: 'version = 2\n[debug]\n  level = "debug"\n  format = "json"\n' });
    // start-up: the first release comes within a second or two (300 ms of quiet), not only after 2 s
    expect(await waitReleases(daemon, 1, 10_000)).toHaveLength(1);

    // a burst of calls: 3,000 leases with labels (garbage in the heap and the C allocator)
    const conn = new Connection(daemon.socket, { namespace: 'idle-memory-e2e' });
    try {
      await conn.ready();
      let next = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < 3000) {
            const i = next++;
            await conn.unary(LeasesService.create, { id: `lease-${i}`, labels: { index: String(i), pad: 'x'.repeat(200) } });
          }
        }),
      );
      const lastCall = performance.now();
      expect(releases(daemon)).toHaveLength(1); // nothing while calls come
      const after = await waitReleases(daemon, 2, 20_000);
      expect(after).toHaveLength(2);
      // not before the daemon had been quiet for the usual period (2 s)
      expect(performance.now() - lastCall).toBeGreaterThan(1900);
      const release = after[1]!;
      expect(release.rssAfter).toBeLessThan(release.rssBefore);

      // it still answers, with everything it had
      expect((await ctr(daemon.socket, 'version')).code).toBe(0);
      const listed = await conn.unary(LeasesService.list, { filters: ['labels.index==2999'] });
      expect(listed.leases.map((l) => l.id)).toEqual(['lease-2999']);
      expect((await conn.unary(LeasesService.list, { filters: [] })).leases).toHaveLength(3000);
    } finally {
      conn.close();
    }
    // those calls make one more quiet spell: one more release, then nothing while idle
    expect(await waitReleases(daemon, 3, 20_000)).toHaveLength(3);
    await sleep(3000);
    expect(releases(daemon)).toHaveLength(3);
  }, 90_000);
});
