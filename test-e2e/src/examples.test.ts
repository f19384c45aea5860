// The examples through Debian's ctr: the third-party copy snapshotter loaded from plugin_dir
// by containerd-ts, and the minimal runtime (examples/minimal) importing, pulling, unpacking
// and mounting images with the native snapshotter.
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { snapshotTree } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, repoRoot, run, startDaemon } from './harness.js';
import { chainId, diffIdsOf, fixtureImage } from './image-fixture.js';
import { buildImageArchive } from './oci-archive.js';
import { type Registry, pushImage, startRegistry } from './registry.js';

const examplePlugins = join(repoRoot, 'examples/plugins');
const minimalBin = join(repoRoot, 'examples/minimal/bin/minimal-containerd');

/** `ctr plugins ls` rows as `type id status`. */
const pluginRows = (stdout: string): string[] =>
  stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .map((c) => `${c[0]} ${c[1]} ${c[3]}`);

/** Mounts what `ctr snapshots mounts` prints for `key` on `target`, as a user would run it. */
async function mountSnapshot(socket: string, snapshotter: string, key: string, target: string): Promise<void> {
  const m = await ctr(socket, 'snapshots', '--snapshotter', snapshotter, 'mounts', target, key);
  expect(m.code, m.stderr).toBe(0);
  const mounted = await run('sh', ['-c', m.stdout]);
  expect(mounted.code, mounted.stderr).toBe(0);
}

/**
 * An active snapshot on `parent` to look at: `ctr snapshots prepare` labels it a GC root in
 * the same call (`view` does not, and the collector may take an unlabelled view at once).
 */
async function keptSnapshot(socket: string, snapshotter: string, key: string, parent: string): Promise<void> {
  const p = await ctr(socket, 'snapshots', '--snapshotter', snapshotter, 'prepare', key, parent);
  expect(p.code, p.stderr).toBe(0);
}

/** No collection at start-up, so an unlabelled snapshot a test makes is not collected under it. */
const noStartupGC = '[plugins."io.containerd.gc.v1.scheduler"]\n  startup_delay = "0s"\n';

describe('example third-party plugin (examples/plugins/snapshotter-copy) from plugin_dir', () => {
  let d: StartedDaemon;
  beforeAll(async () => {
    d = await startDaemon({
      config: `version = 2\nplugin_dir = "${examplePlugins}"\n[plugins."io.containerd.snapshotter.v1.copy"]\n  root_path = "{{dir}}/copy-root"\n  copy_concurrency = 1\n${noStartupGC}`,
    });
  });
  afterAll(async () => d?.cleanup());

  it('is listed by ctr plugins ls as ok, with its config applied', async () => {
    const ls = await ctr(d.socket, 'plugins', 'ls', 'id==copy');
    expect(ls.stdout).toMatch(/io\.containerd\.snapshotter\.v1\s+copy\s+linux\/\S+\s+ok/);
    const detail = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==copy');
    expect(detail.stdout).toMatch(new RegExp(`root +${d.dir}/copy-root\\n`));
    expect(d.logs()).toContain('examples/plugins/snapshotter-copy/dist/index.js');
  });

  it('serves ctr snapshots prepare, mounts, commit, view and rm', async () => {
    const sn = (...args: string[]) => ctr(d.socket, 'snapshots', '--snapshotter', 'copy', ...args);
    expect((await sn('prepare', 'work')).code).toBe(0);
    const mounts = await sn('mounts', '/mnt/x', 'work');
    const active = /^mount -t bind (\S+) \/mnt\/x -o rbind,rw\n$/.exec(mounts.stdout)?.[1];
    expect(active, mounts.stdout).toBe(`${d.dir}/copy-root/active/1`);
    // Write through the snapshot's tree, as a container would.
    await writeFile(join(active!, 'hello'), 'from the copy snapshotter\n');
    expect((await sn('commit', 'layer1', 'work')).code).toBe(0);
    const child = await sn('prepare', 'child', 'layer1');
    expect(child.code, child.stderr).toBe(0);
    const view = await sn('view', 'look', 'layer1');
    expect(view.code, view.stderr).toBe(0);
    const viewMounts = await sn('mounts', '/mnt/y', 'look');
    expect(viewMounts.stdout).toBe(`mount -t bind ${d.dir}/copy-root/committed/1 /mnt/y -o rbind,ro\n`);
    // The child got a copy of the parent's tree.
    const childSource = /^mount -t bind (\S+) /.exec((await sn('mounts', '/mnt/z', 'child')).stdout)?.[1];
    expect(await readFile(join(childSource!, 'hello'), 'utf8')).toBe('from the copy snapshotter\n');
    const ls = await sn('ls');
    expect(ls.stdout).toMatch(/^KEY +PARENT +KIND +\nchild +layer1 +Active +\nlayer1 +Committed +\nlook +layer1 +View +\n$/);
    const refused = await sn('rm', 'layer1');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('cannot remove snapshot with child: failed precondition');
    // The unlabelled view first: a removal schedules a collection, which would take it.
    const removed = await sn('rm', 'look', 'child', 'layer1');
    expect(removed.code, removed.stderr).toBe(0);
    expect((await sn('ls')).stdout).toMatch(/^KEY +PARENT +KIND +\n$/);
    await expect(stat(active!)).rejects.toThrow(/ENOENT/);
  });
});

