// containerd's proxy_plugins: snapshotters, content stores and differs served by another
// process over containerd's gRPC API, connected lazily, and their plugin definitions.
export {
  callContext,
  DEFAULT_CONNECT_TIMEOUT_MS,
  ProxyConnection,
  type ProxyConnectionOptions,
  type ProxyState,
  type ProxyStatus,
} from './connection.js';
export { RemoteContentStore } from './content.js';
export { RemoteDiff } from './diff.js';
export { RemoteSnapshotter } from './snapshotter.js';
export {
  LAST_ERROR_EXPORT,
  type ProxyPluginOptions,
  proxyPlugin,
  proxyPlugins,
  proxyPluginTypes,
  STATE_EXPORT,
  withProxyPlugins,
} from './plugins.js';
