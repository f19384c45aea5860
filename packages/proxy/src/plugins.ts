// `[proxy_plugins.<name>]` as plugin definitions, as containerd registers them: type
// snapshot → io.containerd.snapshotter.v1, content → io.containerd.content.v1, diff →
// io.containerd.differ.v1, ID = name; exports (with `address`), platform (the host's when
// absent) and capabilities from the config. The connection state is added to the exports
// and kept current, so `ctr plugins ls -d` shows whether the proxy is up.
import type { ProxyPluginConfig } from '@containerd-ts/config';
import { type AnyPluginDefinition, definePlugin, hostPlatform, type InitContext } from '@containerd-ts/plugin';
import type {} from '@containerd-ts/content';
import type {} from '@containerd-ts/diff';
import type {} from '@containerd-ts/snapshots';
import { ProxyConnection, type ProxyStatus } from './connection.js';
import { RemoteContentStore } from './content.js';
import { RemoteDiff } from './diff.js';
import { RemoteSnapshotter } from './snapshotter.js';

export interface ProxyPluginOptions {
  /** Retry window of one call while the proxy is down (default 3 s). */
  connectTimeoutMs?: number;
}

/** Plugin type of each proxy type. */
export const proxyPluginTypes = {
  snapshot: 'io.containerd.snapshotter.v1',
  content: 'io.containerd.content.v1',
  diff: 'io.containerd.differ.v1',
} as const;

/** Export keys the connection state is published under. */
export const STATE_EXPORT = 'state';
export const LAST_ERROR_EXPORT = 'last_error';

/** Sets up the introspection fields and the connection shared by the three kinds of proxy. */
function connect(
  ctx: InitContext<Record<string, never>>,
  name: string,
  entry: ProxyPluginConfig,
  options: ProxyPluginOptions,
): ProxyConnection {
  const { exports } = ctx.meta;
  Object.assign(exports, entry.exports ?? {}, { address: entry.address });
  ctx.meta.capabilities.push(...(entry.capabilities ?? []));
  const conn = new ProxyConnection({
    name,
    address: entry.address,
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  // The exports object is read at every introspection request: keeping it current is
  // how a plugin publishes changing values (see PluginMeta.exports).
  const publish = (status: ProxyStatus) => {
    exports[STATE_EXPORT] = status.state;
    if (status.lastError) exports[LAST_ERROR_EXPORT] = status.lastError;
    else delete exports[LAST_ERROR_EXPORT];
    if (status.state === 'unavailable') ctx.log.debug({ address: entry.address, error: status.lastError }, 'proxy plugin unavailable');
    else if (status.state === 'ready') ctx.log.debug({ address: entry.address }, 'proxy plugin connected');
  };
  const stop = conn.onStatus(publish);
  ctx.onClose(() => {
    stop();
    conn.close();
  });
  // Not waited for: the plugin loads whether or not the proxy is up; this only lets the
  // state show it before the first call.
  conn.probe();
  return conn;
}

/** The plugin definition of one `[proxy_plugins.<name>]` entry. */
export function proxyPlugin(name: string, entry: ProxyPluginConfig, options: ProxyPluginOptions = {}): AnyPluginDefinition {
  const platforms = [entry.platform || hostPlatform()];
  switch (entry.type) {
    case 'snapshot':
      return definePlugin({
        type: proxyPluginTypes.snapshot,
        id: name,
        platforms,
        init: (ctx) => new RemoteSnapshotter(connect(ctx, name, entry, options), name),
      });
    case 'content':
      return definePlugin({
        type: proxyPluginTypes.content,
        id: name,
        platforms,
        init: (ctx) => new RemoteContentStore(connect(ctx, name, entry, options)),
      });
    case 'diff':
      return definePlugin({
        type: proxyPluginTypes.diff,
        id: name,
        platforms,
        init: (ctx) => new RemoteDiff(connect(ctx, name, entry, options)),
      });
  }
}

/** Plugin definitions for the validated `proxy_plugins` table, in name order. */
export function proxyPlugins(config: Readonly<Record<string, ProxyPluginConfig>>, options: ProxyPluginOptions = {}): AnyPluginDefinition[] {
  return Object.keys(config)
    .sort()
    .map((name) => proxyPlugin(name, config[name]!, options));
}

/**
 * `definitions` with the proxy plugins of `config` added. Content proxies go first: the
 * metadata plugin takes the first content store that loads, so a content proxy replaces
 * the local store (containerd picks one of the two unpredictably in 1.6 and requires the
 * local one to be disabled in 2.x). Other proxies go last, where containerd registers them.
 */
export function withProxyPlugins(
  definitions: readonly AnyPluginDefinition[],
  config: Readonly<Record<string, ProxyPluginConfig>>,
  options: ProxyPluginOptions = {},
): AnyPluginDefinition[] {
  const proxies = proxyPlugins(config, options);
  const content = proxies.filter((p) => p.type === proxyPluginTypes.content);
  const others = proxies.filter((p) => p.type !== proxyPluginTypes.content);
  return [...content, ...definitions, ...others];
}
