// config.toml (version 2): load with imports, strict validation, rendering.
export { containerdPluginURIs } from './known-plugins.js';
export { type LoadedConfig, type LoadOptions, loadConfig, mergeConfigTables } from './load.js';
export { effectivePluginSections, renderConfig, renderDefaultConfig } from './render.js';
export {
  DEFAULT_ADDRESS,
  DEFAULT_CONFIG_PATH,
  DEFAULT_ROOT,
  DEFAULT_STATE,
  type DaemonConfig,
  daemonConfigSchema,
  defaultTimeouts,
  PARSE_ONCE,
  type ProxyPluginConfig,
  proxyPluginSchema,
} from './schema.js';
export { ConfigError, formatKeyPath, knownKeysAt, suggestKey, validateWith } from './validate.js';
