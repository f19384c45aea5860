import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountAll, unmountAll, upperDirOf } from '@containerd-ts/snapshots';
import {
  createLoopFilesystem,
  hasExecutable,
  loadPlugin,
  snapshotterSuite,
} from '@containerd-ts/snapshots/testsuite';
import { hostPlatform } from '@containerd-ts/plugin';
import { MNT_DETACH } from '@containerd-ts/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import plugin from './index.js';
import { OverlaySnapshotter, UPPERDIR_LABEL } from './overlay.js';

snapshotterSuite('Overlay', async ({ root }) => {
  const snapshotter = await OverlaySnapshotter.open(root);
  return { snapshotter, cleanup: () => snapshotter.close() };
});

snapshotterSuite(
  'OverlaySyncRemove',
  async ({ root }) => {
    const snapshotter = await OverlaySnapshotter.open(root, { syncRemove: true });
    return { snapshotter, cleanup: () => snapshotter.close() };
  },
  { skip: { '128LayersMount': 'the same as in the Overlay run' } },
);

describe('overlayfs snapshotter', () => {
  const ctx = { namespace: 'test' };
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'overlay-test-'));
  });
  afterEach(async () => {
    await unmountAll(join(dir, 'mnt'), MNT_DETACH);
    await rm(dir, { recursive: true, force: true });
  });

  it('returns the mounts containerd returns, in its option order', async () => {
    const root = join(dir, 'root');
    const sn = await OverlaySnapshotter.open(root);
    const up = (id: number) => `${root}/snapshots/${id}/fs`;
    expect(await sn.prepare(ctx, 'a1')).toEqual([{ type: 'bind', source: up(1), options: ['rw', 'rbind'] }]);
    await sn.commit(ctx, 'c1', 'a1');
    await sn.prepare(ctx, 'a2', 'c1');
    await sn.commit(ctx, 'c2', 'a2');
    expect(await sn.prepare(ctx, 'a3', 'c2')).toEqual([
      {
        type: 'overlay',
        source: 'overlay',
        options: ['index=off', `workdir=${root}/snapshots/3/work`, `upperdir=${up(3)}`, `lowerdir=${up(2)}:${up(1)}`],
      },
    ]);
    expect(await sn.view(ctx, 'v1', 'c1')).toEqual([{ type: 'bind', source: up(1), options: ['ro', 'rbind'] }]);
    expect(await sn.view(ctx, 'v2', 'c2')).toEqual([
      { type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${up(2)}:${up(1)}`] },
    ]);
    expect(await sn.view(ctx, 've')).toEqual([{ type: 'bind', source: up(6), options: ['ro', 'rbind'] }]);
    expect(await sn.mounts(ctx, 'a3')).toEqual(await sn.mounts(ctx, 'a3'));
    await expect(sn.mounts(ctx, 'c1')).rejects.toThrow(
      'failed to get active mount: requested snapshot c1 not active or view: failed precondition',
    );
    await expect(sn.remove(ctx, 'c1')).rejects.toThrow('failed to remove: cannot remove snapshot with child: failed precondition');
    // Usage of a committed snapshot: its upper directory alone.
    expect(await sn.usage(ctx, 'c1')).toEqual({ size: 4096, inodes: 1 });
    expect(await sn.usage(ctx, 'v1')).toEqual({ size: 0, inodes: 0 });
    await sn.close();
  });

  it('appends mount_options to overlay mounts only, and honours an explicit index option', async () => {
    const root = join(dir, 'root');
    const sn = await OverlaySnapshotter.open(root, { mountOptions: ['index=on', 'volatile'] });
    expect((await sn.prepare(ctx, 'a1'))[0]?.options).toEqual(['rw', 'rbind']);
    await sn.commit(ctx, 'c1', 'a1');
    const [m] = await sn.prepare(ctx, 'a2', 'c1');
    expect(m?.options).toEqual([
      'index=on',
      'volatile',
      `workdir=${root}/snapshots/2/work`,
      `upperdir=${root}/snapshots/2/fs`,
      `lowerdir=${root}/snapshots/1/fs`,
    ]);
    await sn.close();
  });

  it('exposes the upper directory so a layer can be written without mounting', async () => {
    const root = join(dir, 'root');
    const sn = await OverlaySnapshotter.open(root);
    const first = upperDirOf(await sn.prepare(ctx, 'a1'));
    expect(first).toEqual({ path: `${root}/snapshots/1/fs`, lowerdirs: [], overlay: false, userxattr: false });
    await writeFile(join(first?.path ?? '', 'base'), 'base');
    await sn.commit(ctx, 'c1', 'a1');
    const upper = upperDirOf(await sn.prepare(ctx, 'a2', 'c1'));
    expect(upper).toEqual({
      path: `${root}/snapshots/2/fs`,
      lowerdirs: [`${root}/snapshots/1/fs`],
      overlay: true,
      userxattr: false,
    });
    await writeFile(join(upper?.path ?? '', 'top'), 'top');
    await sn.commit(ctx, 'c2', 'a2');
    expect(upperDirOf(await sn.view(ctx, 'v', 'c2'))).toBeUndefined();
    const mnt = join(dir, 'mnt');
    await mkdir(mnt);
    await mountAll(await sn.mounts(ctx, 'v'), mnt);
    expect(await readFile(join(mnt, 'base'), 'utf8')).toBe('base');
    expect(await readFile(join(mnt, 'top'), 'utf8')).toBe('top');
    await unmountAll(mnt, MNT_DETACH);
    await sn.close();
  });

  it('labels infos with the upper directory when upperdir_label is on', async () => {
    const root = join(dir, 'root');
    const sn = await OverlaySnapshotter.open(root, { upperdirLabel: true });
    await sn.prepare(ctx, 'a1', '', { labels: { x: 'y' } });
    const expected = { x: 'y', [UPPERDIR_LABEL]: `${root}/snapshots/1/fs` };
    expect((await sn.stat(ctx, 'a1')).labels).toEqual(expected);
    expect((await sn.update(ctx, { name: 'a1', labels: { x: 'z' } })).labels).toEqual({ ...expected, x: 'z' });
    const walked: Record<string, string>[] = [];
    await sn.walk(ctx, (info) => {
      walked.push(info.labels);
    });
    expect(walked).toEqual([{ ...expected, x: 'z' }]);
    // The label is computed, never stored: filters do not see it.
    let matched = 0;
    await sn.walk(ctx, () => void matched++, [`labels."${UPPERDIR_LABEL}"`]);
    expect(matched).toBe(0);
    await sn.close();
  });

  it('removes directories at removal with sync_remove, otherwise at cleanup', async () => {
    const asyncRoot = join(dir, 'async');
    const lazy = await OverlaySnapshotter.open(asyncRoot);
    await lazy.prepare(ctx, 'a');
    await lazy.remove(ctx, 'a');
    expect(existsSync(join(asyncRoot, 'snapshots', '1'))).toBe(true);
    await lazy.cleanup(ctx);
    expect(existsSync(join(asyncRoot, 'snapshots', '1'))).toBe(false);
    await lazy.close();

    const syncRoot = join(dir, 'sync');
    const eager = await OverlaySnapshotter.open(syncRoot, { syncRemove: true });
    await eager.prepare(ctx, 'a');
    await eager.prepare(ctx, 'b');
    await eager.remove(ctx, 'a');
    expect(existsSync(join(syncRoot, 'snapshots', '1'))).toBe(false);
    expect(existsSync(join(syncRoot, 'snapshots', '2'))).toBe(true);
    await eager.close();
  });

  it('keeps its records across a restart and reclaims a directory a crash left behind', async () => {
    const root = join(dir, 'root');
    const sn = await OverlaySnapshotter.open(root);
    await sn.prepare(ctx, 'a', '', { labels: { l: 'v' } });
    await sn.commit(ctx, 'c', 'a');
    await sn.close();
    // A crash between renaming a new snapshot's directory and writing its record.
    await mkdir(join(root, 'snapshots', '2', 'fs'), { recursive: true });
    await writeFile(join(root, 'snapshots', '2', 'fs', 'stale'), 'x');
    const again = await OverlaySnapshotter.open(root);
    expect((await again.stat(ctx, 'c')).kind).toBe('Committed');
    const [m] = await again.prepare(ctx, 'b', 'c');
    expect(m?.options).toContain(`upperdir=${root}/snapshots/2/fs`);
    expect(existsSync(join(root, 'snapshots', '2', 'fs', 'stale'))).toBe(false);
    await again.close();
  });

  it(
    'refuses a root without d_type with containerd\'s message',
    async () => {
      // scripts/setup.sh installs e2fsprogs and mount: a missing tool fails, never a silent skip.
      for (const tool of ['mkfs.ext4', 'losetup']) expect(hasExecutable(tool), `${tool} on PATH (Debian e2fsprogs, mount)`).toBe(true);
      const fs = await createLoopFilesystem({ fstype: 'ext4', sizeMiB: 16, mkfsOptions: ['-q', '-F', '-O', '^filetype'] });
      try {
        const root = join(fs.mountpoint, 'overlay');
        await expect(OverlaySnapshotter.open(root)).rejects.toThrow(
          `${root} does not support d_type. If the backing filesystem is xfs, please reformat with ftype=1 to enable d_type support`,
        );
      } finally {
        await fs.close();
      }
    },
  );
});

describe('overlayfs plugin', () => {
  it('loads with containerd\'s exports and platform, and takes its config', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'overlay-plugin-'));
    try {
      const { record, close } = await loadPlugin(plugin, {
        root: dir,
        config: { upperdir_label: true, sync_remove: true, mount_options: ['volatile'] },
      });
      const root = join(dir, 'root', 'io.containerd.snapshotter.v1.overlayfs');
      expect(record.status).toBe('ok');
      expect(record.meta.exports).toEqual({ root });
      expect(record.meta.platforms).toEqual([hostPlatform()]);
      expect(existsSync(join(root, 'snapshots'))).toBe(true);
      await close();
      await expect(loadPlugin(plugin, { root: dir, config: { upperdir: true } })).resolves.toMatchObject({
        record: { status: 'error' },
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
