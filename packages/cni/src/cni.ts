// A container's networks as go-cni sets them up and removes them (its libcni wrapper) with
// libcni's AddNetworkList/DelNetworkList: each network's plugins run in order on ADD, each
// given the previous one's result, the last result cached under the cache directory; DEL
// runs them in reverse with the cached result, then drops the cache entry.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CniError, type NetworkConfigList, type PluginConfig, loadNetworks } from './conf.js';
import { marshalSorted } from './go-json.js';
import { type PluginArgs, PluginError, execPlugin, findInPath, pluginEnv } from './invoke.js';
import { versionAtLeast } from './version.js';

/** go-cni's defaults, which ctr uses. */
export const DEFAULT_CONF_DIR = '/etc/cni/net.d';
/** go-cni's /opt/cni/bin, then /usr/lib/cni, where Debian installs the plugins and Debian's ctr looks too. */
export const DEFAULT_PLUGIN_DIRS: readonly string[] = ['/opt/cni/bin', '/usr/lib/cni'];
export const DEFAULT_CACHE_DIR = '/var/lib/cni';

export interface CniOptions {
  confDir?: string;
  pluginDirs?: readonly string[];
  cacheDir?: string;
  /** How many configuration files make networks (go-cni's WithDefaultConf: 1; 0: all). */
  maxNetworks?: number;
  /** Interface name prefix: the networks' interfaces are <prefix>0, <prefix>1, … */
  prefix?: string;
  /** Where plugins' stderr goes when they succeed (go-cni: this process's stderr). */
  stderr?: NodeJS.WritableStream;
}

/** One network attached at an interface. */
export interface Network {
  config: NetworkConfigList;
  ifName: string;
}

/** The result of one network's ADD: the last plugin's result document. */
export type NetworkResult = Record<string, unknown>;

const CACHE_KIND = 'cniCacheV1';
const ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** utils.ValidateContainerID, ValidateNetworkName, ValidateInterfaceName. */
function validate(containerId: string, network: string, ifName: string): void {
  if (containerId === '') throw new PluginError(3, 'missing containerID');
  if (!ID.test(containerId)) throw new PluginError(4, 'invalid characters in containerID', containerId);
  if (network === '') throw new PluginError(7, 'missing network name:');
  if (!ID.test(network)) throw new PluginError(7, 'invalid characters found in network name', network);
  if (ifName === '') throw new PluginError(4, 'interface name is empty');
  if (ifName.length > 15) throw new PluginError(4, 'interface name is too long', 'interface name should be less than 16 characters');
  if (ifName === '.' || ifName === '..') throw new PluginError(4, 'interface name is . or ..');
  if (/[/:\s]/.test(ifName)) throw new PluginError(4, 'interface name contains / or : or whitespace characters');
}

/** libcni pluginDescription. */
const describe = (p: PluginConfig) => `type=${JSON.stringify(p.type)}${p.name !== '' ? ` name=${JSON.stringify(p.name)}` : ''}`;

export class Cni {
  private constructor(
    readonly networks: readonly Network[],
    private readonly pluginDirs: readonly string[],
    private readonly cacheDir: string,
    private readonly stderr: NodeJS.WritableStream | undefined,
  ) {}

  /**
   * gocni.New(gocni.WithDefaultConf): the first `maxNetworks` networks of the
   * configuration directory, or a CniError in go-cni's words (no configuration: `no network
   * config found in /etc/cni/net.d: cni plugin not initialized`).
   */
  static async load(opts: CniOptions = {}): Promise<Cni> {
    const pluginDirs = opts.pluginDirs ?? DEFAULT_PLUGIN_DIRS;
    const lists = await loadNetworks(opts.confDir ?? DEFAULT_CONF_DIR, opts.maxNetworks ?? 1, pluginDirs);
    const prefix = opts.prefix ?? 'eth';
    return new Cni(
      lists.map((config, i) => ({ config, ifName: `${prefix}${i}` })),
      pluginDirs,
      opts.cacheDir ?? DEFAULT_CACHE_DIR,
      opts.stderr ?? process.stderr,
    );
  }

