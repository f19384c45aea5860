// The plugin definitions made from [proxy_plugins]: types, IDs, exports, platform,
// capabilities and the connection state introspection shows; a content proxy replacing
// the local store; and the serving side as `serve-proxy` composes it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ContentStore } from '@containerd-ts/content';
import contentPlugin from '@containerd-ts/content-local';
import type { GrpcServicePlugin } from '@containerd-ts/grpc-server';
import { type AnyPluginDefinition, definePlugin, hostPlatform, PluginRegistry, type PluginRecord } from '@containerd-ts/plugin';
import nativePlugin from '@containerd-ts/snapshotter-native';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RemoteContentStore } from './content.js';
import { ProxyConnection } from './connection.js';
import { RemoteDiff } from './diff.js';
import { proxyPlugins, withProxyPlugins } from './plugins.js';
import { proxyServerPlugin } from './server.js';
import { RemoteSnapshotter } from './snapshotter.js';
import { quietLog, testServer } from './testing/server.js';

let dir: string;
const registries: PluginRegistry[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxy-plugins-'));
});
afterEach(async () => {
  for (const r of registries.splice(0)) await r.close();
  await rm(dir, { recursive: true, force: true });
});

async function load(definitions: readonly AnyPluginDefinition[], root = join(dir, 'root')): Promise<PluginRegistry> {
  const registry = new PluginRegistry({
    definitions,
    daemon: { root, state: `${root}-state`, address: join(dir, 'd.sock'), ttrpcAddress: join(dir, 'd.sock.ttrpc'), version: 't', revision: 't' },
    log: quietLog,
  });
  registries.push(registry);
  await registry.initAll();
  return registry;
}

const record = (registry: PluginRegistry, id: string): PluginRecord => {
  const r = registry.list().find((p) => p.id === id);
  if (!r) throw new Error(`no plugin ${id}`);
  return r;
};

describe('proxyPlugins', () => {
  it('registers each proxy with containerd type, ID = name, exports, platform and capabilities', async () => {
    const socket = join(dir, 'missing.sock');
    const defs = proxyPlugins({
      snap: { type: 'snapshot', address: socket, exports: { root: '/srv/snap' }, capabilities: ['remap-ids'] },
      blobs: { type: 'content', address: `unix://${socket}` },
      differ: { type: 'diff', address: socket, platform: 'linux/arm64' },
    });
    expect(defs.map((d) => `${d.type}.${d.id}`)).toEqual([
      'io.containerd.content.v1.blobs',
      'io.containerd.differ.v1.differ',
      'io.containerd.snapshotter.v1.snap',
    ]);
    const registry = await load(defs);
    const snap = record(registry, 'snap');
    // Loads although nothing listens: the connection is made when a call needs it.
    expect(snap.status).toBe('ok');
    expect(snap.instance).toBeInstanceOf(RemoteSnapshotter);
    expect(record(registry, 'blobs').instance).toBeInstanceOf(RemoteContentStore);
    expect(record(registry, 'differ').instance).toBeInstanceOf(RemoteDiff);
    expect(snap.meta.platforms).toEqual([hostPlatform()]);
    expect(record(registry, 'differ').meta.platforms).toEqual(['linux/arm64']);
    expect(snap.meta.capabilities).toEqual(['remap-ids']);
    await expect.poll(() => snap.meta.exports.state).toBe('unavailable');
    expect(snap.meta.exports).toEqual({
      root: '/srv/snap',
      address: socket,
      state: 'unavailable',
      last_error: `connect unix://${socket}: no such file or directory`,
    });
    expect(record(registry, 'blobs').meta.exports.address).toBe(`unix://${socket}`);
  });

  it('keeps the exports current as the proxy comes up', async () => {
    const server = testServer(join(dir, 'p.sock'), () => []);
    const registry = await load(proxyPlugins({ prox: { type: 'snapshot', address: server.socket } }));
    const prox = record(registry, 'prox');
    await expect.poll(() => prox.meta.exports.state).toBe('unavailable');
    await server.start();
    try {
      const sn = prox.instance as RemoteSnapshotter;
      // No snapshots service there: the call reaches the server (Unimplemented), so the proxy is up.
      await sn.stat({}, 'x').catch(() => undefined);
      expect(prox.meta.exports).toEqual({ address: server.socket, state: 'ready' });
    } finally {
      await server.stop();
    }
  });

  it('puts content proxies before the local store, so the metadata plugin gets the proxy', async () => {
    let got: ContentStore | undefined;
    const consumer = definePlugin({
      type: 'io.test.consumer.v1',
      id: 'consumer',
      requires: ['io.containerd.content.v1'],
      init(ctx) {
        got = ctx.get('io.containerd.content.v1');
        return got;
      },
    });
    const defs = withProxyPlugins([contentPlugin, consumer], {
      remote: { type: 'content', address: join(dir, 'c.sock') },
      snap: { type: 'snapshot', address: join(dir, 's.sock') },
    });
    expect(defs.map((d) => d.id)).toEqual(['remote', 'content', 'consumer', 'snap']);
    const registry = await load(defs);
    expect(got).toBeInstanceOf(RemoteContentStore);
    expect(record(registry, 'content').status).toBe('ok');
  });
});

describe('proxyServerPlugin', () => {
  it('serves a local plugin initialised by the registry to a proxy snapshotter', async () => {
    const served = await load([nativePlugin, proxyServerPlugin('snapshot', 'native')], join(dir, 'served'));
    const grpc = served.getByID('io.containerd.grpc.v1', 'proxy-snapshot') as GrpcServicePlugin;
    const server = testServer(join(dir, 'served.sock'), () => grpc.services);
    await server.start();
    try {
      const client = await load(proxyPlugins({ prox: { type: 'snapshot', address: server.socket } }), join(dir, 'client'));
      const sn = record(client, 'prox').instance as RemoteSnapshotter;
      // The name in requests (`prox`) is not the served plugin's: it is ignored.
      await sn.prepare({ namespace: 'default' }, 'default/1/k');
      await sn.commit({ namespace: 'default' }, 'default/2/c', 'default/1/k');
      const native = served.getByID('io.containerd.snapshotter.v1', 'native');
      // Keys arrive raw: the serving side adds no namespace of its own.
      expect((await native.stat({}, 'default/2/c')).kind).toBe('Committed');
      // Not even an empty name is refused (containerd's contrib snapshotservice ignores it).
      const unnamed = new RemoteSnapshotter(new ProxyConnection({ name: 'unnamed', address: server.socket }), '');
      expect((await unnamed.stat({}, 'default/2/c')).name).toBe('default/2/c');
      await unnamed.close();
    } finally {
      await server.stop();
    }
  });
});
