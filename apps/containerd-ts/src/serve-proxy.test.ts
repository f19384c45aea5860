// serve-proxy's plugin selection: the served plugin, what it requires, the serving plugin,
// and the config it runs with.
import { daemonConfigSchema } from '@containerd-ts/config';
import { pluginURI } from '@containerd-ts/plugin';
import { describe, expect, it } from 'vitest';
import { allPlugins } from './plugins.js';
import { serveProxySetup } from './serve-proxy.js';

const config = () =>
  daemonConfigSchema.parse({
    required_plugins: ['io.containerd.grpc.v1.cri'],
    proxy_plugins: { self: { type: 'snapshot', address: '/run/p.sock' } },
  });
const args = { root: '/var/lib/p', address: '/run/p.sock' };

describe('serve-proxy setup', () => {
  it('serves a snapshotter alone, with its own root, socket and no proxies', () => {
    const setup = serveProxySetup(allPlugins(), config(), { ...args, type: 'snapshot', plugin: 'io.containerd.snapshotter.v1.native' });
    expect(setup.plugins.map(pluginURI)).toEqual(['io.containerd.snapshotter.v1.native', 'io.containerd.grpc.v1.proxy-snapshot']);
    expect(setup.config).toMatchObject({
      root: '/var/lib/p',
      state: '/var/lib/p/state',
      grpc: { address: '/run/p.sock', tcp_address: '' },
      required_plugins: ['io.containerd.snapshotter.v1.native', 'io.containerd.grpc.v1.proxy-snapshot'],
      proxy_plugins: {},
    });
  });

  it('brings what a differ requires: the metadata plugin, and the content store and snapshotters it requires', () => {
    const setup = serveProxySetup(allPlugins(), config(), { ...args, type: 'diff', plugin: 'io.containerd.differ.v1.walking' });
    const uris = setup.plugins.map(pluginURI);
    expect(uris).toContain('io.containerd.metadata.v1.bolt');
    expect(uris).toContain('io.containerd.content.v1.content');
    expect(uris).toContain('io.containerd.snapshotter.v1.native');
    expect(uris).not.toContain('io.containerd.grpc.v1.snapshots');
    expect(uris.at(-1)).toBe('io.containerd.grpc.v1.proxy-diff');
  });

  it('refuses an unknown plugin, a plugin of another type and a disabled plugin', () => {
    const serve = (type: string, plugin: string, c = config()) => () => serveProxySetup(allPlugins(), c, { ...args, type, plugin });
    expect(serve('snapshot', 'io.containerd.snapshotter.v1.nope')).toThrow(
      /no plugin io.containerd.snapshotter.v1.nope in this daemon \(plugins of type io.containerd.snapshotter.v1: .*native/,
    );
    expect(serve('content', 'io.containerd.snapshotter.v1.native')).toThrow('is not of type io.containerd.content.v1');
    expect(serve('image', 'io.containerd.snapshotter.v1.native')).toThrow('--type must be snapshot, content or diff');
    const disabled = config();
    disabled.disabled_plugins = ['io.containerd.content.v1.content'];
    expect(serve('content', 'io.containerd.content.v1.content', disabled)).toThrow('disabled by disabled_plugins');
  });
});
