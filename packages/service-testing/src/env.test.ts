// The environment is the real thing and leaves nothing behind, on success and on failure.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createServiceEnv, manualGC, putBlob } from './index.js';
import { backendDigests } from './blobs.js';

describe('createServiceEnv', () => {
  it('serves over real stores and removes its directory on cleanup', async () => {
    const env = await createServiceEnv({ name: 'service-testing', gc: manualGC, native: true, services: () => [] });
    expect(existsSync(env.socket)).toBe(true);
    const digest = await putBlob(env.db, { namespace: 'default' }, 'hello');
    expect(await putBlob(env.db, { namespace: 'default' }, 'hello')).toBe(digest);
    expect(await backendDigests(env.backend)).toEqual([digest]);
    expect((await env.db.contentStore().info({ namespace: 'default' }, digest)).size).toBe(5);
    expect(env.native).toBeDefined();
    await env.scheduler.scheduleAndWait();
    expect(await backendDigests(env.backend)).toEqual([]);
    await env.cleanup();
    expect(existsSync(env.dir)).toBe(false);
  });

  it('cleans up what it made when building the services fails', async () => {
    let dir = '';
    await expect(
      createServiceEnv({
        name: 'service-testing',
        services: (parts) => {
          dir = parts.dir;
          throw new Error('no such service');
        },
      }),
    ).rejects.toThrow('no such service');
    expect(dir).not.toBe('');
    expect(existsSync(dir)).toBe(false);
  });
});
