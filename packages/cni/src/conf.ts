// Network configurations as libcni reads them (conf.go) and go-cni picks the default one
// (loadFromConfDir): the files of the configuration directory ending in .conf, .conflist or
// .json, sorted by name; the first that loads is the network, its interface eth0.
import { readFile, readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { goPathError } from '@containerd-ts/client';
import { marshalSorted } from './go-json.js';

/** One plugin's configuration (types.NetConf's fields libcni reads, and the decoded entry). */
export interface PluginConfig {
  type: string;
  /** The plugin entry's own `name`, if it has one (plugin errors name it). */
  name: string;
  capabilities: Record<string, boolean>;
  /** The entry as a decoded JSON object. */
  raw: Record<string, unknown>;
}

/** A network: a named list of plugins run in order (NetworkConfigList). */
export interface NetworkConfigList {
  name: string;
  cniVersion: string;
  disableCheck: boolean;
  plugins: PluginConfig[];
  /** The bytes it was read from (what the result cache keeps as `config`). */
  bytes: Buffer;
}

const typeName = (v: unknown) => (v === null ? '<nil>' : Array.isArray(v) ? '[]interface {}' : typeof v === 'object' ? 'map[string]interface {}' : typeof v === 'number' ? 'float64' : typeof v);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON.parse as json.Unmarshal into a struct or map: an object, or an Error. */
function parseObject(bytes: Buffer | string, what: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString());
  } catch (err) {
    throw new Error(`${what}: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new Error(`${what}: json: cannot unmarshal ${Array.isArray(doc) ? 'array' : typeof doc} into Go value`);
  return doc;
}

/** libcni ConfFromBytes: one plugin's configuration, which must have a `type`. */
export function confFromBytes(bytes: Buffer | string): PluginConfig {
  const raw = parseObject(bytes, 'error parsing configuration');
  const type = typeof raw.type === 'string' ? raw.type : '';
  if (type === '') throw new Error(`error parsing configuration: missing 'type'`);
  const capabilities: Record<string, boolean> = {};
  if (isObject(raw.capabilities)) for (const [k, v] of Object.entries(raw.capabilities)) capabilities[k] = v === true;
  return { type, name: typeof raw.name === 'string' ? raw.name : '', capabilities, raw };
}

/** libcni ConfListFromBytes. */
export function confListFromBytes(bytes: Buffer): NetworkConfigList {
  const raw = parseObject(bytes, 'error parsing configuration list');
  const prefix = 'error parsing configuration list';
  if (!('name' in raw)) throw new Error(`${prefix}: no name`);
  if (typeof raw.name !== 'string') throw new Error(`${prefix}: invalid name type ${typeName(raw.name)}`);
  let cniVersion = '';
  if ('cniVersion' in raw) {
    if (typeof raw.cniVersion !== 'string') throw new Error(`${prefix}: invalid cniVersion type ${typeName(raw.cniVersion)}`);
    cniVersion = raw.cniVersion;
  }
  let disableCheck = false;
  if ('disableCheck' in raw) {
    if (typeof raw.disableCheck !== 'boolean') throw new Error(`${prefix}: invalid disableCheck type ${typeName(raw.disableCheck)}`);
    disableCheck = raw.disableCheck;
  }
  if (!('plugins' in raw)) throw new Error(`${prefix}: no 'plugins' key`);
  if (!Array.isArray(raw.plugins)) throw new Error(`${prefix}: invalid 'plugins' type ${typeName(raw.plugins)}`);
  if (raw.plugins.length === 0) throw new Error(`${prefix}: no plugins in list`);
  const plugins = raw.plugins.map((entry, i) => {
    try {
      return confFromBytes(marshalSorted(entry));
    } catch (err) {
      throw new Error(`failed to parse plugin config ${i}: ${(err as Error).message}`);
    }
  });
  return { name: raw.name, cniVersion, disableCheck, plugins, bytes };
}

/** libcni ConfListFromConf: a single plugin's configuration made a list of one. */
export function confListFromConf(conf: PluginConfig): NetworkConfigList {
  const name = typeof conf.raw.name === 'string' ? conf.raw.name : '';
  const cniVersion = typeof conf.raw.cniVersion === 'string' ? conf.raw.cniVersion : '';
  return confListFromBytes(Buffer.from(marshalSorted({ cniVersion, name, plugins: [conf.raw] })));
}

/** libcni ConfFiles: the regular entries of `dir` with one of the extensions (none when it does not exist). */
export async function confFiles(dir: string, extensions: readonly string[]): Promise<string[]> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  // ioutil.ReadDir stats each entry: a symlink to a directory is a directory.
  const out: string[] = [];
  for (const e of entries) {
    if (!extensions.includes(extname(e.name))) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) continue;
    if (e.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isDirectory()) continue;
    out.push(path);
  }
  return out;
}

/** An error that wraps one of go-cni's sentinel errors (`: <sentinel>` at its end). */
export class CniError extends Error {
  constructor(
    message: string,
    readonly kind: 'not-initialized' | 'invalid-config' | 'read' | 'plugin',
  ) {
    super(message);
  }
}

const INVALID = 'invalid cni config';

/**
 * go-cni loadFromConfDir: up to `max` networks (0: all) from the configuration directory,
 * in the order of their file names, with the errors ctr prints.
 */
export async function loadNetworks(confDir: string, max: number, pluginDirs: readonly string[]): Promise<NetworkConfigList[]> {
  let files: string[];
  try {
    files = await confFiles(confDir, ['.conf', '.conflist', '.json']);
  } catch (err) {
    throw new CniError(`failed to read config file: ${goPathError('open', confDir, err as NodeJS.ErrnoException)}: failed to read config file`, 'read');
  }
  if (files.length === 0) throw new CniError(`no network config found in ${confDir}: cni plugin not initialized`, 'not-initialized');
  files.sort();
  const networks: NetworkConfigList[] = [];
  for (const file of files) {
    let list: NetworkConfigList;
    if (file.endsWith('.conflist')) {
      try {
        list = confListFromBytes(await readConfigFile(file));
      } catch (err) {
        throw new CniError(`failed to load CNI config list file ${file}: ${(err as Error).message}: ${INVALID}`, 'invalid-config');
      }
    } else {
      let conf: PluginConfig;
      try {
        conf = confFromBytes(await readConfigFile(file));
      } catch (err) {
        throw new CniError(`failed to load CNI config file ${file}: ${(err as Error).message}: ${INVALID}`, 'invalid-config');
      }
      try {
        list = confListFromConf(conf);
      } catch (err) {
        throw new CniError(`failed to convert CNI config file ${file} to CNI config list: ${(err as Error).message}: ${INVALID}`, 'invalid-config');
      }
    }
    networks.push(list);
    if (networks.length === max) break;
  }
  if (networks.length === 0) throw new CniError(`no valid networks found in [${pluginDirs.join(' ')}]: cni plugin not initialized`, 'not-initialized');
  return networks;
}

/** libcni ConfFromFile/ConfListFromFile's read, with its error words. */
async function readConfigFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new Error(`error reading ${file}: ${goPathError('open', file, err as NodeJS.ErrnoException)}`);
  }
}
