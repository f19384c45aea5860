import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definePlugin, type Logger, PluginRegistry, SkipPluginError, type PluginRecord } from '@containerd-ts/plugin';
import { describe, expect, it } from 'vitest';
import { IntrospectionService } from './introspection.js';

const record = (type: string, id: string, error?: Error): PluginRecord => ({
  type,
  id,
  requires: [],
  meta: { exports: { root: `/r/${id}` }, capabilities: [], platforms: ['linux/amd64'] },
  status: error ? 'error' : 'ok',
  error,
  instance: undefined,
});

describe('IntrospectionService', () => {
  const records = [
    record('io.containerd.content.v1', 'content'),
    record('io.containerd.snapshotter.v1', 'btrfs', new SkipPluginError('not btrfs')),
    record('io.containerd.snapshotter.v1', 'native'),
  ];
  const svc = new IntrospectionService('/nonexistent', () => records);

  it('lists plugins in order with platforms, exports and init errors', () => {
    const [content, btrfs] = svc.plugins();
    expect(content).toMatchObject({ type: 'io.containerd.content.v1', id: 'content', initErr: undefined });
    expect(content?.platforms).toEqual([{ os: 'linux', architecture: 'amd64', variant: '' }]);
    expect(btrfs?.initErr).toEqual({ code: 2, message: 'not btrfs: skip plugin', details: [] });
  });

  it('filters with containerd syntax', () => {
    expect(svc.plugins(['type==io.containerd.snapshotter.v1']).map((p) => p.id)).toEqual(['btrfs', 'native']);
    expect(svc.plugins(['id==content', 'id==native']).map((p) => p.id)).toEqual(['content', 'native']);
    expect(() => svc.plugins(['id=='])).toThrow(/invalid argument/);
  });

  it('generates the server UUID once and keeps it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'intro-'));
    const root = join(dir, 'plugin-root');
    try {
      const a = await new IntrospectionService(root, () => []).serverUUID();
      expect(a).toMatch(/^[0-9a-f-]{36}$/);
      expect(await readFile(join(root, 'uuid'), 'utf8')).toBe(a);
      expect(await new IntrospectionService(root, () => []).serverUUID()).toBe(a);
      await writeFile(join(root, 'uuid'), 'garbage');
      await expect(new IntrospectionService(root, () => []).serverUUID()).rejects.toThrow('invalid server UUID');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('shows exports a plugin changes after init (dynamic exports) as they are at each request', async () => {
    const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };
    let setState: (state: string) => void = () => {};
    const registry = new PluginRegistry({
      definitions: [
        definePlugin({
          type: 'io.test.dynamic.v1',
          id: 'remote',
          init(ctx) {
            ctx.meta.exports.address = '/run/remote.sock';
            setState = (state) => {
              ctx.meta.exports.state = state;
            };
            setState('connecting');
            return {};
          },
        }),
      ],
      daemon: { root: '/nonexistent', state: '/nonexistent', address: '', ttrpcAddress: '', version: '', revision: '' },
      log,
    });
    await registry.initAll();
    const live = new IntrospectionService('/nonexistent', () => registry.list());
    expect(live.plugins()[0]?.exports).toEqual({ address: '/run/remote.sock', state: 'connecting' });
    setState('ready');
    expect(live.plugins()[0]?.exports).toEqual({ address: '/run/remote.sock', state: 'ready' });
  });
});
