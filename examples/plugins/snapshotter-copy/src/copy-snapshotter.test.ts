// The example snapshotter against the shared conformance suite (every case), loaded through
// the real plugin registry with its config, plus what its own options do.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isFailedPrecondition } from '@containerd-ts/errdefs';
import { mount, unmount } from '@containerd-ts/snapshots';
import { loadPlugin, snapshotterSuite } from '@containerd-ts/snapshots/testsuite';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CopySnapshotter } from './copy-snapshotter.js';
import plugin, { copySnapshotterConfig } from './index.js';
import { syncTree } from './sync-tree.js';

const MNT_DETACH = 2;
const ctx = { namespace: 'test' };

// Every prepare copies its parent; the suite's 128-layer case copies ~16,000 files. On a
// tmpfs the whole suite takes seconds on any disk.
describe('copy snapshotter on tmpfs', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'copy-suite-'));
    await mount({ type: 'tmpfs', source: 'tmpfs', options: ['size=1g', 'mode=0755'] }, dir);
  });
  afterAll(async () => {
    await unmount(dir, MNT_DETACH);
    await rm(dir, { recursive: true, force: true });
  });

  snapshotterSuite(
    'Copy',
    async ({ root }) => {
      const { record, close } = await loadPlugin(plugin, { root, config: { copy_concurrency: 2, sync_on_commit: true } });
      if (record.status !== 'ok') throw record.error ?? new Error(`plugin status ${record.status}`);
      return { snapshotter: record.instance as CopySnapshotter, cleanup: close };
    },
    { tmpDir: () => dir },
  );
});

