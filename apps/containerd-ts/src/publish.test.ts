import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parsePublishArgs, publishInvocation } from './publish.js';

const launcher = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'launch.cjs');

describe('containerd-ts publish', () => {
  it("is recognised as the v1 shim runs it: global flags, then publish and its own flags", () => {
    expect(publishInvocation(['--address', '/run/x.sock', 'publish', '--topic', '/tasks/exit', '--namespace', 'ns'])).toEqual({
      address: '/run/x.sock',
      args: ['--topic', '/tasks/exit', '--namespace', 'ns'],
    });
    expect(publishInvocation(['publish', '--topic', '/t'])).toEqual({ address: '/run/containerd/containerd.sock', args: ['--topic', '/t'] });
    expect(parsePublishArgs(['--topic', '/tasks/exit', '--namespace', 'ns'])).toEqual({ topic: '/tasks/exit', namespace: 'ns' });
  });

  it('leaves every other command line to the daemon', () => {
    expect(publishInvocation([])).toBeUndefined();
    expect(publishInvocation(['--address', '/x', 'config', 'default'])).toBeUndefined();
    expect(publishInvocation(['serve-proxy', '--type', 'snapshot'])).toBeUndefined();
    expect(publishInvocation(['config', 'publish'])).toBeUndefined();
  });

  it("fails as containerd's publish does: a missing topic, a daemon that is not there", () => {
    const noTopic = spawnSync(launcher, ['--address', '/nonexistent.sock', 'publish', '--namespace', 'x'], { input: '', encoding: 'utf8' });
    expect(noTopic.status).toBe(1);
    expect(noTopic.stderr).toBe('containerd-ts: topic required to publish event: invalid argument\n');
    const noDaemon = spawnSync(launcher, ['--address', '/nonexistent.sock', 'publish', '--topic', '/x', '--namespace', 'x'], { input: '', encoding: 'utf8' });
    expect(noDaemon.status).toBe(1);
    expect(noDaemon.stderr).toBe('containerd-ts: failed to dial "/nonexistent.sock": failed to dial "/nonexistent.sock": context deadline exceeded\n');
  }, 20_000);
});
