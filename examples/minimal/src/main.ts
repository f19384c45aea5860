#!/usr/bin/env node
// minimal-containerd: a containerd-compatible daemon made of the plugins in plugins.ts.
// runDaemonCommand gives it containerd's flags (--config, --address, --root, --state,
// --log-level), `config default` / `config dump`, plugin_dir, strict config validation and
// a clean stop on SIGTERM/SIGINT; everything else is the plugins.
import { runDaemonCommand } from '@containerd-ts/daemon';
import { minimalPlugins } from './plugins.js';

// (No top-level await: the build also bundles this module into one CommonJS file.)
runDaemonCommand({
  name: 'minimal-containerd',
  description: 'a minimal containerd-compatible runtime: pull, unpack and mount images',
  plugins: minimalPlugins(),
  version: { version: 'v0.1.0', revision: 'minimal' },
  defaultConfigPath: '/etc/minimal-containerd/config.toml',
}).catch((err: unknown) => {
  process.stderr.write(`minimal-containerd: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
