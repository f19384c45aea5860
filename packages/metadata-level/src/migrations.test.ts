// Schema versions: a new database records the current version, a database from a newer
// version is refused, and migrations newer than the recorded version run once, in order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Image as ApiImage } from '@containerd-ts/api/services/images';
import { decodeImageRecord } from './image-record.js';
import { decodeLeaseRecord } from './lease-record.js';
import { VERSION_KEY } from './keys.js';
import { type Migration, migrate, migrations } from './migrations.js';
import { LevelStore } from './store.js';

async function withStore(fn: (store: LevelStore, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'metadata-migrations-'));
  const store = await LevelStore.open(join(dir, 'db'));
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

describe('migrations', () => {
  it('records the current version in a new database', async () => {
    await withStore(async (store) => {
      expect(await migrate(store)).toEqual({ schema: 'v1', version: migrations.at(-1)!.version });
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 3 });
    });
  });

  it('runs the migrations newer than the recorded version, once', async () => {
    await withStore(async (store) => {
      await migrate(store);
      await store.write(async (tx) => tx.putJSON('v1/default/images/old', { name: 'x' }));
      const ran: number[] = [];
      const table: Migration[] = [
        ...migrations,
        {
          schema: 'v1',
          version: 4,
          async migrate(tx) {
            ran.push(4);
            const rec = await tx.getJSON<{ name: string }>('v1/default/images/old');
            tx.putJSON('v1/default/images/old', { ...rec, migrated: true });
          },
        },
        { schema: 'v1', version: 5, migrate: async () => void ran.push(5) },
      ];
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 5 });
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 5 });
      expect(ran).toEqual([4, 5]);
      expect(JSON.parse((await store.get('v1/default/images/old'))!)).toEqual({ name: 'x', migrated: true });
    });
  });

  it('refuses a database written by a newer version, and leaves it untouched when a migration fails', async () => {
    await withStore(async (store) => {
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 9 }));
      await expect(migrate(store)).rejects.toThrow('metadata database version v1.9 is newer than this daemon supports (v1.3)');
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 1 }));
      const failing: Migration[] = [
        ...migrations,
        {
          schema: 'v1',
          version: 4,
          async migrate(tx) {
            tx.put('v1/default/touched', 'x');
            throw new Error('broken');
          },
        },
      ];
      await expect(migrate(store, failing)).rejects.toThrow('failed to migrate to v1.4: broken');
      expect(await store.get('v1/default/touched')).toBeUndefined();
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 1 });
    });
  });

  it('v1.2 moves the resources of leases with "/" or "%" in their IDs to escaped keys', async () => {
    await withStore(async (store) => {
      await store.write(async (tx) => {
        tx.putJSON(VERSION_KEY, { schema: 'v1', version: 1 });
        tx.putJSON('v1/default', { labels: {} });
        for (const id of ['/tmp/a', '/tmp/a/b', 'plain', '50%']) tx.putJSON(`v1/default/leases/${id}`, { createdAt: '2024-12-04T18:03:23.076Z', labels: {} });
        tx.put('v1/default/leased//tmp/a/b/content/sha256:1', '');
        tx.put('v1/default/leased//tmp/a/snapshots/overlayfs/k/1', '');
        tx.put('v1/default/leased/plain/ingests/r', '');
        tx.put('v1/default/leased/50%/ingests/r', '');
      });
      expect(await migrate(store)).toEqual({ schema: 'v1', version: 3 });
      const keys: string[] = [];
      for await (const k of store.keys('v1/default/leased/')) keys.push(k);
      expect(keys.sort()).toEqual(
        [
          'v1/default/leased/%2Ftmp%2Fa%2Fb/content/sha256:1',
          'v1/default/leased/%2Ftmp%2Fa/snapshots/overlayfs/k/1',
          'v1/default/leased/50%25/ingests/r',
          'v1/default/leased/plain/ingests/r',
        ].sort(),
      );
    });
  });
  it('v1.3 stores image and lease records in their API messages\' wire form, and leaves other records alone', async () => {
    await withStore(async (store) => {
      const target = { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${'a'.repeat(64)}`, size: 2 ** 40 + 7 };
      const annotated = { ...target, annotations: { 'org.opencontainers.image.ref.name': 'v1', 'ünïcode': 'värde' } };
      const blob = JSON.stringify({ size: 3, createdAt: '2024-12-04T18:03:23.076Z', updatedAt: '2024-12-04T18:03:23.076Z' });
      await store.write(async (tx) => {
        tx.putJSON(VERSION_KEY, { schema: 'v1', version: 2 });
        tx.putJSON('v1/default', { labels: {} });
        tx.putJSON('v1/default/images/docker.io/library/a:1', { target, createdAt: '2024-12-04T18:03:23.076Z', updatedAt: '2024-12-05T01:02:03.123456789Z' });
        tx.putJSON('v1/other/images/b@sha256:x', {
          target: annotated,
          labels: { 'containerd.io/gc.ref.content.l.0': `sha256:${'b'.repeat(64)}`, 'ü': '✓' },
          createdAt: '2024-12-04T18:03:23Z',
          updatedAt: '2024-12-04T18:03:23Z',
        });
        tx.put(`v1/default/content/blob/sha256:${'c'.repeat(64)}`, blob);
        tx.putJSON('v1/default/leases/images/x', { createdAt: '2024-12-04T18:03:23.076Z', labels: { 'containerd.io/gc.expire': '2024-12-05T00:00:00Z' } });
        tx.putJSON('v1/other/leases/y', { createdAt: '2024-12-04T18:03:23Z' });
      });
      expect(await migrate(store)).toEqual({ schema: 'v1', version: 3 });
      const a = (await store.get('v1/default/images/docker.io/library/a:1'))!;
      expect(a.startsWith('{')).toBe(false);
      expect(decodeImageRecord(a)).toEqual({
        target,
        labels: {},
        createdAt: { seconds: 1_733_335_403, nanos: 76_000_000 },
        updatedAt: { seconds: 1_733_360_523, nanos: 123_456_789 },
      });
      expect(decodeImageRecord((await store.get('v1/other/images/b@sha256:x'))!)).toEqual({
        target: annotated,
        labels: { 'containerd.io/gc.ref.content.l.0': `sha256:${'b'.repeat(64)}`, 'ü': '✓' },
        createdAt: { seconds: 1_733_335_403, nanos: 0 },
        updatedAt: { seconds: 1_733_335_403, nanos: 0 },
      });
      expect(await store.get(`v1/default/content/blob/sha256:${'c'.repeat(64)}`)).toBe(blob);
      expect(decodeLeaseRecord((await store.get('v1/default/leases/images/x'))!)).toEqual({
        createdAt: { seconds: 1_733_335_403, nanos: 76_000_000 },
        labels: { 'containerd.io/gc.expire': '2024-12-05T00:00:00Z' },
      });
      expect(decodeLeaseRecord((await store.get('v1/other/leases/y'))!)).toEqual({ createdAt: { seconds: 1_733_335_403, nanos: 0 }, labels: {} });
      // The stored bytes are what the generated encoder writes for the image without its name.
      expect(Buffer.from(a, 'latin1')).toEqual(
        Buffer.from(
          ApiImage.encode({
            name: '',
            labels: {},
            target: { ...target, annotations: {} },
            createdAt: { seconds: 1_733_335_403, nanos: 76_000_000 },
            updatedAt: { seconds: 1_733_360_523, nanos: 123_456_789 },
          }).finish(),
        ),
      );
    });
  });
});
