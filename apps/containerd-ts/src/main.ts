#!/usr/bin/env node
// containerd-ts: the daemon with the full plugin set (or, with `serve-proxy`, one of its
// plugins served as a containerd proxy plugin; with `publish`, the command the runtime v1
// shim runs to publish an event).
import { publishInvocation, runPublish } from './publish.js';

const argv = process.argv.slice(2);

async function main(): Promise<void> {
  const publish = publishInvocation(argv);
  if (publish) return runPublish(publish.address, publish.args);
  const [{ runCli }, { allPlugins }] = await Promise.all([import('./cli.js'), import('./plugins.js')]);
  if (argv[0] === 'serve-proxy') {
    const { runServeProxy } = await import('./serve-proxy.js');
    return runServeProxy(allPlugins(), argv.slice(1));
  }
  return runCli(allPlugins(), argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`containerd-ts: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
