#!/usr/bin/env node
// ctr-ts: the containerd-ts CLI. Global flags and output follow containerd's ctr.
import { parseArgs } from 'node:util';
import { ContainerdError } from '@containerd-ts/errdefs';
import { eventsCommand } from './commands/events.js';
import { gcCommand } from './commands/gc.js';
import { leasesCommand } from './commands/leases.js';
import { namespacesCommand } from './commands/namespaces.js';
import { pluginsCommand } from './commands/plugins.js';
import { versionCommand } from './commands/version.js';
import { CommandError, DEFAULT_ADDRESS, type GlobalOptions, parseDurationMs } from './context.js';

const usage = `ctr-ts — containerd-ts CLI (speaks containerd's API; works against containerd too)

USAGE:
   ctr-ts [global options] command [command options] [arguments...]

COMMANDS:
   plugins, plugin   provides information about the daemon's plugins (ls [-q] [-d] [filters])
   namespaces, ns    manage namespaces (create/ls/label/rm)
   leases            manage leases (create/ls/rm)
   events, event     display containerd events [filters]
   gc                run and inspect the garbage collector: collect, explain (containerd-ts only)
   version           print the client and server versions

GLOBAL OPTIONS:
   --address value, -a value    address of the daemon's gRPC socket (default: "${DEFAULT_ADDRESS}") [$CONTAINERD_ADDRESS]
   --namespace value, -n value  namespace to use with commands (default: "default") [$CONTAINERD_NAMESPACE]
   --timeout value              total timeout for commands (default: 0s)
   --connect-timeout value      timeout for connecting to the daemon (default: 0s)
   --debug                      enable debug output
   --help, -h                   show help
`;

const out = (s: string) => process.stdout.write(s);

async function main(argv: string[]): Promise<void> {
  // Global options come before the command, as with ctr.
  const commandAt = argv.findIndex((a, i) => !a.startsWith('-') && !['-a', '--address', '-n', '--namespace', '--timeout', '--connect-timeout'].includes(argv[i - 1] ?? ''));
  const globalArgs = commandAt < 0 ? argv : argv.slice(0, commandAt);
  const [command, ...args] = commandAt < 0 ? [] : argv.slice(commandAt);
  const { values } = parseArgs({
    args: globalArgs,
    options: {
      address: { type: 'string', short: 'a' },
      namespace: { type: 'string', short: 'n' },
      timeout: { type: 'string' },
      'connect-timeout': { type: 'string' },
      debug: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || !command) {
    out(usage);
    return;
  }
  const opts: GlobalOptions = {
    address: values.address ?? process.env.CONTAINERD_ADDRESS ?? DEFAULT_ADDRESS,
    namespace: values.namespace ?? process.env.CONTAINERD_NAMESPACE ?? 'default',
    timeoutMs: parseDurationMs(values.timeout ?? ''),
    connectTimeoutMs: parseDurationMs(values['connect-timeout'] ?? ''),
    debug: values.debug ?? false,
  };
  switch (command) {
    case 'version':
      return versionCommand(opts, out);
    case 'plugins':
    case 'plugin':
      return pluginsCommand(opts, args, out);
    case 'namespaces':
    case 'namespace':
    case 'ns':
      return namespacesCommand(opts, args, out);
    case 'leases':
      return leasesCommand(opts, args, out);
    case 'events':
    case 'event':
      return eventsCommand(opts, args, out);
    case 'gc':
      return gcCommand(opts, args, out);
    default:
      throw new CommandError(`No help topic for '${command}'`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const message = err instanceof ContainerdError || err instanceof CommandError || err instanceof Error ? err.message : String(err);
  process.stderr.write(`ctr-ts: ${message}\n`);
  process.exit(1);
});
