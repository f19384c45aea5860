// plugin_dir: third-party plugins as ES modules, loaded at start, shown by ctr, and a
// module that throws on import never takes the daemon down.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, repoRoot, startDaemon } from './harness.js';

const pluginDir = join(repoRoot, 'test-e2e/fixtures/plugin-dir');

describe('plugin_dir', () => {
  let d: StartedDaemon;
  beforeAll(async () => {
    d = await startDaemon({
      config: `version = 2\nplugin_dir = "${pluginDir}"\n[plugins."io.example.greeter.v1.greeter"]\n  greeting = "ahoy"\n`,
    });
  });
  afterAll(async () => d?.cleanup());

  it('lists a loaded plugin as ok with its config applied', async () => {
    const r = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==greeter');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('io.example.greeter.v1');
    expect(r.stdout).toMatch(/greeting +ahoy/);
    const ls = await ctr(d.socket, 'plugins', 'ls', 'id==greeter');
    expect(ls.stdout).toMatch(/io\.example\.greeter\.v1\s+greeter\s+-\s+ok/);
  });

  it('gives a plugin built for another contract version status error, saying which versions match', async () => {
    const r = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==old');
    expect(r.stdout).toMatch(/Message: +plugin io\.example\.old\.v1\.old was built for plugin contract version 2; this daemon loads plugins for version 1/);
  });

  it('keeps serving when a module throws on import, and logs the file and the error', async () => {
    expect((await ctr(d.socket, 'version')).code).toBe(0);
    expect(d.logs()).toContain('broken-on-import.mjs');
    expect(d.logs()).toContain('this plugin module is broken on import');
  });

  it('validates a loaded plugin section strictly', async () => {
    const bad = await startDaemon({
      config: `version = 2\nplugin_dir = "${pluginDir}"\n[plugins."io.example.greeter.v1.greeter"]\n  greting = "x"\n`,
      expectExit: true,
    });
    try {
      expect(bad.child.exitCode).toBe(1);
      expect(bad.logs()).toContain('unknown key plugins."io.example.greeter.v1.greeter".greting (did you mean "greeting"?)');
    } finally {
      await bad.cleanup();
    }
  });
});
