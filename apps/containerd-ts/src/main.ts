#!/usr/bin/env node
// containerd-ts: the daemon with the full plugin set (or, with `serve-proxy`, one of its
// plugins served as a containerd proxy plugin).
import { runCli } from './cli.js';
import { allPlugins } from './plugins.js';
import { runServeProxy } from './serve-proxy.js';

const argv = process.argv.slice(2);
const run = argv[0] === 'serve-proxy' ? runServeProxy(allPlugins(), argv.slice(1)) : runCli(allPlugins(), argv);
run.catch((err: unknown) => {
  process.stderr.write(`containerd-ts: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
