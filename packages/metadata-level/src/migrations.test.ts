// Schema versions: a new database records the current version, a database from a newer
// version is refused, and migrations newer than the recorded version run once, in order.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
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
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 2 });
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
          version: 3,
          async migrate(tx) {
            ran.push(3);
            const rec = await tx.getJSON<{ name: string }>('v1/default/images/old');
            tx.putJSON('v1/default/images/old', { ...rec, migrated: true });
          },
        },
        { schema: 'v1', version: 4, migrate: async () => void ran.push(4) },
      ];
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 4 });
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 4 });
      expect(ran).toEqual([3, 4]);
      expect(JSON.parse((await store.get('v1/default/images/old'))!)).toEqual({ name: 'x', migrated: true });
    });
  });

  it('refuses a database written by a newer version, and leaves it untouched when a migration fails', async () => {
    await withStore(async (store) => {
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 9 }));
      await expect(migrate(store)).rejects.toThrow('metadata database version v1.9 is newer than this daemon supports (v1.2)');
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 1 }));
      const failing: Migration[] = [
        ...migrations,
        {
          schema: 'v1',
          version: 3,
          async migrate(tx) {
            tx.put('v1/default/touched', 'x');
            throw new Error('broken');
          },
        },
      ];
      await expect(migrate(store, failing)).rejects.toThrow('failed to migrate to v1.3: broken');
      expect(await store.get('v1/default/touched')).toBeUndefined();
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 1 });
    });
  });

  it('v1.2 moves the resources of leases with "/" or "%" in their IDs to escaped keys', async () => {
    await withStore(async (store) => {
      await store.write(async (tx) => {
        tx.putJSON(VERSION_KEY, { schema: 'v1', version: 1 });
        tx.putJSON('v1/default', { labels: {} });
        for (const id of ['/tmp/a', '/tmp/a/b', 'plain', '50%']) tx.putJSON(`v1/default/leases/${id}`, { createdAt: 0, labels: {} });
        tx.put('v1/default/leased//tmp/a/b/content/sha256:1', '');
        tx.put('v1/default/leased//tmp/a/snapshots/overlayfs/k/1', '');
        tx.put('v1/default/leased/plain/ingests/r', '');
        tx.put('v1/default/leased/50%/ingests/r', '');
      });
      expect(await migrate(store)).toEqual({ schema: 'v1', version: 2 });
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
});
