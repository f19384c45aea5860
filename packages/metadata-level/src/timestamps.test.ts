// Record times keep containerd's nanosecond precision: taken from a nanosecond clock,
// stored and read back to the nanosecond, updated times never before created ones, and
// records written before nanoseconds (milliseconds, toISOString) still read.
import { type Timestamp, compareTimestamps } from '@containerd-ts/timestamp';
import { describe, expect, it } from 'vitest';
import * as keys from './keys.js';
import { createEnv, putBlob } from './testing/env.js';

const ctx = { namespace: 'default' };
const spec = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([123, 125]) };
const target = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'a'.repeat(64)}`,
  size: 10,
};

/** Nanoseconds below the millisecond: what milliseconds-only times never have. */
const subMillisecond = (t: Timestamp) => t.nanos % 1_000_000;

describe('record times', () => {
  it('have nanoseconds below the millisecond, survive a reopen exactly, and updates never go before creation', async () => {
    const env = await createEnv();
    try {
      const db = env.db;
      const containers = [
        await db.containers.create(ctx, { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, spec }),
        await db.containers.create(ctx, { id: 'c2', runtime: { name: 'io.containerd.runc.v2' }, spec }),
      ];
      const images = [await db.images.create(ctx, { name: 'img:1', target }), await db.images.create(ctx, { name: 'img:2', target })];
      const leases = [await db.leases.create(ctx, { id: 'l1' }), await db.leases.create(ctx, { id: 'l2' })];
      const blobs = [await putBlob(db, ctx, 'one'), await putBlob(db, ctx, 'two')];
      const infos = await Promise.all(blobs.map((d) => db.contentStore().info(ctx, d)));
      // One reading in a million lands on a whole millisecond: two of each never both do.
      for (const times of [containers.map((c) => c.createdAt), images.map((i) => i.createdAt), leases.map((l) => l.createdAt), infos.map((i) => i.createdAt)]) {
        expect(times.some((t) => subMillisecond(t) !== 0), JSON.stringify(times)).toBe(true);
      }
      // The clock runs forwards: every record is later than the one before.
      const order = [...containers.map((c) => c.createdAt), ...images.map((i) => i.createdAt), ...leases.map((l) => l.createdAt)];
      for (let i = 1; i < order.length; i++) expect(compareTimestamps(order[i]!, order[i - 1]!)).toBeGreaterThan(0);

      const updated = await db.containers.update(ctx, { id: 'c1', runtime: { name: 'io.containerd.runc.v2' }, labels: { a: 'b' } }, ['labels.a']);
      expect(updated.createdAt).toEqual(containers[0]!.createdAt);
      expect(compareTimestamps(updated.updatedAt, updated.createdAt)).toBeGreaterThan(0);
      const image = await db.images.update(ctx, { name: 'img:1', target, labels: { a: 'b' } }, ['labels.a']);
      expect(compareTimestamps(image.updatedAt, image.createdAt)).toBeGreaterThan(0);
      const info = await db.contentStore().update(ctx, { digest: blobs[0]!, labels: { a: 'b' } }, ['labels.a']);
      expect(compareTimestamps(info.updatedAt, info.createdAt)).toBeGreaterThan(0);

      const reopened = await env.reopen();
      expect(await reopened.containers.get(ctx, 'c1')).toMatchObject({ createdAt: updated.createdAt, updatedAt: updated.updatedAt });
      expect((await reopened.images.get(ctx, 'img:1')).updatedAt).toEqual(image.updatedAt);
      expect((await reopened.leases.list(ctx, ['id==l2']))[0]?.createdAt).toEqual(leases[1]!.createdAt);
      expect((await reopened.contentStore().info(ctx, blobs[0]!)).updatedAt).toEqual(info.updatedAt);
    } finally {
      await env.cleanup();
    }
  });

  it('reads records stored with milliseconds before times had nanoseconds', async () => {
    const env = await createEnv();
    try {
      const old = '2024-12-04T18:03:23.076Z';
      const ms = { seconds: 1_733_335_403, nanos: 76_000_000 };
      await env.db.store.write(async (tx) => {
        tx.putJSON(keys.namespaceKey('default'), {});
        tx.putJSON(keys.containerKey('default', 'old'), { runtime: { name: 'io.containerd.runc.v2' }, spec: { typeUrl: spec.typeUrl, value: 'e30=' }, createdAt: old, updatedAt: old });
        tx.putJSON(keys.imageKey('default', 'old:1'), { target, createdAt: old, updatedAt: old });
        // written by a daemon of schema version 2, whose image records were JSON
        tx.putJSON(keys.VERSION_KEY, { schema: 'v1', version: 2 });
        tx.putJSON(keys.leaseKey('default', 'old'), { createdAt: old });
      });
      const db = await env.reopen();
      expect(await db.containers.get(ctx, 'old')).toMatchObject({ createdAt: ms, updatedAt: ms });
      expect(await db.images.get(ctx, 'old:1')).toMatchObject({ createdAt: ms, updatedAt: ms });
      expect((await db.leases.list(ctx, ['id==old']))[0]?.createdAt).toEqual(ms);
      // An update keeps the old creation time and stamps nanoseconds.
      const updated = await db.containers.update(ctx, { id: 'old', runtime: { name: 'io.containerd.runc.v2' }, labels: { a: 'b' } }, ['labels.a']);
      expect(updated.createdAt).toEqual(ms);
      expect(compareTimestamps(updated.updatedAt, ms)).toBeGreaterThan(0);
    } finally {
      await env.cleanup();
    }
  });
});
