// Issue: foundation. Debian's ctr against containerd-ts: version, plugins ls (filters,
// -d, skip/error), disabled/required plugins, strict config, config default/dump,
// socket takeover refusal and SIGTERM.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, containerdTs, ctr, repoRoot, run, startDaemon } from './harness.js';

const testDaemon = ['node', join(repoRoot, 'test-e2e/dist/fixtures/test-daemon.js')];

/** Parses `ctr plugins ls` into rows of [type, id, platforms, status]. */
const rows = (out: string) =>
  out
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/));

describe('a daemon with test plugins', () => {
  let d: StartedDaemon;
  beforeAll(async () => {
    d = await startDaemon({
      command: testDaemon,
      config: 'version = 2\n[plugins."io.containerd.testing.v1.exporter"]\n  greeting = "hi there"\n',
    });
  });
  afterAll(async () => d?.cleanup());

  it('ctr version shows the server version and a UUID that survives a restart', async () => {
    const r = await ctr(d.socket, 'version');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Server:\n {2}Version: {2}v0\.1\.0\n {2}Revision: containerd-ts\n {2}UUID: [0-9a-f-]{36}\n/);
    const uuid = /UUID: (\S+)/.exec(r.stdout)?.[1];
    expect(await readFile(join(d.root, 'io.containerd.service.v1.introspection-service/uuid'), 'utf8')).toBe(uuid);
  });

  it('ctr plugins ls lists every plugin with its status', async () => {
    const r = await ctr(d.socket, 'plugins', 'ls');
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^TYPE\s+ID\s+PLATFORMS\s+STATUS\s+$/);
    const list = rows(r.stdout);
    expect(list).toContainEqual(['io.containerd.grpc.v1', 'version', '-', 'ok']);
    expect(list).toContainEqual(['io.containerd.grpc.v1', 'introspection', '-', 'ok']);
    expect(list).toContainEqual(['io.containerd.grpc.v1', 'healthcheck', '-', 'ok']);
    expect(list).toContainEqual(['io.containerd.service.v1', 'introspection-service', '-', 'ok']);
    expect(list).toContainEqual(['io.containerd.testing.v1', 'skipper', '-', 'skip']);
    expect(list).toContainEqual(['io.containerd.testing.v1', 'broken', '-', 'error']);
    expect(list).toContainEqual(['io.containerd.testing.v1', 'exporter', 'linux/amd64', 'ok']);
  });

  it('plugins ls -d id==X shows only X, with exports, capabilities and requires', async () => {
    const r = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==exporter');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Type:             io.containerd.testing.v1',
        'ID:               exporter',
        'Requires:        ',
        '                  io.containerd.grpc.v1',
        'Platforms:        linux/amd64',
        'Exports:         ',
        '                  greeting      hi there',
        'Capabilities:     testing',
        '',
      ].join('\n'),
    );
  });

  it('plugins ls -d shows the Error block of a failed and of a skipped plugin', async () => {
    const broken = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==broken');
    expect(broken.stdout).toContain('Error:');
    expect(broken.stdout).toMatch(/Code: +Unknown\n/);
    expect(broken.stdout).toMatch(/Message: +test plugin is broken on purpose\n/);
    const skipped = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==skipper');
    expect(skipped.stdout).toMatch(/Message: +test plugin cannot work on this host: skip plugin\n/);
  });

  it('type== filters, and several filters are or-ed', async () => {
    const r = await ctr(d.socket, 'plugins', 'ls', 'type==io.containerd.testing.v1');
    expect(rows(r.stdout).map((x) => x[1]).sort()).toEqual(['broken', 'exporter', 'skipper']);
    const or = await ctr(d.socket, 'plugins', 'ls', 'id==broken', 'id==version');
    expect(rows(or.stdout).map((x) => x[1]).sort()).toEqual(['broken', 'version']);
    const bad = await ctr(d.socket, 'plugins', 'ls', 'id==');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('invalid argument');
  });

  it('a second daemon on the same socket is refused and the first keeps answering', async () => {
    const second = await run(containerdTs, ['--root', `${d.dir}/root2`, '--state', `${d.dir}/state2`, '--address', d.socket]);
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toBe(`containerd-ts: another daemon is already serving on ${d.socket}`);
    expect((await ctr(d.socket, 'version')).code).toBe(0);
  });
});

