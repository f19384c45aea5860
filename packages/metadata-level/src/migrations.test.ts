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
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 1 });
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
          version: 2,
          async migrate(tx) {
            ran.push(2);
            const rec = await tx.getJSON<{ name: string }>('v1/default/images/old');
            tx.putJSON('v1/default/images/old', { ...rec, migrated: true });
          },
        },
        { schema: 'v1', version: 3, migrate: async () => void ran.push(3) },
      ];
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 3 });
      expect(await migrate(store, table)).toEqual({ schema: 'v1', version: 3 });
      expect(ran).toEqual([2, 3]);
      expect(JSON.parse((await store.get('v1/default/images/old'))!)).toEqual({ name: 'x', migrated: true });
    });
  });

  it('refuses a database written by a newer version, and leaves it untouched when a migration fails', async () => {
    await withStore(async (store) => {
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 9 }));
      await expect(migrate(store)).rejects.toThrow('metadata database version v1.9 is newer than this daemon supports (v1.1)');
      await store.write(async (tx) => tx.putJSON(VERSION_KEY, { schema: 'v1', version: 1 }));
      const failing: Migration[] = [
        ...migrations,
        {
          schema: 'v1',
          version: 2,
          async migrate(tx) {
            tx.put('v1/default/touched', 'x');
            throw new Error('broken');
          },
        },
      ];
      await expect(migrate(store, failing)).rejects.toThrow('failed to migrate to v1.2: broken');
      expect(await store.get('v1/default/touched')).toBeUndefined();
      expect(JSON.parse((await store.get(VERSION_KEY))!)).toEqual({ schema: 'v1', version: 1 });
    });
  });
});
