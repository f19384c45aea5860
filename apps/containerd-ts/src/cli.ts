// The containerd-ts command line: the daemon command of @containerd-ts/daemon with the full
// plugin set, this build's version, and the serve-proxy command in its help (main.ts
// dispatches serve-proxy before it gets here).
import { runDaemonCommand } from '@containerd-ts/daemon';
import type { AnyPluginDefinition } from '@containerd-ts/plugin';
import { REVISION, VERSION } from './version.js';

const serveProxyUsage = `   containerd-ts serve-proxy --type snapshot|content|diff --plugin URI --root DIR --address SOCK
                                         serve one plugin as a containerd proxy plugin (serve-proxy --help)
`;

export async function runCli(plugins: readonly AnyPluginDefinition[], argv: string[] = process.argv.slice(2)): Promise<void> {
  await runDaemonCommand({
    name: 'containerd-ts',
    description: 'a containerd-compatible container daemon',
    plugins,
    argv,
    version: { version: VERSION, revision: REVISION },
    moreUsage: serveProxyUsage,
  });
}