describe('plugin selection', () => {
  it('disabled_plugins hides a plugin', async () => {
    const d = await startDaemon({ command: testDaemon, config: 'version = 2\ndisabled_plugins = ["io.containerd.testing.v1.broken"]\n' });
    try {
      const r = await ctr(d.socket, 'plugins', 'ls', 'type==io.containerd.testing.v1');
      expect(rows(r.stdout).map((x) => x[1]).sort()).toEqual(['exporter', 'skipper']);
    } finally {
      await d.cleanup();
    }
  });

  it.each([
    ['io.containerd.testing.v1.broken', 'load required plugin io.containerd.testing.v1.broken: test plugin is broken on purpose'],
    ['io.containerd.testing.v1.skipper', 'load required plugin io.containerd.testing.v1.skipper: test plugin cannot work on this host: skip plugin'],
    ['io.containerd.testing.v1.absent', 'required plugin io.containerd.testing.v1.absent is not registered in this daemon'],
  ])('required_plugins = [%s] stops the start naming it', async (uri, message) => {
    const d = await startDaemon({ command: testDaemon, config: `version = 2\nrequired_plugins = ["${uri}"]\n`, expectExit: true });
    try {
      expect(d.child.exitCode).toBe(1);
      expect(d.logs()).toContain(`containerd-ts: ${message}\n`);
      expect(existsSync(d.socket)).toBe(false);
    } finally {
      await d.cleanup();
    }
  });
});

describe('strict config', () => {
  it('a misspelled key fails with the key path and a suggestion', async () => {
    const d = await startDaemon({ config: 'version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_treshold = 0.1\n', expectExit: true });
    try {
      expect(d.child.exitCode).toBe(1);
      expect(d.logs().trim()).toBe(
        `containerd-ts: ${d.dir}/config.toml: unknown key plugins."io.containerd.gc.v1.scheduler".pause_treshold (did you mean "pause_threshold"?)`,
      );
    } finally {
      await d.cleanup();
    }
  });

  it('a wrong type fails naming the key and the expected type', async () => {
    const d = await startDaemon({ config: 'version = 2\n[grpc]\n  max_recv_message_size = "big"\n', expectExit: true });
    try {
      expect(d.child.exitCode).toBe(1);
      expect(d.logs().trim()).toBe(`containerd-ts: ${d.dir}/config.toml: grpc.max_recv_message_size: expected number, got string`);
    } finally {
      await d.cleanup();
    }
  });

  it('config default parses, and the daemon starts with it', async () => {
    const r = await run(containerdTs, ['config', 'default']);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as { version: number; plugins: Record<string, unknown> };
    expect(doc.version).toBe(2);
    expect(Object.keys(doc.plugins).length).toBeGreaterThan(0);
    // The default file names the default root and socket: point them at the test's dirs.
    const d = await startDaemon({ config: r.stdout });
    try {
      expect((await ctr(d.socket, 'plugins', 'ls')).code).toBe(0);
    } finally {
      await d.cleanup();
    }
  });

  it('config dump shows values from imported files merged, and loads again', async () => {
    const base = await mkdtemp(join(tmpdir(), 'dump-'));
    await mkdir(join(base, 'extra'));
    await writeFile(join(base, 'extra/10-gc.toml'), 'version = 2\n[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 0.5\n');
    await writeFile(join(base, 'config.toml'), 'version = 2\nimports = ["extra/*.toml"]\noom_score = 0\n[grpc]\n  max_recv_message_size = 1048576\n');
    const r = await run(containerdTs, ['--config', join(base, 'config.toml'), 'config', 'dump']);
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as { grpc: { max_recv_message_size: number }; plugins: Record<string, { pause_threshold?: number; mutation_threshold?: number }> };
    expect(doc.grpc.max_recv_message_size).toBe(1048576);
    expect(doc.plugins['io.containerd.gc.v1.scheduler']?.pause_threshold).toBe(0.5);
    expect(doc.plugins['io.containerd.gc.v1.scheduler']?.mutation_threshold).toBe(100);
    expect(r.stdout).toContain(`# merged from: ${join(base, 'config.toml')}, ${join(base, 'extra/10-gc.toml')}`);
    const again = await startDaemon({ config: r.stdout });
    try {
      expect((await ctr(again.socket, 'version')).code).toBe(0);
    } finally {
      await again.cleanup();
    }
  });
});

describe('shutdown', () => {
  it('SIGTERM exits 0 within a second and removes the socket', async () => {
    const d = await startDaemon();
    try {
      const { code, ms } = await d.stop('SIGTERM');
      expect(code).toBe(0);
      expect(ms).toBeLessThan(1000);
      expect(existsSync(d.socket)).toBe(false);
    } finally {
      await d.cleanup();
    }
  });

  it('an unwritable root gives a one-line error and a non-zero exit', async () => {
    const ro = await mkdtemp(join(tmpdir(), 'ro-'));
    expect((await run('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro])).code).toBe(0);
    try {
      const r = await run(containerdTs, ['--root', `${ro}/root`, '--state', `${ro}-state`, '--address', `${ro}.sock`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`containerd-ts: root directory ${ro}/root is not writable: EROFS\n`);
    } finally {
      await run('umount', [ro]);
    }
  });
});
