#!/usr/bin/env node
// ctr-ts: the containerd-ts CLI. Commands, global flags, help and output follow containerd's ctr.
import { type App, ExitError, runApp } from './cli.js';
import { completionCommand } from './commands/completion.js';
import { containersCommand } from './commands/containers.js';
import { contentCommand } from './commands/content.js';
import { eventsCommand } from './commands/events.js';
import { gcCommand } from './commands/gc.js';
import { imagesCommand } from './commands/images.js';
import { installCommand } from './commands/install.js';
import { leasesCommand } from './commands/leases.js';
import { namespacesCommand } from './commands/namespaces.js';
import { ociCommand } from './commands/oci.js';
import { pluginsCommand } from './commands/plugins.js';
import { pprofCommand } from './commands/pprof.js';
import { runCommand } from './commands/run.js';
import { shimCommand } from './commands/shim.js';
import { snapshotsCommand } from './commands/snapshots.js';
import { tasksCommand } from './commands/tasks.js';
import { CLIENT_REVISION, CLIENT_VERSION, versionCommand } from './commands/version.js';
import { DEFAULT_ADDRESS } from './context.js';

export const app: App = {
  name: 'ctr-ts',
  version: CLIENT_VERSION,
  versionLine: `ctr-ts ${CLIENT_REVISION} ${CLIENT_VERSION}`,
  usage: 'the containerd-ts CLI',
  description: `
ctr-ts is a client for containerd's API, for containerd-ts and for containerd
alike. Its commands, flags and output are those of containerd's ctr; tables
can also be printed as JSON (--format json).`,
  flags: [
    { name: 'debug', type: 'bool', usage: 'enable debug output in logs' },
    { name: 'address', aliases: ['a'], type: 'string', usage: "address for containerd's GRPC server", value: DEFAULT_ADDRESS, env: 'CONTAINERD_ADDRESS' },
    { name: 'timeout', type: 'duration', usage: 'total timeout for ctr commands' },
    { name: 'connect-timeout', type: 'duration', usage: 'timeout for connecting to containerd' },
    { name: 'namespace', aliases: ['n'], type: 'string', usage: 'namespace to use with commands', value: 'default', env: 'CONTAINERD_NAMESPACE' },
  ],
  subcommands: [
    pluginsCommand,
    versionCommand,
    containersCommand,
    contentCommand,
    eventsCommand,
    imagesCommand,
    leasesCommand,
    namespacesCommand,
    pprofCommand,
    runCommand,
    snapshotsCommand,
    tasksCommand,
    installCommand,
    ociCommand,
    shimCommand,
    gcCommand,
    completionCommand,
  ],
};

/**
 * A reader of the output that goes away (`ctr-ts content get … | head`): ctr dies of SIGPIPE,
 * which node ignores, turning the next write into an EPIPE error. ctr-ts exits as quietly,
 * with the status a shell shows for a process killed by SIGPIPE (128 + 13).
 */
const SIGPIPE_STATUS = 141;
const isEpipe = (err: unknown) => (err as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
process.stdout.on('error', (err: Error) => {
  if (isEpipe(err)) process.exit(SIGPIPE_STATUS);
  throw err;
});

runApp(app, process.argv.slice(2), (s) => process.stdout.write(s)).catch((err: unknown) => {
  if (isEpipe(err)) process.exit(SIGPIPE_STATUS);
  if (err instanceof ExitError) {
    // An exit status with no message (a container's exit code) prints nothing, as urfave.
    if (err.message !== '') process.stderr.write(`${err.message}\n`);
    process.exit(err.exitCode);
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`ctr-ts: ${message}\n`);
  process.exit(1);
});