describe('copy snapshotter config', () => {
  it('has defaults and refuses unknown keys and nonsense values', () => {
    expect(copySnapshotterConfig.parse({})).toEqual({ root_path: '', copy_concurrency: 2, sync_on_commit: true });
    expect(() => copySnapshotterConfig.parse({ copy_concurency: 3 })).toThrow(/copy_concurency/);
    expect(() => copySnapshotterConfig.parse({ copy_concurrency: 0 })).toThrow();
    expect(() => copySnapshotterConfig.parse({ copy_concurrency: 1.5 })).toThrow();
    expect(() => copySnapshotterConfig.parse({ sync_on_commit: 'yes' })).toThrow();
  });

  it('loads with its root exported, under the daemon root or at root_path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'copy-plugin-'));
    try {
      const first = await loadPlugin(plugin, { root: dir });
      expect(first.record.status).toBe('ok');
      const root = join(dir, 'root', 'io.containerd.snapshotter.v1.copy');
      expect(first.record.meta.exports).toEqual({ root });
      expect((await readdir(root)).sort()).toEqual(['active', 'committed', 'tmp']);
      await first.close();
      const elsewhere = join(dir, 'elsewhere');
      const second = await loadPlugin(plugin, { root: dir, config: { root_path: elsewhere } });
      expect((second.record.instance as CopySnapshotter).root).toBe(elsewhere);
      expect(second.record.meta.exports).toEqual({ root: elsewhere });
      await second.close();
      // A value the schema refuses makes the plugin fail (the daemon refuses it earlier, naming the key).
      const bad = await loadPlugin(plugin, { root: dir, config: { copy_concurrency: 0 } });
      expect(bad.record.status).toBe('error');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('copy snapshotter options', () => {
  let dir = '';
  let sn: CopySnapshotter | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'copy-options-'));
  });
  afterEach(async () => {
    await sn?.close();
    sn = undefined;
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A committed parent with `files` files, written through a bind mount as a client would. */
  async function committedParent(s: CopySnapshotter, name: string, files: number): Promise<void> {
    const [m] = await s.prepare(ctx, `${name}-work`);
    const tree = m!.source;
    await mkdir(join(tree, 'data'));
    for (let i = 0; i < files; i++) await writeFile(join(tree, 'data', `f${i}`), `file ${i}\n`.repeat(20));
    await s.commit(ctx, name, `${name}-work`);
  }

  for (const concurrency of [1, 3]) {
    it(`copy_concurrency ${concurrency}: at most ${concurrency} parent copies at once, all prepares succeed`, async () => {
      sn = await CopySnapshotter.open(join(dir, `c${concurrency}`), { copyConcurrency: concurrency, syncOnCommit: false });
      const s = sn;
      await committedParent(s, 'base', 1500);
      const prepares = Promise.all([0, 1, 2, 3].map((i) => s.prepare(ctx, `child-${i}`, 'base')));
      // Sample while they run: never more copies than allowed, and the rest wait their turn.
      let done = false;
      let sawWaiting = 0;
      void prepares.finally(() => {
        done = true;
      });
      while (!done) {
        expect(s.stats.copiesRunning).toBeLessThanOrEqual(concurrency);
        sawWaiting = Math.max(sawWaiting, s.stats.copiesWaiting);
        await new Promise((r) => setTimeout(r, 1));
      }
      const mounts = await prepares;
      expect(s.stats.peakCopies).toBe(concurrency);
      expect(sawWaiting).toBeGreaterThan(0);
      expect(s.stats.copiesRunning).toBe(0);
      for (const [m] of mounts) expect((await readdir(join(m!.source, 'data'))).length).toBe(1500);
      // 7,500 files written (the parent and four copies): past vitest's 5 s on a loaded machine
    }, 60_000);
  }

  it('sync_on_commit flushes every file and directory of the tree; off, none', async () => {
    sn = await CopySnapshotter.open(join(dir, 'sync-on'), { syncOnCommit: true });
    await committedParent(sn, 'a', 10);
    // 10 files, data/ and the snapshot root.
    expect(sn.stats.syncedEntries).toBe(12);
    await sn.close();
    sn = await CopySnapshotter.open(join(dir, 'sync-off'), { syncOnCommit: false });
    await committedParent(sn, 'a', 10);
    expect(sn.stats.syncedEntries).toBe(0);
  });

  it('syncTree skips fifos, sockets and symlinks (opening a fifo would block)', async () => {
    const tree = await mkdtemp(join(dir, 'special-'));
    await writeFile(join(tree, 'file'), 'x');
    await mkdir(join(tree, 'sub'));
    await symlink('/nowhere', join(tree, 'sub', 'dangling'));
    await promisify(execFile)('mkfifo', [join(tree, 'sub', 'fifo')]);
    expect(await syncTree(tree)).toBe(3);
  });

  it('keeps active and committed trees apart, and removal leaves nothing behind', async () => {
    sn = await CopySnapshotter.open(join(dir, 'layout'));
    const [m] = await sn.prepare(ctx, 'work');
    expect(m!.source).toMatch(/\/active\/\d+$/);
    await writeFile(join(m!.source, 'hello'), 'hi');
    await sn.commit(ctx, 'layer', 'work');
    const [v] = await sn.view(ctx, 'v', 'layer');
    expect(v).toEqual({ type: 'bind', source: m!.source.replace('/active/', '/committed/'), options: ['rbind', 'ro'] });
    expect((await stat(join(v!.source, 'hello'))).size).toBe(2);
    const err = await sn.remove(ctx, 'layer').catch((e: unknown) => e);
    expect(isFailedPrecondition(err)).toBe(true);
    await sn.remove(ctx, 'v');
    await sn.remove(ctx, 'layer');
    const root = join(dir, 'layout');
    expect([...(await readdir(join(root, 'active'))), ...(await readdir(join(root, 'committed'))), ...(await readdir(join(root, 'tmp')))]).toEqual([]);
  });

  it('moves a tree back where its record says after a crash between rename and record', async () => {
    const root = join(dir, 'crash');
    sn = await CopySnapshotter.open(root, { syncOnCommit: false });
    const [m] = await sn.prepare(ctx, 'work');
    await writeFile(join(m!.source, 'kept'), 'yes');
    await sn.close();
    // What a crash after the commit's rename and before its record looks like.
    const { rename } = await import('node:fs/promises');
    const id = m!.source.slice(m!.source.lastIndexOf('/') + 1);
    await rename(m!.source, join(root, 'committed', id));
    sn = await CopySnapshotter.open(root, { syncOnCommit: false });
    expect((await stat(join(m!.source, 'kept'))).isFile()).toBe(true);
    await sn.commit(ctx, 'done', 'work');
    expect((await stat(join(root, 'committed', id, 'kept'))).isFile()).toBe(true);
  });
});
