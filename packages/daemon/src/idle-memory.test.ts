import { describe, expect, it } from 'vitest';
import { IdleMemory } from './idle-memory.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `idle` has released `n` times. */
async function releasesReach(idle: IdleMemory, n: number): Promise<void> {
  while (idle.releases < n) await sleep(5);
}

describe('IdleMemory', () => {
  it('releases once after activity stops, and not again until there is new activity', async () => {
    let released = 0;
    const idle = new IdleMemory({ quietMs: 20, release: () => released++ });
    expect(idle.pending).toBe(false);
    idle.touch();
    idle.touch();
    expect(idle.pending).toBe(true);
    await releasesReach(idle, 1);
    expect(released).toBe(1);
    expect(idle.pending).toBe(false);
    // Quiet: nothing armed, nothing more released however long it stays idle.
    await sleep(80);
    expect(released).toBe(1);
    idle.touch();
    await releasesReach(idle, 2);
    expect(released).toBe(2);
    idle.close();
  });

  it('waits while calls keep coming', async () => {
    const events: string[] = [];
    const idle = new IdleMemory({ quietMs: 200, release: () => events.push('release') });
    // Activity every 5 ms for ~300 ms: never a quiet period of 200 ms.
    for (let i = 0; i < 60; i++) {
      idle.touch();
      await sleep(5);
    }
    events.push('stopped');
    await releasesReach(idle, 1);
    expect(events).toEqual(['stopped', 'release']);
    idle.close();
  });

  it('after start-up releases once quiet for the shorter start-up period, later calls wait the usual one', async () => {
    const events: string[] = [];
    const idle = new IdleMemory({ quietMs: 400, release: () => events.push('release') });
    const t0 = performance.now();
    idle.started(20);
    idle.touch(); // a call right after start: one more quiet period of 20 ms
    await releasesReach(idle, 1);
    expect(performance.now() - t0).toBeLessThan(300);
    idle.touch();
    await sleep(100);
    events.push('100 ms after a call');
    await releasesReach(idle, 2);
    expect(events).toEqual(['release', '100 ms after a call', 'release']);
    idle.close();
  });

  it('close cancels a pending release', async () => {
    let released = 0;
    const idle = new IdleMemory({ quietMs: 10, release: () => released++ });
    idle.touch();
    idle.close();
    await sleep(50);
    expect(released).toBe(0);
    expect(idle.pending).toBe(false);
  });
});
