#!/usr/bin/env node
// containerd-ts: the daemon with the full plugin set.
import { runCli } from './cli.js';
import { allPlugins } from './plugins.js';

runCli(allPlugins()).catch((err: unknown) => {
  process.stderr.write(`containerd-ts: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
