// The scheduler driving a real metadata database over a real content store: startup
// collection, sync deletes, deletion and mutation triggers, pause back-off, expiry timer.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { type GCStats, MetadataDB } from '@containerd-ts/metadata-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { schedulerConfig } from './index.js';
import { GCScheduler, type SchedulerConfig } from './scheduler.js';

const ctx = { namespace: 'default' };
let dir: string;
let backend: LocalContentStore;
let db: MetadataDB;
let scheduler: GCScheduler<GCStats> | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gc-scheduler-'));
  backend = await LocalContentStore.open(join(dir, 'content'));
  db = await MetadataDB.open({ path: join(dir, 'meta'), content: backend });
});
afterEach(async () => {
  await scheduler?.stop();
  scheduler = undefined;
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

function start(config: Partial<SchedulerConfig>): GCScheduler<GCStats> {
  scheduler = new GCScheduler<GCStats>(db, {
    pauseThreshold: 0.02,
    deletionThreshold: 0,
    mutationThreshold: 100,
    scheduleDelayMs: 0,
    startupDelayMs: 0,
    ...config,
  });
  db.setScheduler(scheduler);
  scheduler.start();
  return scheduler;
}

async function put(data: string, c: { namespace: string; lease?: string } = ctx): Promise<string> {
  const bytes = Buffer.from(data);
  const w = await db.contentStore().writer(c, { ref: `ref-${data}` });
  await w.write(bytes);
  await w.commit(bytes.length, digestOf(bytes));
  await w.close();
  return digestOf(bytes);
}

const inBackend = (digest: string) =>
  backend.info({}, digest).then(
    () => true,
    () => false,
  );

async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('gc scheduler', () => {
  it('collects once after the startup delay', async () => {
    const s = start({ startupDelayMs: 50 });
    expect(s.statistics.collections).toBe(0);
    await eventually('startup collection', () => s.statistics.collections === 1);
    // pause back-off: the next interval is avg/threshold - avg
    const { averagePauseMs, intervalMs } = s.statistics;
    expect(intervalMs).toBeCloseTo(averagePauseMs / 0.02 - averagePauseMs, 6);
  });

  it('waits for the collection of a sync lease delete', async () => {
    start({ startupDelayMs: 0, deletionThreshold: 0, mutationThreshold: 0 });
    await db.leases.create(ctx, { id: 'l' });
    const digest = await put('leased', { ...ctx, lease: 'l' });
    expect(await inBackend(digest)).toBe(true);
    await db.leases.delete(ctx, 'l', { sync: true });
    expect(await inBackend(digest)).toBe(false);
  });

  it('schedules a collection after a deletion when none is scheduled', async () => {
    const s = start({ startupDelayMs: 0, scheduleDelayMs: 20 });
    const digest = await put('to delete');
    await db.contentStore().delete(ctx, digest);
    await eventually('blob collected after deletion', async () => !(await inBackend(digest)));
    expect(s.statistics.collections).toBe(1);
  });

  it('collects when the mutation threshold is reached, not before', async () => {
    const s = start({ startupDelayMs: 0, mutationThreshold: 3 });
    await db.leases.create(ctx, { id: 'a' });
    await db.leases.create(ctx, { id: 'b' });
    await new Promise((r) => setTimeout(r, 50));
    expect(s.statistics.collections).toBe(0);
    await db.leases.create(ctx, { id: 'c' });
    await eventually('collection after 3 mutations', () => s.statistics.collections === 1);
  });

  it('honours the deletion threshold', async () => {
    // No pause back-off: the next regular collection stays a second away.
    const s = start({ startupDelayMs: 0, deletionThreshold: 2, mutationThreshold: 0, pauseThreshold: 0 });
    // One collection so that one is always scheduled (then only thresholds pull it in).
    await s.scheduleAndWait();
    const [a, b] = [await put('one'), await put('two')];
    await db.contentStore().delete(ctx, a);
    await new Promise((r) => setTimeout(r, 50));
    expect(s.statistics.collections).toBe(1);
    await db.contentStore().delete(ctx, b);
    await eventually('collection at the deletion threshold', () => s.statistics.collections === 2);
  });

  it('collects an expired lease at its expiry without any further change', async () => {
    const s = start({ startupDelayMs: 0, mutationThreshold: 0 });
    // gc.expire has second precision: expire within the next 1-2 seconds.
    const expire = new Date(Math.ceil((Date.now() + 500) / 1000) * 1000);
    await db.leases.create(ctx, { id: 'short', labels: { 'containerd.io/gc.expire': expire.toISOString().replace('.000Z', 'Z') } });
    const digest = await put('short-lived', { ...ctx, lease: 'short' });
    expect(s.statistics.collections).toBe(0);
    await eventually('expired lease collected', async () => !(await inBackend(digest)), 4000);
    expect(Date.now()).toBeGreaterThan(expire.getTime());
    expect(await db.leases.list(ctx)).toEqual([]);
  });

  it('makes a waiter that arrives during a collection wait for the next one', async () => {
    const s = start({ startupDelayMs: 0, pauseThreshold: 0 });
    // The first collection after open cleans the content backend, which needs the content
    // lock exclusively: holding it shared keeps that collection running.
    let release!: () => void;
    const held = db.contentLock.withShared(() => new Promise<void>((r) => (release = r)));
    const first = s.scheduleAndWait();
    await new Promise((r) => setTimeout(r, 30));
    expect(s.statistics.collections).toBe(0);
    const second = s.scheduleAndWait();
    release();
    await held;
    await first;
    expect(s.statistics.collections).toBe(1);
    await second;
    expect(s.statistics.collections).toBe(2);
  });

  it('rejects an aborted waiter, and waiters of a failed collection', async () => {
    const s = start({ startupDelayMs: 0, scheduleDelayMs: 10_000 });
    const ac = new AbortController();
    const waiting = s.scheduleAndWait(ac.signal);
    ac.abort(new Error('client went away'));
    await expect(waiting).rejects.toThrow('client went away');
    await s.stop();
    const failing = start({ startupDelayMs: 0, scheduleDelayMs: 0 });
    await db.close();
    await expect(failing.scheduleAndWait()).rejects.toThrow('gc failed');
  });

  it('rejects waiters when stopped, and refuses new ones', async () => {
    const s = start({ startupDelayMs: 0, scheduleDelayMs: 10_000 });
    const waiting = s.scheduleAndWait();
    await s.stop();
    await expect(waiting).rejects.toThrow('gc scheduler stopped');
    await expect(s.scheduleAndWait()).rejects.toThrow('gc scheduler stopped');
  });

  it("parses containerd's config with Go durations", () => {
    expect(schedulerConfig.parse({})).toEqual({
      pause_threshold: 0.02,
      deletion_threshold: 0,
      mutation_threshold: 100,
      schedule_delay: '0s',
      startup_delay: '100ms',
    });
    const bad = schedulerConfig.safeParse({ startup_delay: '100' });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toBe('time: missing unit in duration "100"');
    expect(schedulerConfig.safeParse({ pause_treshold: 1 }).success).toBe(false);
  });
});
