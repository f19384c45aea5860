export { Cni, type CniOptions, DEFAULT_CACHE_DIR, DEFAULT_CONF_DIR, DEFAULT_PLUGIN_DIRS, type Network, type NetworkResult } from './cni.js';
export { CniError, type NetworkConfigList, type PluginConfig, confFromBytes, confListFromBytes, confListFromConf, loadNetworks } from './conf.js';
export { PluginError, execPlugin, findInPath } from './invoke.js';
export { parseVersion, versionAtLeast } from './version.js';
