// The minimal plugin set initialises completely on its own: no plugin it requires is missing.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonConfigSchema } from '@containerd-ts/config';
import { createDaemon, createLogger } from '@containerd-ts/daemon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalPlugins } from './plugins.js';

describe('minimal plugin set', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'minimal-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts with every plugin ok and serves on its socket', async () => {
    const config = daemonConfigSchema.parse({ root: join(dir, 'root'), state: join(dir, 'state'), grpc: { address: join(dir, 'd.sock') } });
    const daemon = createDaemon({ plugins: minimalPlugins(), config, log: createLogger('error') });
    await daemon.start();
    try {
      const rows = daemon.registry.list().map((r) => `${r.type}.${r.id} ${r.status}${r.error ? ` ${r.error.message}` : ''}`);
      // Init order follows `requires`; what matters is that every plugin is there and ok.
      expect(rows.sort()).toEqual(minimalPlugins().map((p) => `${p.type}.${p.id} ok`).sort());
    } finally {
      await daemon.stop();
    }
  });
});
