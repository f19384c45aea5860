// `containerd-ts serve-proxy`: one plugin of this daemon (and the plugins it requires),
// served as a containerd proxy plugin — its snapshots, content or diff gRPC service on a
// unix socket — for containerd's or containerd-ts's `[proxy_plugins.<name>]`.
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type DaemonConfig, type loadConfig } from '@containerd-ts/config';
import { createDaemon, createLogger, isLogLevel, loadDaemonConfig, serveDaemon } from '@containerd-ts/daemon';
import { type AnyPluginDefinition, pluginURI } from '@containerd-ts/plugin';
import { proxyPluginTypes } from '@containerd-ts/proxy';
import { type ProxyKind, proxyServerPlugin } from '@containerd-ts/proxy/server';
import { REVISION, VERSION } from './version.js';

export const serveProxyUsage = `containerd-ts serve-proxy — serve one plugin as a containerd proxy plugin

USAGE:
   containerd-ts serve-proxy --type snapshot|content|diff --plugin URI --root DIR --address SOCK [flags]

FLAGS:
   --type TYPE         snapshot, content or diff: the gRPC service to serve
   --plugin URI        the plugin to serve, <type>.<id> (io.containerd.snapshotter.v1.native, …)
   --root DIR          root directory; the plugin keeps its data in DIR/<type>.<id>
   --state DIR         state directory (default DIR/state)
   --address SOCK      unix socket to serve on
   --config, -c PATH   config file for plugin sections ([plugins."<URI>"]) and plugin_dir
   --log-level LEVEL   trace, debug, info, warn, error, fatal, panic
   --help, -h          show this help

The snapshotter name in requests is ignored and keys are used as they come (no namespaces).
`;

const options = {
  type: { type: 'string' },
  plugin: { type: 'string' },
  root: { type: 'string' },
  state: { type: 'string' },
  address: { type: 'string', short: 'a' },
  config: { type: 'string', short: 'c' },
  'log-level': { type: 'string', short: 'l' },
  help: { type: 'boolean', short: 'h' },
} as const;

function fail(message: string): never {
  process.stderr.write(`containerd-ts serve-proxy: ${message}\n`);
  process.exit(1);
}

const isKind = (t: string): t is ProxyKind => Object.hasOwn(proxyPluginTypes, t);

/**
 * `target` and every plugin it needs, in registration order: the plugins of each type it
 * requires, and theirs (`'*'` = all of them).
 */
export function withRequirements(plugins: readonly AnyPluginDefinition[], target: AnyPluginDefinition): AnyPluginDefinition[] {
  const needed = new Set<AnyPluginDefinition>([target]);
  const pending = [target];
  while (pending.length > 0) {
    const def = pending.pop()!;
    for (const type of def.requires) {
      for (const other of plugins) {
        if (needed.has(other) || (type !== '*' && other.type !== type)) continue;
        needed.add(other);
        pending.push(other);
      }
    }
  }
  return plugins.filter((p) => needed.has(p));
}

/** Resolves the plugin set and config `serve-proxy` runs with; throws a one-line Error on bad input. */
export function serveProxySetup(
  plugins: readonly AnyPluginDefinition[],
  config: DaemonConfig,
  args: { type: string; plugin: string; root: string; address: string; state?: string | undefined },
): { plugins: AnyPluginDefinition[]; config: DaemonConfig } {
  const { type, plugin: uri } = args;
  if (!isKind(type)) throw new Error(`--type must be snapshot, content or diff, not "${type}"`);
  const target = plugins.find((p) => pluginURI(p) === uri);
  if (!target) {
    const candidates = plugins.filter((p) => p.type === proxyPluginTypes[type]).map(pluginURI);
    throw new Error(`no plugin ${uri} in this daemon (plugins of type ${proxyPluginTypes[type]}: ${candidates.join(', ') || 'none'})`);
  }
  if (target.type !== proxyPluginTypes[type]) throw new Error(`plugin ${uri} is not of type ${proxyPluginTypes[type]} (--type ${type})`);
  if (config.disabled_plugins.includes(uri)) throw new Error(`plugin ${uri} is disabled by disabled_plugins`);
  const server = proxyServerPlugin(type, target.id);
  const root = resolve(args.root);
  const out: DaemonConfig = {
    ...config,
    root,
    state: resolve(args.state ?? join(root, 'state')),
    grpc: { ...config.grpc, address: resolve(args.address), tcp_address: '' },
    // Only this plugin and what it needs run here; it must start, and proxies of the
    // config (which may point at this very socket) are not for this process.
    required_plugins: [uri, pluginURI(server)],
    proxy_plugins: {},
  };
  return { plugins: [...withRequirements(plugins, target), server], config: out };
}

export async function runServeProxy(plugins: readonly AnyPluginDefinition[], argv: string[]): Promise<void> {
  let values: ReturnType<typeof parseArgs<{ options: typeof options }>>['values'];
  try {
    ({ values } = parseArgs({ args: argv, options }));
  } catch (err) {
    fail(`${(err as Error).message}\n\n${serveProxyUsage}`);
  }
  if (values.help) {
    process.stdout.write(serveProxyUsage);
    return;
  }
  for (const flag of ['type', 'plugin', 'root', 'address'] as const) {
    if (!values[flag]) fail(`--${flag} is required\n\n${serveProxyUsage}`);
  }
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !isLogLevel(logLevel)) fail(`invalid --log-level "${logLevel}"`);
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadDaemonConfig(values.config, plugins, logLevel ? { logLevel } : {});
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  if (logLevel) loaded.config.debug.level = logLevel as DaemonConfig['debug']['level'];
  let setup: ReturnType<typeof serveProxySetup>;
  try {
    setup = serveProxySetup(loaded.plugins, loaded.config, {
      type: values.type!,
      plugin: values.plugin!,
      root: values.root!,
      address: values.address!,
      state: values.state,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const log = createLogger(setup.config.debug.level, { format: setup.config.debug.format });
  for (const w of loaded.warnings) log.warn({}, w);
  const daemon = createDaemon({ plugins: setup.plugins, config: setup.config, log, version: { version: VERSION, revision: REVISION } });
  try {
    await serveDaemon(daemon, log);
  } catch (err) {
    fail((err as Error).message);
  }
  log.info({ plugin: values.plugin, type: values.type, address: setup.config.grpc.address }, 'serving proxy plugin');
}
