import { createHash } from 'node:crypto';
import { existsSync, lstatSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newBundle } from '@containerd-ts/runtime-v2';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveShim } from './index.js';
import { reapShim, shimAddress, shimArgs, shimLogPaths, socketPath } from './shim.js';
import { posixSpawn } from '@containerd-ts/sys';

describe('the v1 shim command line', () => {
  const config = { shim: '/usr/bin/containerd-shim', address: '/run/ctd-ts/containerd.sock', publishBinary: '/opt/ctd/launch.cjs', debug: false };
  const options = {
    namespace: 'ns1',
    bundlePath: '/state/io.containerd.runtime.v1.linux/ns1/c1',
    workDir: '/var/lib/ctd/io.containerd.runtime.v1.linux/ns1/c1',
    socket: 'unix:///run/containerd/s/abc',
    criuPath: '',
    runtimeRoot: '',
    systemdCgroup: false,
  };

  it("has containerd 1.6's flags in its order, then the socket to serve", () => {
    expect(shimArgs(config, options)).toEqual([
      '/usr/bin/containerd-shim',
      '-namespace',
      'ns1',
      '-workdir',
      '/var/lib/ctd/io.containerd.runtime.v1.linux/ns1/c1',
      '-address',
      '/run/ctd-ts/containerd.sock',
      '-containerd-binary',
      '/opt/ctd/launch.cjs',
      '-socket',
      'unix:///run/containerd/s/abc',
    ]);
  });

  it('adds -criu, -runtime-root, -systemd-cgroup and -debug when set', () => {
    const args = shimArgs({ ...config, debug: true }, { ...options, criuPath: '/usr/sbin/criu', runtimeRoot: '/run/r', systemdCgroup: true });
    expect(args.slice(9)).toEqual(['-criu', '/usr/sbin/criu', '-runtime-root', '/run/r', '-systemd-cgroup', '-debug', '-socket', 'unix:///run/containerd/s/abc']);
  });

  it("names the socket as containerd: sha256 of the daemon's address, namespace and id under /run/containerd/s", () => {
    const hash = createHash('sha256').update('/run/ctd-ts/containerd.sock/ns1/c1').digest('hex');
    expect(shimAddress('/run/ctd-ts/containerd.sock', 'ns1', 'c1')).toBe(`unix:///run/containerd/s/${hash}`);
    // another daemon's address gives another socket
    expect(shimAddress('/run/containerd/containerd.sock', 'ns1', 'c1')).not.toBe(shimAddress('/run/ctd-ts/containerd.sock', 'ns1', 'c1'));
    expect(socketPath(`unix:///run/containerd/s/${hash}`)).toBe(`/run/containerd/s/${hash}`);
    expect(socketPath('@abstract')).toBeUndefined();
    expect(shimLogPaths('/w')).toEqual({ stdout: '/w/shim.stdout.log', stderr: '/w/shim.stderr.log' });
  });

  it('finds containerd-shim on PATH, keeps an existing absolute path, and says when there is none', () => {
    expect(resolveShim('containerd-shim')).toBe('/usr/bin/containerd-shim');
    expect(resolveShim('/usr/bin/containerd-shim')).toBe('/usr/bin/containerd-shim');
    expect(resolveShim('/nonexistent/containerd-shim')).toBeUndefined();
    expect(resolveShim('no-such-shim-binary')).toBeUndefined();
  });

  it("reaps a shim that is the daemon's child, and returns at once for one that is not", async () => {
    const pid = posixSpawn({ path: '/bin/true', argv: ['true'], env: [], stdio: [0, 1, 2] });
    await reapShim(pid, 5);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });

  it('waits for a process that is not its child until it is gone', async () => {
    const { spawn } = await import('node:child_process');
    // A grandchild (sh's background sleep): not the test process's child.
    const sh = spawn('/bin/sh', ['-c', 'sleep 0.3 & echo $!'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const pid = Number((await new Promise<Buffer>((r) => sh.stdout.once('data', r))).toString().trim());
    const started = Date.now();
    await reapShim(pid, 10);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(existsSync(`/proc/${pid}`)).toBe(false);
  });
});

describe('the v1 bundle layout', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('has config.json and rootfs/ in the bundle, the work dir beside it without a `work` link, and removes both', async () => {
    dir = await mkdtemp(join(tmpdir(), 'v1-bundle-'));
    const b = await newBundle(join(dir, 'root'), join(dir, 'state'), 'ns1', 'c1', Buffer.from('{}'), { workLink: false });
    expect(b.path).toBe(join(dir, 'state', 'ns1', 'c1'));
    expect(b.workDir).toBe(join(dir, 'root', 'ns1', 'c1'));
    expect(lstatSync(join(b.path, 'config.json')).isFile()).toBe(true);
    expect(lstatSync(join(b.path, 'rootfs')).isDirectory()).toBe(true);
    expect(existsSync(join(b.path, 'work'))).toBe(false);
    expect(lstatSync(b.workDir!).isDirectory()).toBe(true);
    await b.delete();
    expect(existsSync(b.path)).toBe(false);
    expect(existsSync(b.workDir!)).toBe(false);
  });
});
