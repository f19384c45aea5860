// Proxy plugins in both directions, with Debian's ctr: containerd-ts using a snapshotter
// served by `containerd-ts serve-proxy` (configured before the proxy is up: it connects
// when the proxy comes up), and Debian's containerd using `serve-proxy` through its own
// [proxy_plugins]. An image pulled through the proxy on both daemons unpacks to the same tree.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotTree, type TreeEntry } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Service, type StartedDaemon, containerdTs, ctr, referenceConfig, run, spawnService, startDaemon, startReference } from './harness.js';
import { type FixtureImage, chainId, comparableTree, diffIdsOf, fixtureImage } from './image-fixture.js';
import { type Registry, pushImage, startRegistry } from './registry.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

/** Starts `containerd-ts serve-proxy` for the native snapshotter; resolves once it serves. */
async function serveProxy(root: string, socket: string): Promise<Service> {
  const args = ['serve-proxy', '--type', 'snapshot', '--plugin', 'io.containerd.snapshotter.v1.native', '--root', root, '--address', socket];
  const service = spawnService(containerdTs, args);
  for (let i = 0; i < 200; i++) {
    if (service.child.exitCode !== null) throw new Error(`serve-proxy exited with ${service.child.exitCode}: ${service.logs()}`);
    if (existsSync(socket) && service.logs().includes('serving proxy plugin')) return service;
    await new Promise((r) => setTimeout(r, 50));
  }
  await service.kill('SIGKILL');
  throw new Error(`serve-proxy did not come up on ${socket}: ${service.logs()}`);
}

