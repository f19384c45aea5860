// The containerd-ts command line: parse flags, load the config, run the daemon (or a
// config subcommand). `runCli` takes the plugin list so custom daemons can reuse it.
import { parseArgs } from 'node:util';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, renderConfig, renderDefaultConfig } from '@containerd-ts/config';
import { createDaemon, createLogger, isLogLevel, loadPluginDir } from '@containerd-ts/daemon';
import type { AnyPluginDefinition } from '@containerd-ts/plugin';
import { REVISION, VERSION } from './version.js';

const usage = `containerd-ts — a containerd-compatible container daemon

USAGE:
   containerd-ts [flags]                 run the daemon
   containerd-ts [flags] config default  print the built-in default config (version 2)
   containerd-ts [flags] config dump     print the effective config after imports and merging
   containerd-ts serve-proxy --type snapshot|content|diff --plugin URI --root DIR --address SOCK
                                         serve one plugin as a containerd proxy plugin (serve-proxy --help)

FLAGS:
   --config, -c PATH   config file (default ${DEFAULT_CONFIG_PATH}; missing default = built-in defaults)
   --address, -a PATH  gRPC unix socket (overrides grpc.address)
   --root PATH         root directory (overrides root)
   --state PATH        state directory (overrides state)
   --log-level LEVEL   trace, debug, info, warn, error, fatal, panic
   --version, -v       print the version
   --help, -h          show this help
`;

function fail(message: string): never {
  process.stderr.write(`containerd-ts: ${message}\n`);
  process.exit(1);
}

export async function runCli(plugins: readonly AnyPluginDefinition[], argv: string[] = process.argv.slice(2)): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  const options = {
    config: { type: 'string', short: 'c' },
    address: { type: 'string', short: 'a' },
    root: { type: 'string' },
    state: { type: 'string' },
    'log-level': { type: 'string', short: 'l' },
    version: { type: 'boolean', short: 'v' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true });
  } catch (err) {
    fail(`${(err as Error).message}\n\n${usage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    return;
  }
  if (values.version) {
    process.stdout.write(`containerd-ts ${VERSION} ${REVISION}\n`);
    return;
  }
  const [command, sub] = positionals;
  if (command === 'config' && sub === 'default') {
    process.stdout.write(renderDefaultConfig(plugins));
    return;
  }
  if (command !== undefined && !(command === 'config' && sub === 'dump')) fail(`unknown command "${positionals.join(' ')}"\n\n${usage}`);

  const logLevel = values['log-level'];
  if (logLevel !== undefined && !isLogLevel(logLevel)) fail(`invalid --log-level "${logLevel}"`);
  const configPath = values.config ?? DEFAULT_CONFIG_PATH;
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig(configPath, {
      plugins,
      optional: values.config === undefined,
      loadPluginDir: async (dir) => (await loadPluginDir(dir, createLogger(logLevel ?? 'info'))).plugins,
    });
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const config = loaded.config;
  if (values.root) config.root = values.root;
  if (values.state) config.state = values.state;
  if (values.address) config.grpc.address = values.address;
  if (logLevel) config.debug.level = logLevel as typeof config.debug.level;

  if (command === 'config') {
    const header = loaded.files.length > 0 ? `merged from: ${loaded.files.join(', ')}` : 'built-in defaults';
    process.stdout.write(renderConfig(config, loaded.plugins, header));
    return;
  }

  const log = createLogger(config.debug.level);
  for (const w of loaded.warnings) log.warn({}, w);
  const daemon = createDaemon({ plugins: loaded.plugins, config, log, version: { version: VERSION, revision: REVISION } });
  let exiting = false;
  const shutdown = (signal: string) => {
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
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  // A bug in one request must not take the daemon down: log it and keep serving.
  process.on('uncaughtException', (err) => log.error({ error: err.stack ?? String(err) }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => log.error({ error: String((err as Error)?.stack ?? err) }, 'unhandled rejection'));
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop().catch(() => {});
    fail((err as Error).message);
  }
  // Start-up leaves garbage (config parsing, module init) a young-generation GC never
  // reaches; one full collection once booted (when the launcher exposes gc) returns it.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) setTimeout(gc, 500).unref();
}
