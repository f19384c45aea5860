// The metadata and gc plugins initialised in order with their parsed configs, the way the
// registry does (the registry itself cannot run them yet: no snapshotter plugin exists to
// satisfy the metadata plugin's `requires`).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import contentPlugin from '@containerd-ts/content-local';
import metadataPlugin, { type MetadataDB } from '@containerd-ts/metadata-level';
import type { AnyPluginDefinition, InitContext, Logger, PluginMeta } from '@containerd-ts/plugin';
import { describe, expect, it } from 'vitest';
import gcPlugin from './index.js';

const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };

describe('plugins', () => {
  it('initialise with containerd-style exports and close cleanly', async () => {
    const root = await mkdtemp(join(tmpdir(), 'gc-plugin-'));
    const instances = new Map<string, unknown>();
    const closers: Array<() => void | Promise<void>> = [];
    const init = async (def: AnyPluginDefinition, raw: unknown) => {
      const meta: PluginMeta = { exports: {}, capabilities: [], platforms: [] };
      const ctx: InitContext<unknown> = {
        type: def.type,
        id: def.id,
        rootDir: join(root, 'root', `${def.type}.${def.id}`),
        stateDir: join(root, 'state', `${def.type}.${def.id}`),
        config: def.config ? def.config.parse(raw ?? {}) : {},
        meta,
        log,
        daemon: { root: join(root, 'root'), state: join(root, 'state'), address: '', ttrpcAddress: '', version: '', revision: '' },
        get: (type) => instances.get(type) as never,
        getByID: (type) => instances.get(type) as never,
        getAll: () => new Map(),
        plugins: () => [],
        onClose: (fn) => void closers.push(fn),
      };
      instances.set(def.type, await def.init(ctx));
      return meta;
    };
    try {
      await init(contentPlugin, undefined);
      const metaMeta = await init(metadataPlugin, { content_sharing_policy: 'isolated' });
      expect(metaMeta.exports).toEqual({
        policy: 'isolated',
        path: join(root, 'root', 'io.containerd.metadata.v1.bolt', 'meta.leveldb'),
      });
      const gcMeta = await init(gcPlugin, { schedule_delay: '300ms', startup_delay: '0s' });
      expect(gcMeta.exports).toEqual({
        PauseThreshold: '0.02',
        DeletionThreshold: '0',
        MutationThreshold: '100',
        ScheduleDelay: '300ms',
      });
      const db = instances.get('io.containerd.metadata.v1') as MetadataDB;
      expect(db.sharedContent).toBe(false);
      // The scheduler is attached: a sync delete goes through it (schedule_delay 300 ms).
      await db.leases.create({ namespace: 'default' }, { id: 'l' });
      const t0 = Date.now();
      await db.leases.delete({ namespace: 'default' }, 'l', { sync: true });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
      expect(() => metadataPlugin.config?.parse({ content_sharing_policy: 'private' })).toThrow();
    } finally {
      for (const fn of closers.reverse()) await fn();
      await rm(root, { recursive: true, force: true });
    }
  });
});