/** `ctr …` that must succeed; returns stdout. */
async function ok(socket: string, ...args: string[]): Promise<string> {
  const r = await ctr(socket, ...args);
  expect(r.code, `ctr ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The `ctr plugins ls -d` block of one plugin, as `key value` lines. */
async function pluginDetails(socket: string, id: string): Promise<string> {
  return (await ok(socket, 'plugins', 'ls', '-d', `id==${id}`)).replace(/[ \t]+/g, ' ');
}

/** Pulls `ref` onto the `prox` snapshotter, mounts a view of it and returns its tree. */
async function pullThroughProxy(socket: string, ref: string, image: FixtureImage, proxyRoot: string): Promise<TreeEntry[]> {
  const pulled = await ctr(socket, 'images', 'pull', '--plain-http', '--snapshotter', 'prox', ref);
  expect(pulled.code, pulled.stderr).toBe(0);
  const diffIds = diffIdsOf(image);
  await ok(socket, 'snapshots', '--snapshotter', 'prox', 'view', 'tree', chainId(diffIds));
  const target = await mkdtemp(join(tmpdir(), 'proxy-tree-'));
  try {
    const mounts = await ok(socket, 'snapshots', '--snapshotter', 'prox', 'mounts', target, 'tree');
    // The layers are on the proxy's disk.
    expect(mounts).toContain(`${proxyRoot}/io.containerd.snapshotter.v1.native/snapshots/`);
    const mounted = await run('sh', ['-c', mounts]);
    expect(mounted.code, mounted.stderr).toBe(0);
    try {
      return snapshotTree(target);
    } finally {
      await run('umount', [target]);
      await ok(socket, 'snapshots', '--snapshotter', 'prox', 'rm', 'tree');
    }
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

/** prepare/commit/ls/mounts/rm on the `prox` snapshotter of the daemon at `socket`. */
async function snapshotRoundTrip(socket: string, proxyRoot: string): Promise<void> {
  const sn = (...args: string[]) => ok(socket, 'snapshots', '--snapshotter', 'prox', ...args);
  await sn('prepare', 'k1');
  await sn('commit', 'c1', 'k1');
  await sn('prepare', 'k2', 'c1');
  expect((await sn('ls')).trim().split('\n').map((l) => l.trim().split(/\s+/))).toEqual([
    ['KEY', 'PARENT', 'KIND'],
    ['c1', 'Committed'],
    ['k2', 'c1', 'Active'],
  ]);
  expect((await sn('mounts', '/mnt', 'k2')).trim()).toMatch(
    new RegExp(`^mount -t bind ${proxyRoot}/io\\.containerd\\.snapshotter\\.v1\\.native/snapshots/\\d+ /mnt -o rbind,rw$`),
  );
  await sn('rm', 'k2');
  await sn('rm', 'c1');
  expect((await sn('ls')).trim()).toBe('KEY PARENT KIND');
}

describe('proxy plugins', () => {
  let dir: string;
  let registry: Registry;
  let ref: string;
  let image: FixtureImage;
  let daemon: StartedDaemon;
  let reference: Reference | undefined;
  const proxies: Service[] = [];
  let tsTree: TreeEntry[] = [];

  // `ctr snapshots view` takes no lease: automatic collections are kept minutes apart.
  const gcConfig = '[plugins."io.containerd.gc.v1.scheduler"]\n  pause_threshold = 0.00001\n';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxy-e2e-'));
    registry = await startRegistry();
    image = fixtureImage({ compression: 'gzip' });
    ref = await pushImage(registry, 'proxied', 'gzip', image);
    daemon = await startDaemon({
      config: `version = 2\n${gcConfig}[proxy_plugins.prox]\n  type = "snapshot"\n  address = "${dir}/ts-proxy.sock"\n`,
    });
  }, 60_000);

  afterAll(async () => {
    await daemon?.cleanup();
    await reference?.stop();
    for (const p of proxies) await p.kill('SIGKILL');
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('containerd-ts loads a proxy snapshotter before its proxy is up and uses it once it is', async () => {
    const socket = `${dir}/ts-proxy.sock`;
    const proxyRoot = `${dir}/ts-proxy-root`;
    const listed = await ok(daemon.socket, 'plugins', 'ls', 'id==prox');
    expect(listed.split('\n')[1]?.trim().split(/\s+/)).toEqual(['io.containerd.snapshotter.v1', 'prox', 'linux/amd64', 'ok']);
    expect(await pluginDetails(daemon.socket, 'prox')).toContain(`address ${socket}`);
    expect(await pluginDetails(daemon.socket, 'prox')).toContain(`last_error connect unix://${socket}: no such file or directory`);

    // While it is down, calls fail with the reason (after a short retry), not a hang.
    const down = await ctr(daemon.socket, 'snapshots', '--snapshotter', 'prox', 'prepare', 'early');
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`proxy plugin prox: connect unix://${socket}: no such file or directory: unavailable`);

    const proxy = await serveProxy(proxyRoot, socket);
    proxies.push(proxy);
    await snapshotRoundTrip(daemon.socket, proxyRoot);
    const details = await pluginDetails(daemon.socket, 'prox');
    expect(details).toContain('state ready');
    expect(details).not.toContain('last_error');

    // SIGTERM: a clean exit that removes the socket; calls come back once it is restarted.
    expect(await proxy.kill('SIGTERM')).toBe(0);
    expect(existsSync(socket)).toBe(false);
    proxies.push(await serveProxy(proxyRoot, socket));
    await ok(daemon.socket, 'snapshots', '--snapshotter', 'prox', 'prepare', 'after-restart');
    await ok(daemon.socket, 'snapshots', '--snapshotter', 'prox', 'rm', 'after-restart');

    tsTree = await pullThroughProxy(daemon.socket, ref, image, proxyRoot);
    const byPath = new Map(tsTree.map((e) => [e.path, e]));
    expect(byPath.get('/bin/suid')?.mode).toBe(0o4755);
    expect(byPath.get('/etc/tagged')?.xattrs['user.fixture']).toBe(Buffer.from('yes').toString('base64'));
  }, 40_000);

  it("Debian's containerd uses containerd-ts serve-proxy through its [proxy_plugins], to the same unpacked tree", async () => {
    const socket = `${dir}/ref-proxy.sock`;
    const proxyRoot = `${dir}/ref-proxy-root`;
    proxies.push(await serveProxy(proxyRoot, socket));
    reference = await startReference({
      config: referenceConfig(gcConfig, '[proxy_plugins.prox]', '  type = "snapshot"', `  address = "${socket}"`),
    });
    expect((await ok(reference.socket, 'plugins', 'ls', 'id==prox')).split('\n')[1]?.trim().split(/\s+/).at(-1)).toBe('ok');
    await snapshotRoundTrip(reference.socket, proxyRoot);
    const theirs = await pullThroughProxy(reference.socket, ref, image, proxyRoot);
    expect(tsTree.length).toBeGreaterThan(0);
    expect(comparableTree(tsTree)).toEqual(comparableTree(theirs));
  }, 30_000);
});
