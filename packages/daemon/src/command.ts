// The daemon's command line for any plugin set: containerd's flags (--config, --address,
// --root, --state, --log-level), `config default` / `config dump`, plugin_dir loading, and
// an orderly stop on SIGTERM/SIGINT. A custom runtime is `runDaemonCommand({ name, plugins })`.
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_PATH, type DaemonConfig, loadConfig, renderConfig, renderDefaultConfig } from '@containerd-ts/config';
import type { AnyPluginDefinition, Logger } from '@containerd-ts/plugin';
import { createDaemon, type Daemon } from './daemon.js';
import { createLogger, isLogLevel } from './logger.js';
import { loadPluginDir } from './plugin-dir.js';

export interface DaemonCommandOptions {
  /** Program name, used in the usage text and in error messages. */
  name: string;
  /** Every built-in plugin of this daemon, in registration order (plugin_dir adds to them). */
  plugins: readonly AnyPluginDefinition[];
  /** What `--version` prints and `ctr version` shows. */
  version?: { version: string; revision: string };
  /** Config file read when `--config` is not given; when it does not exist the built-in defaults apply. */
  defaultConfigPath?: string;
  /** One line under the name in `--help`. */
  description?: string;
  /** Arguments after the program name (default `process.argv.slice(2)`). */
  argv?: string[];
  /** Called with the loaded config before the daemon is built (to adjust it in code). */
  configure?: (config: DaemonConfig) => void;
  /** More lines for the USAGE section of `--help`: commands the program handles before calling this. */
  moreUsage?: string;
}

const flags = {
  config: { type: 'string', short: 'c' },
  address: { type: 'string', short: 'a' },
  root: { type: 'string' },
  state: { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  version: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageOf(name: string, description: string, configPath: string, moreUsage = ''): string {
  return `${name} — ${description}

USAGE:
   ${name} [flags]                 run the daemon
   ${name} [flags] config default  print the built-in default config (version 2)
   ${name} [flags] config dump     print the effective config after imports and merging
${moreUsage}
FLAGS:
   --config, -c PATH   config file (default ${configPath}; missing default = built-in defaults)
   --address, -a PATH  gRPC unix socket (overrides grpc.address)
   --root PATH         root directory (overrides root)
   --state PATH        state directory (overrides state)
   --log-level LEVEL   trace, debug, info, warn, error, fatal, panic
   --version, -v       print the version
   --help, -h          show this help
`;
}

/**
 * Stops `daemon` on SIGTERM or SIGINT (plugins closed in reverse order, socket removed), then
 * exits 0, or 1 when stopping failed. Returns a function that removes the handlers.
 */
export function stopOnSignals(daemon: Pick<Daemon, 'stop'>, log: Logger): () => void {
  let exiting = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (exiting) return;
    exiting = true;
    log.info({ signal }, 'received signal, stopping');
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ error: (err as Error).message }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return () => {
    process.off('SIGTERM', shutdown);
    process.off('SIGINT', shutdown);
  };
}

/**
 * Loads a config file for `plugins`: imports, `plugin_dir` (its modules join the plugins,
 * their failures logged at `logLevel`), every plugin section validated by its schema.
 * Without a path, or with `optional` and a missing file, the built-in defaults apply.
 * Bad config is a ConfigError whose message is the one line to print.
 */
export function loadDaemonConfig(
  path: string | undefined,
  plugins: readonly AnyPluginDefinition[],
  options: { optional?: boolean; logLevel?: string } = {},
): ReturnType<typeof loadConfig> {
  return loadConfig(path, {
    plugins,
    optional: options.optional ?? false,
    loadPluginDir: async (dir, config) =>
      (await loadPluginDir(dir, createLogger(options.logLevel || config.debug.level, { format: config.debug.format }))).plugins,
  });
}

/**
 * Starts `daemon` and keeps it serving: SIGTERM/SIGINT stop it (stopOnSignals), and an
 * uncaught error in one request is logged instead of taking the process down. When the
 * start fails, what did start is stopped and the error is rethrown.
 */
export async function serveDaemon(daemon: Pick<Daemon, 'start' | 'stop'>, log: Logger): Promise<void> {
  stopOnSignals(daemon, log);
  process.on('uncaughtException', (err) => log.error({ error: err.stack ?? String(err) }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ error: String((err as Error)?.stack ?? err) }, 'unhandled rejection'));
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop().catch(() => {});
    throw err;
  }
}

/**
 * Runs the daemon command: parses flags, loads the config (with its imports and plugin_dir,
 * every plugin section validated by its schema), then either prints a config or starts the
 * daemon and keeps it serving until a signal stops it. Exits the process with status 1 and a
 * one-line message on a bad flag, a bad config or a failed start. Resolves with the started
 * daemon, or undefined when it only printed something.
 */
export async function runDaemonCommand(options: DaemonCommandOptions): Promise<Daemon | undefined> {
  const { name, plugins } = options;
  const configPath = options.defaultConfigPath ?? DEFAULT_CONFIG_PATH;
  const usage = usageOf(name, options.description ?? 'a containerd-compatible container daemon', configPath, options.moreUsage);
  const fail = (message: string): never => {
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(1);
  };
  let parsed: ReturnType<typeof parseArgs<{ options: typeof flags; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: options.argv ?? process.argv.slice(2), options: flags, allowPositionals: true });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${usage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return undefined;
  }
  if (values.version) {
    process.stdout.write(`${name} ${options.version?.version ?? ''} ${options.version?.revision ?? ''}`.trimEnd() + '\n');
    return undefined;
  }
  const [command, sub] = positionals;
  if (command === 'config' && sub === 'default') {
    process.stdout.write(renderDefaultConfig(plugins));
    return undefined;
  }
  if (command !== undefined && !(command === 'config' && sub === 'dump')) fail(`unknown command "${positionals.join(' ')}"\n\n${usage}`);

  const logLevel = values['log-level'];
  if (logLevel !== undefined && !isLogLevel(logLevel)) fail(`invalid --log-level "${logLevel}"`);
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadDaemonConfig(values.config ?? configPath, plugins, { optional: values.config === undefined, ...(logLevel ? { logLevel } : {}) });
  } catch (err) {
    if (err instanceof ConfigError) return fail(err.message);
    throw err;
  }
  const config = loaded.config;
  if (values.root) config.root = values.root;
  if (values.state) config.state = values.state;
  if (values.address) config.grpc.address = values.address;
  if (logLevel) config.debug.level = logLevel as DaemonConfig['debug']['level'];
  options.configure?.(config);

  if (command === 'config') {
    const header = loaded.files.length > 0 ? `merged from: ${loaded.files.join(', ')}` : 'built-in defaults';
    process.stdout.write(renderConfig(config, loaded.plugins, header));
    return undefined;
  }

  const log = createLogger(config.debug.level, { format: config.debug.format });
  for (const w of loaded.warnings) log.warn({}, w);
  const daemon = createDaemon({ plugins: loaded.plugins, config, log, ...(options.version ? { version: options.version } : {}) });
  try {
    await serveDaemon(daemon, log);
  } catch (err) {
    return fail((err as Error).message);
  }
  // What start-up leaves behind (config parsing, module init), which young-generation
  // collections never reach, is released by the daemon once it has been quiet after start.
  return daemon;
}