describe('plugin_dir with the example and a module that throws on import', () => {
  let d: StartedDaemon;
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'plugin-dir-mixed-'));
    await symlink(join(examplePlugins, 'snapshotter-copy'), join(dir, 'snapshotter-copy'));
    await writeFile(join(dir, 'aaa-broken.mjs'), "throw new Error('example module broken on purpose');\n");
    d = await startDaemon({ config: `version = 2\nplugin_dir = "${dir}"\n${noStartupGC}` });
  });
  afterAll(async () => {
    await d?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps serving, logs the file and the error, and the example is still ok', async () => {
    expect((await ctr(d.socket, 'version')).code).toBe(0);
    const failure = d
      .logs()
      .split('\n')
      .find((l) => l.includes('failed to load plugin module'));
    expect(failure).toContain(join(dir, 'aaa-broken.mjs'));
    expect(failure).toContain('example module broken on purpose');
    const ls = await ctr(d.socket, 'plugins', 'ls', 'id==copy');
    expect(ls.stdout).toMatch(/io\.containerd\.snapshotter\.v1\s+copy\s+linux\/\S+\s+ok/);
    expect((await ctr(d.socket, 'snapshots', '--snapshotter', 'copy', 'prepare', 'k')).code).toBe(0);
  });
});

describe('minimal runtime (examples/minimal)', () => {
  let m: StartedDaemon;
  let work = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'minimal-e2e-'));
    m = await startDaemon({ command: [minimalBin], config: `version = 2\n${noStartupGC}` });
  });
  afterAll(async () => {
    await m?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ctr plugins ls lists exactly its plugins, all ok', async () => {
    const ls = await ctr(m.socket, 'plugins', 'ls');
    expect(pluginRows(ls.stdout)).toEqual([
      'io.containerd.content.v1 content ok',
      'io.containerd.snapshotter.v1 native ok',
      'io.containerd.metadata.v1 bolt ok',
      'io.containerd.differ.v1 walking ok',
      'io.containerd.event.v1 exchange ok',
      'io.containerd.gc.v1 scheduler ok',
      'io.containerd.service.v1 introspection-service ok',
      'io.containerd.service.v1 content-service ok',
      'io.containerd.service.v1 diff-service ok',
      'io.containerd.service.v1 images-service ok',
      'io.containerd.service.v1 leases-service ok',
      'io.containerd.service.v1 namespaces-service ok',
      'io.containerd.service.v1 snapshots-service ok',
      'io.containerd.grpc.v1 introspection ok',
      'io.containerd.grpc.v1 content ok',
      'io.containerd.grpc.v1 diff ok',
      'io.containerd.grpc.v1 images ok',
      'io.containerd.grpc.v1 leases ok',
      'io.containerd.grpc.v1 namespaces ok',
      'io.containerd.grpc.v1 snapshots ok',
      'io.containerd.grpc.v1 version ok',
    ]);
    const version = await ctr(m.socket, 'version');
    expect(version.stdout).toMatch(/Server:\n +Version: +v0\.1\.0\n +Revision: +minimal\n/);
  });

  it('ctr snapshots --snapshotter native prepare and commit', async () => {
    const sn = (...args: string[]) => ctr(m.socket, 'snapshots', '--snapshotter', 'native', ...args);
    expect((await sn('prepare', 'work')).code).toBe(0);
    expect((await sn('commit', 'base', 'work')).code).toBe(0);
    expect((await sn('ls')).stdout).toMatch(/^KEY +PARENT +KIND +\nbase +Committed +\n$/);
    expect((await sn('rm', 'base')).code).toBe(0);
  });

  it('ctr images import unpacks with native, and the image tree holds the file', async () => {
    const img = 'example.com/minimal/hello:1';
    const archive = await buildImageArchive(work, img, 'hello from the minimal runtime\n');
    const imported = await ctr(m.socket, 'images', 'import', '--snapshotter', 'native', archive.file);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`unpacking ${img} (${archive.manifest})...done`);
    const check = await ctr(m.socket, 'images', 'check');
    expect(check.stdout).toMatch(new RegExp(`${img.replaceAll('.', '\\.')} +application/vnd\\.oci\\.image\\.manifest\\.v1\\+json +${archive.manifest} +complete \\(2/2\\)`));
    // ctr 1.6's `images mount` reads --snapshotter from a global flag that does not exist, so
    // it always asks for overlayfs, which this runtime does not have (same answer from any
    // containerd without overlayfs). Mount the unpacked chain the way it would: a snapshot on it.
    const mountCmd = await ctr(m.socket, 'images', 'mount', '--snapshotter', 'native', img, join(work, 'unused'));
    expect(mountCmd.stderr).toContain('snapshotter not loaded: overlayfs: invalid argument');
    const layer = (await ctr(m.socket, 'snapshots', '--snapshotter', 'native', 'ls')).stdout.match(/^(sha256:[0-9a-f]{64}) +Committed/m)?.[1];
    expect(layer).toBeDefined();
    const target = join(work, 'mnt');
    await mkdir(target);
    await keptSnapshot(m.socket, 'native', 'hello-view', layer!);
    await mountSnapshot(m.socket, 'native', 'hello-view', target);
    try {
      expect(await readFile(join(target, archive.path), 'utf8')).toBe('hello from the minimal runtime\n');
    } finally {
      await run('umount', [target]);
    }
  });
});