  /** Setup: every network attached to the namespace at `netns` (all at once, the first error kept). */
  async setup(containerId: string, netns: string): Promise<NetworkResult[]> {
    const settled = await Promise.allSettled(this.networks.map((n) => this.addNetworkList(n, containerId, netns)));
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<NetworkResult>).value);
  }

  /**
   * Remove: every network detached, in order; a plugin's "not found" (or a missing file when
   * no namespace is given) counts as already gone.
   */
  async remove(containerId: string, netns: string): Promise<void> {
    for (const n of this.networks) {
      try {
        await this.delNetworkList(n, containerId, netns);
      } catch (err) {
        const text = (err as Error).message;
        if ((netns === '' && text.includes('no such file or directory')) || text.includes('not found')) continue;
        throw err;
      }
    }
  }

  private args(command: PluginArgs['command'], containerId: string, netns: string, ifName: string): PluginArgs {
    return { command, containerId, netns, ifName, args: [], path: this.pluginDirs };
  }

  private cachePath(network: string, containerId: string, ifName: string): string {
    return join(this.cacheDir, 'results', `${network}-${containerId}-${ifName}`);
  }

  /** buildOneConfig: the plugin's entry with the list's name and version (and the previous result). */
  private static pluginConfig(list: NetworkConfigList, plugin: PluginConfig, prevResult: NetworkResult | undefined): string {
    const conf: Record<string, unknown> = { ...plugin.raw, name: list.name, cniVersion: list.cniVersion };
    if (prevResult !== undefined) conf.prevResult = prevResult;
    return marshalSorted(conf);
  }

  private async addNetworkList({ config: list, ifName }: Network, containerId: string, netns: string): Promise<NetworkResult> {
    let result: NetworkResult | undefined;
    for (const plugin of list.plugins) {
      try {
        const path = await findInPath(plugin.type, this.pluginDirs);
        validate(containerId, list.name, ifName);
        const stdout = await execPlugin(path, Cni.pluginConfig(list, plugin, result), pluginEnv(this.args('ADD', containerId, netns, ifName)), this.stderr);
        result = parseResult(stdout);
      } catch (err) {
        throw new CniError(`plugin ${describe(plugin)} failed (add): ${(err as Error).message}`, 'plugin');
      }
    }
    const file = this.cachePath(list.name, containerId, ifName);
    try {
      const cached = { kind: CACHE_KIND, containerId, config: list.bytes.toString('base64'), ifName, networkName: list.name, result };
      await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      await writeFile(file, JSON.stringify(cached), { mode: 0o600 });
    } catch (err) {
      throw new CniError(`failed to set network ${JSON.stringify(list.name)} cached result: ${(err as Error).message}`, 'plugin');
    }
    return result ?? {};
  }

  private async delNetworkList({ config: list, ifName }: Network, containerId: string, netns: string): Promise<void> {
    let cached: NetworkResult | undefined;
    // Results are given to DEL from spec version 0.4.0 on.
    if (versionAtLeast(list.cniVersion, '0.4.0')) cached = await this.cachedResult(list.name, containerId, ifName);
    for (const plugin of [...list.plugins].reverse()) {
      try {
        const path = await findInPath(plugin.type, this.pluginDirs);
        await execPlugin(path, Cni.pluginConfig(list, plugin, cached), pluginEnv(this.args('DEL', containerId, netns, ifName)), this.stderr);
      } catch (err) {
        throw new CniError(`plugin ${describe(plugin)} failed (delete): ${(err as Error).message}`, 'plugin');
      }
    }
    await rm(this.cachePath(list.name, containerId, ifName), { force: true }).catch(() => {});
  }

  /** The result cached by ADD, if it is there and readable (libcni ignores a missing one). */
  private async cachedResult(network: string, containerId: string, ifName: string): Promise<NetworkResult | undefined> {
    let text: string;
    try {
      text = await readFile(this.cachePath(network, containerId, ifName), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const doc = JSON.parse(text) as { kind?: unknown; result?: unknown };
      if (doc.kind === CACHE_KIND && typeof doc.result === 'object' && doc.result !== null) return doc.result as NetworkResult;
    } catch {}
    return undefined;
  }
}

/** A plugin's result document (version.NewResult's decoding). */
function parseResult(stdout: Buffer): NetworkResult {
  let doc: unknown;
  try {
    doc = JSON.parse(stdout.toString());
  } catch (err) {
    throw new Error(`failed to decode result: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('failed to decode result: not a JSON object');
  return doc as NetworkResult;
}
