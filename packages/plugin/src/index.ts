// Public surface of the plugin contract.
export { SkipPluginError, isSkipPlugin, PluginGraphError, RequiredPluginError } from './errors.js';
export { buildPluginGraph, type PluginGraph } from './graph.js';
export { PluginRegistry, type PluginRegistryOptions } from './registry.js';
export {
  type AnyPluginDefinition,
  type ConfigSchema,
  type DaemonInfo,
  definePlugin,
  hostPlatform,
  type InitContext,
  type InstanceByID,
  type InstanceOf,
  type PluginInstanceMap,
  type Logger,
  PLUGIN_API_VERSION,
  type PluginDefinition,
  type PluginMeta,
  type PluginRecord,
  type PluginStatus,
  PluginType,
  type PluginTypeMap,
  pluginURI,
} from './types.js';
