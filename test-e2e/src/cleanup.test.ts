// Nothing a test file started is left when it ends, on the failure paths too: the files of
// fixtures/leaky run in a vitest of their own with TMPDIR pointing at a fresh directory;
// there a reference containerd fails to start after containerd-ts and a registry started,
// and a test times out holding a daemon and a mount. Afterwards no process names that
// directory (command line or TMPDIR), nothing is mounted under it and it is empty.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostEntries, leftovers, openPaths, removeHostLeftovers } from './cleanup.js';
import { repoRoot, run } from './harness.js';

const vitestCli = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');

describe('cleanup after a failed test file', () => {
  it('a reference that fails to start and a test that times out leave no process, mount or temp dir', async () => {
    // Under this file's own root: whatever this test leaves, the file's cleanup removes.
    const tmp = await mkdtemp(join(tmpdir(), 'leaky-run-'));
    const r = await run(process.execPath, [vitestCli, 'run', '--config', 'fixtures/leaky/vitest.config.ts'], {
      cwd: join(repoRoot, 'test-e2e'),
      env: { ...process.env, TMPDIR: tmp, NO_COLOR: '1' },
      timeoutMs: 120_000,
    });
    const output = r.stdout + r.stderr;
    // It failed as intended, for the intended reasons.
    expect(r.code, output).toBe(1);
    expect(output).toContain('failed to get listener for main endpoint');
    expect(output).toContain('Test timed out in 8000ms');
    // Nothing is left.
    expect(leftovers(tmp)).toEqual({ processes: [], mounts: [], loopDevices: [] });
    expect(readdirSync(tmp)).toEqual([]);
    // Because the cleanup found what the failures left: both containerd-ts daemons, the registry, the mount.
    const report = output.slice(output.indexOf('cleanup: the test file left'));
    expect(report.match(/^ {2}\d+ node .* --root \S+\/ctdts-\w+\/root /gm), report).toHaveLength(2);
    expect(report).toMatch(/^ {2}\d+ docker-registry serve /m);
    expect(report).toMatch(new RegExp(`^  ${tmp}/e2e-\\w+/mounted-\\w+$`, 'm'));
  }, 150_000);
});

describe('what a file leaves on the host', () => {
  it('removes the FIFO sets, runc roots and namespace cgroups that appeared during it, once nothing uses them', async () => {
    const before = hostEntries();
    mkdirSync('/run/containerd/fifo', { recursive: true, mode: 0o700 });
    mkdirSync('/run/containerd/runc', { recursive: true, mode: 0o711 });
    const unused = mkdtempSync('/run/containerd/fifo/e2e-cleanup-');
    const held = mkdtempSync('/run/containerd/fifo/e2e-cleanup-');
    expect((await run('mkfifo', [`${unused}/t-stdout`, `${held}/t-stdout`])).code).toBe(0);
    // A process that keeps a FIFO of `held` open, as a shim keeps a running task's.
    const holder: ChildProcess = spawn('bash', ['-c', 'exec 3<>"$1"; exec sleep 60', 'hold', `${held}/t-stdout`], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 200 && !openPaths().has(`${held}/t-stdout`); i++) await new Promise((r) => setTimeout(r, 10));
      const runcRoot = `/run/containerd/runc/e2e-cleanup-${process.pid}`;
      const emptyCgroup = `/sys/fs/cgroup/pids/e2e-cleanup-${process.pid}`;
      const busyCgroup = `/sys/fs/cgroup/pids/e2e-cleanup-busy-${process.pid}`;
      for (const dir of [runcRoot, emptyCgroup, `${busyCgroup}/child`]) mkdirSync(dir, { recursive: true });
      // A new entry too young to be a leftover stays as well (a client may have just made it).
      expect(removeHostLeftovers(before, 60_000).sort()).toEqual([emptyCgroup, runcRoot].sort());
      expect(existsSync(unused)).toBe(true);
      expect(removeHostLeftovers(before, 0)).toEqual([unused]);
      expect(existsSync(held) && existsSync(busyCgroup)).toBe(true);
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      rmdirSync(`${busyCgroup}/child`);
      expect(removeHostLeftovers(before, 0).sort()).toEqual([busyCgroup, held].sort());
      expect([...hostEntries()].filter((d) => !before.has(d))).toEqual([]);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
