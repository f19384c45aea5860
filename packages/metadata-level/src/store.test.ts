// Group commit: concurrent writers share fsyncs, and every writer resolves only after
// the synced batch holding its write (observed through the store's sync hook).
import { describe, expect, it } from 'vitest';
import { keys } from './index.js';
import { createEnv } from './testing/env.js';

const ctx = { namespace: 'group' };
const target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'c'.repeat(64)}`, size: 10 };

describe('group commit', () => {
  it('resolves each of 16 concurrent creates only after the fsync that covers it, sharing fsyncs', async () => {
    const events: string[] = [];
    const syncedBatches: string[][] = [];
    const env = await createEnv({
      onSync: (written) => {
        syncedBatches.push([...written]);
        for (const k of written) events.push(`synced ${k}`);
      },
    });
    try {
      const names = Array.from({ length: 16 }, (_, i) => `example.com/image:${i}`);
      await Promise.all(
        names.map(async (name) => {
          await env.db.images.create(ctx, { name, target });
          events.push(`resolved ${keys.imageKey(ctx.namespace, name)}`);
        }),
      );
      for (const name of names) {
        const key = keys.imageKey(ctx.namespace, name);
        const synced = events.indexOf(`synced ${key}`);
        expect(synced, `${name} was synced`).toBeGreaterThanOrEqual(0);
        expect(events.indexOf(`resolved ${key}`), `${name} resolved after its sync`).toBeGreaterThan(synced);
      }
      // Writers arriving while a sync is in flight join the next one.
      const imageBatches = syncedBatches.filter((b) => b.some((k) => k.startsWith(keys.imagesPrefix(ctx.namespace))));
      expect(imageBatches.length).toBeLessThan(names.length);
      expect(Math.max(...imageBatches.map((b) => b.length))).toBeGreaterThan(1);
      // Everything acknowledged is readable from disk after a reopen.
      const db = await env.reopen();
      expect((await db.images.list(ctx)).map((i) => i.name).sort()).toEqual([...names].sort());
    } finally {
      await env.cleanup();
    }
  });

  it('lets a writer see writes of a batch not yet on disk, and answers only once they are', async () => {
    const events: string[] = [];
    const env = await createEnv({ onSync: (written) => events.push(...written.map((k) => `synced ${k}`)) });
    try {
      // Same name, concurrently: exactly one wins, the others see the pending record and
      // report it only once it is on disk.
      const attempt = () =>
        env.db.images.create(ctx, { name: 'dup', target }).then(
          (v) => {
            events.push('answered');
            return v;
          },
          (err: unknown) => {
            events.push('answered');
            throw err;
          },
        );
      const results = await Promise.allSettled([attempt(), attempt(), attempt()]);
      expect(events.indexOf(`synced ${keys.imageKey(ctx.namespace, 'dup')}`)).toBeLessThan(events.indexOf('answered'));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(failures.map((f) => (f.reason as Error).message)).toEqual([
        'image "dup": already exists',
        'image "dup": already exists',
      ]);
      // A lease created and deleted while earlier batches are in flight.
      const created = env.db.leases.create(ctx, { id: 'l1' });
      const deleted = env.db.leases.delete(ctx, 'l1');
      await Promise.all([created, deleted]);
      await expect(env.db.leases.get(ctx, 'l1')).rejects.toThrow('lease "l1": not found');
    } finally {
      await env.cleanup();
    }
  });

  it('collects only after pending batches are on disk', async () => {
    const env = await createEnv();
    try {
      const creates = Array.from({ length: 8 }, (_, i) => env.db.leases.create(ctx, { id: `lease-${i}` }));
      const gc = env.db.garbageCollect();
      await Promise.all([...creates, gc]);
      expect((await env.db.leases.list(ctx)).map((l) => l.id)).toEqual(Array.from({ length: 8 }, (_, i) => `lease-${i}`));
    } finally {
      await env.cleanup();
    }
  });

  it('scans a thousand records of a few hundred bytes in one native read per batch', async () => {
    const env = await createEnv();
    try {
      const labels = { note: 'x'.repeat(200) };
      for (let i = 0; i < 1200; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => env.db.images.create(ctx, { name: `example.com/scan:${i + j}`, target, labels })));
      }
      // LevelDB iterators stop a read at 16 KiB unless told otherwise: ~50 of these records.
      const sizes: number[] = [];
      for await (const batch of env.db.store.batches(keys.imagesPrefix(ctx.namespace))) sizes.push(batch.length);
      expect(sizes).toEqual([1000, 200]);
    } finally {
      await env.cleanup();
    }
  });
});
