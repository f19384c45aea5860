import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { IdleMemory, MemoryRelease, fullGC, startupGC } from './idle-memory.js';

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

  it('waits while a call is in progress, though nothing starts or ends', async () => {
    let open = 1;
    let released = 0;
    const idle = new IdleMemory({ quietMs: 20, release: () => released++, busy: () => open > 0 });
    idle.touch();
    await sleep(120);
    expect(released).toBe(0);
    expect(idle.pending).toBe(true);
    open = 0;
    await releasesReach(idle, 1);
    expect(released).toBe(1);
    idle.close();
  });

  it('after start-up releases once quiet for the shorter start-up period, later calls wait the usual one', async () => {
    const events: string[] = [];
    const idle = new IdleMemory({ quietMs: 400, release: (afterStart) => events.push(afterStart ? 'release after start' : 'release') });
    const t0 = performance.now();
    idle.started(20);
    idle.touch(); // a call right after start: one more quiet period of 20 ms
    await releasesReach(idle, 1);
    expect(performance.now() - t0).toBeLessThan(300);
    idle.touch();
    await sleep(100);
    events.push('100 ms after a call');
    await releasesReach(idle, 2);
    expect(events).toEqual(['release after start', '100 ms after a call', 'release']);
    idle.close();
  });

  it("counts a release as the start-up's only when it comes soon after the start", async () => {
    const seen: boolean[] = [];
    const idle = new IdleMemory({ quietMs: 20, afterStartWithinMs: 150, release: (afterStart) => seen.push(afterStart) });
    idle.started(20);
    await releasesReach(idle, 1);
    // a daemon that went straight to work: calls keep coming for longer than the window
    idle.started(20);
    const until = performance.now() + 250;
    while (performance.now() < until) {
      idle.touch();
      await sleep(5);
    }
    await releasesReach(idle, 2);
    expect(seen).toEqual([true, false]);
    idle.close();
  });

  it('after start-up releases after the shorter period even when a call during start armed the usual one', async () => {
    let released = 0;
    const idle = new IdleMemory({ quietMs: 5000, release: () => released++ });
    const t0 = performance.now();
    idle.touch(); // a client that connected while the daemon was still starting
    idle.started(20);
    await releasesReach(idle, 1);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(released).toBe(1);
    idle.close();
  });

  it('settles once the daemon stays quiet after a release, and not when calls come in between', async () => {
    const events: string[] = [];
    const idle = new IdleMemory({ quietMs: 20, release: () => events.push('release'), settle: { afterMs: 300, run: () => events.push('settle') } });
    idle.touch();
    await releasesReach(idle, 1);
    expect(idle.pending).toBe(false);
    while (idle.settled < 1) await sleep(5);
    expect(events).toEqual(['release', 'settle']);
    await sleep(100);
    expect(events).toEqual(['release', 'settle']); // nothing more while idle

    // calls between the release and the settle step: no settle, a new release after them
    idle.touch();
    await releasesReach(idle, 2);
    idle.touch();
    expect(idle.pending).toBe(true);
    await releasesReach(idle, 3);
    while (idle.settled < 2) await sleep(5);
    expect(events).toEqual(['release', 'settle', 'release', 'release', 'settle']);
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

describe('MemoryRelease', () => {
  const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')!;

  it('compacts the heap: the pages a burst left sparsely used go back, which a plain full GC keeps', () => {
    // The test's own collections: node's gc, exposed in a new context (neither vitest nor the
    // daemon runs node with --expose-gc; the release finds its collector through fullGC).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    {
      // a burst: 40 MB of small objects, one in 50 still referenced afterwards, spread over every page
      let burst: Array<{ i: number; s: string }> | undefined = [];
      for (let i = 0; i < 400_000; i++) burst.push({ i, s: `object ${i}` });
      gc(); // promoted to old space
      const survivors = burst.filter((_, i) => i % 50 === 0);
      burst = undefined;
      gc();
      const plain = oldSpace();
      // most of old space is free yet committed
      expect(plain.space_size - plain.space_used_size).toBeGreaterThan(8 << 20);
      expect(new MemoryRelease().release()).toBe(true); // the first release always collects
      const released = oldSpace();
      expect(released.space_size).toBeLessThan(plain.space_size - (8 << 20));
      expect(released.space_size - released.space_used_size).toBeLessThan(4 << 20);
      // what was still referenced survived the move
      expect(survivors.length).toBe(8000);
      expect(survivors[7999]).toEqual({ i: 399_950, s: 'object 399950' });
      // and the daemon's later GCs do not compact every time: a second burst leaves free pages again
      let again: Array<{ i: number }> | undefined = [];
      for (let i = 0; i < 400_000; i++) again.push({ i });
      gc();
      const kept = again.filter((_, i) => i % 50 === 0);
      again = undefined;
      gc();
      const later = oldSpace();
      expect(later.space_size - later.space_used_size).toBeGreaterThan(4 << 20);
      expect(kept.length).toBe(8000);
    }
  });

  it('finds a full collection without --expose-gc, and leaves natives syntax off afterwards', async () => {
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    const collect = fullGC();
    expect(collect).toBeTypeOf('function');
    let garbage: object | undefined = { items: Array.from({ length: 1000 }, (_, i) => ({ i })) };
    const ref = new WeakRef(garbage);
    garbage = undefined;
    await sleep(0); // a WeakRef's target lives until the job that made it ends
    collect!();
    expect(ref.deref()).toBeUndefined();
    expect(() => new Function('return %IsBeingInterpreted()')).toThrow(SyntaxError);
    expect(fullGC()).toBe(collect);
    // Still works once V8 has dropped the bytecode of what has not run for a while (here at
    // once, with --stress-flush-code); a function compiled only once with natives syntax on
    // would then be compiled again without it: a SyntaxError.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    setFlagsFromString('--no-expose-gc');
    setFlagsFromString('--stress-flush-code');
    try {
      for (let i = 0; i < 3; i++) gc();
    } finally {
      setFlagsFromString('--no-stress-flush-code');
    }
    let more: object | undefined = { items: [1, 2, 3] };
    const again = new WeakRef(more);
    more = undefined;
    await sleep(0);
    expect(() => collect!()).not.toThrow();
    expect(again.deref()).toBeUndefined();
  });

  it('collects again only once the heap grew by minGrowth since the last collection; trims every time; settles after a collection only', () => {
    let heap = 20;
    const done: string[] = [];
    const release = new MemoryRelease({
      minGrowth: 8,
      heapSize: () => heap,
      collect: () => done.push('collect'),
      collectAfterStart: () => done.push('collect after start'),
      trim: () => done.push('trim'),
    });
    expect(release.release(true)).toBe(true);
    expect(done).toEqual(['collect after start', 'trim']);
    heap = 27; // a burst that grew the heap by 7: only the allocator is trimmed
    expect(release.release()).toBe(false);
    release.settle(); // no settle step after a release that did not collect
    expect(done).toEqual(['collect after start', 'trim', 'trim']);
    heap = 28; // 8 above the last collection
    expect(release.release()).toBe(true);
    expect(done).toEqual(['collect after start', 'trim', 'trim', 'collect', 'trim']);
    heap = 30;
    expect(release.release()).toBe(false);
  });

  it("the start-up release drops the bytecode of what has not run since (a plain release keeps it), and what is called again still runs", () => {
    // V8's %GetOptimizationStatus has bit 1 << 18 when a function has no code (not compiled,
    // or its bytecode dropped); compiled with natives syntax on each time, as V8 drops its
    // bytecode too.
    const compiled = (fn: () => unknown): boolean => {
      setFlagsFromString('--allow-natives-syntax');
      try {
        return ((new Function('f', 'return %GetOptimizationStatus(f)') as (f: unknown) => number)(fn) & (1 << 18)) === 0;
      } finally {
        setFlagsFromString('--no-allow-natives-syntax');
      }
    };
    // start-up code: a function that runs once, as the daemon's start runs, without Sparkplug
    // (V8 keeps the bytecode of a function that has baseline code)
    const once = new Function('return function once() { let x = 1; for (let i = 0; i < 100; i++) x = (x * 31 + i) % 1000003; return x; }')() as () => number;
    const withoutSparkplug = <T>(fn: () => T): T => {
      setFlagsFromString('--no-sparkplug');
      try {
        return fn();
      } finally {
        setFlagsFromString('--sparkplug');
      }
    };
    expect(compiled(once)).toBe(false);
    const result = withoutSparkplug(once);
    expect(compiled(once)).toBe(true);
    new MemoryRelease().release(false); // a release after calls: a compacting GC
    expect(compiled(once)).toBe(true); // kept (V8 drops bytecode only after 5 full GCs unused)
    startupGC();
    expect(compiled(once)).toBe(false);
    expect(withoutSparkplug(once)).toBe(result); // compiled again from its source when called
    // V8's own age limit is back: two more full GCs keep what just ran
    const gc = fullGC()!;
    gc();
    gc();
    expect(compiled(once)).toBe(true);
  });
});