describe('ctr images pull --plain-http: the same tree from the minimal runtime and the full containerd-ts', () => {
  let registry: Registry;
  let minimal: StartedDaemon;
  let full: StartedDaemon;
  let work = '';
  let ref = '';
  const image = fixtureImage({ compression: 'gzip', scale: 'small' });
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'minimal-pull-'));
    [registry, minimal, full] = await Promise.all([startRegistry(), startDaemon({ command: [minimalBin], config: `version = 2\n${noStartupGC}` }), startDaemon({ config: `version = 2\n${noStartupGC}` })]);
    ref = await pushImage(registry, 'examples/fixture', 'v1', image);
  });
  afterAll(async () => {
    await Promise.all([minimal?.cleanup(), full?.cleanup(), registry?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  // Directory mtimes are left out: native copies the parent for every layer and, as
  // containerd's native does, a copied non-empty directory keeps the time of the copy.
  it('pulls and unpacks with native on both, and the mounted trees are identical', async () => {
    const top = chainId(diffIdsOf(image));
    const trees: ReturnType<typeof snapshotTree>[] = [];
    for (const [name, d] of [
      ['minimal', minimal],
      ['full', full],
    ] as const) {
      const pulled = await ctr(d.socket, 'images', 'pull', '--plain-http', '--snapshotter', 'native', ref);
      expect(pulled.code, `${name}: ${pulled.stderr}`).toBe(0);
      expect((await ctr(d.socket, 'snapshots', '--snapshotter', 'native', 'info', top)).code).toBe(0);
      const target = join(work, name);
      await mkdir(target);
      await keptSnapshot(d.socket, 'native', `${name}-view`, top);
      await mountSnapshot(d.socket, 'native', `${name}-view`, target);
      try {
        trees.push(snapshotTree(target, { ignoreDirMtimes: true }));
      } finally {
        await run('umount', [target]);
      }
    }
    expect(trees[0]!.length).toBeGreaterThan(100);
    expect(trees[0]!.some((e) => e.path === '/etc/tagged')).toBe(true);
    expect(trees[0]).toEqual(trees[1]);
  });

  it('the full daemon’s ctr images mount (overlayfs) shows the same tree', async () => {
    const pulled = await ctr(full.socket, 'images', 'pull', '--plain-http', ref);
    expect(pulled.code, pulled.stderr).toBe(0);
    const target = join(work, 'overlay');
    await mkdir(target);
    const mounted = await ctr(full.socket, 'images', 'mount', ref, target);
    expect(mounted.code, mounted.stderr).toBe(0);
    let overlayTree: ReturnType<typeof snapshotTree>;
    try {
      overlayTree = snapshotTree(target, { ignoreDirMtimes: true });
    } finally {
      await ctr(full.socket, 'images', 'unmount', target);
    }
    const view = join(work, 'minimal-again');
    await mkdir(view);
    await mountSnapshot(minimal.socket, 'native', 'minimal-view', view);
    try {
      expect(snapshotTree(view, { ignoreDirMtimes: true })).toEqual(overlayTree);
    } finally {
      await run('umount', [view]);
    }
  });
});
