import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPlatform } from '@containerd-ts/plugin';
import {
  createLoopFilesystem,
  hasExecutable,
  type LoopFilesystem,
  loadPlugin,
  snapshotterSuite,
} from '@containerd-ts/snapshots/testsuite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subvolDelete } from './btrfs-cli.js';
import { BtrfsSnapshotter } from './btrfs.js';
import plugin from './index.js';

const missing = ['mkfs.btrfs', 'btrfs', 'losetup'].filter((tool) => !hasExecutable(tool));
// scripts/setup.sh installs btrfs-progs: a missing tool fails the file, never a silent skip.
if (missing.length > 0) throw new Error(`btrfs snapshotter tests need ${missing.join(', ')}, not on PATH (Debian btrfs-progs, mount; scripts/setup.sh installs them)`);

/** Deletes the subvolumes a test left, so its directory can be removed. */
async function deleteSubvolumes(root: string): Promise<void> {
  for (const dir of ['active', 'view', 'snapshots']) {
    const names = await readdir(join(root, dir)).catch(() => [] as string[]);
    await subvolDelete(...names.map((n) => join(root, dir, n))).catch(() => {});
  }
}

describe('btrfs on a loop device', () => {
  let fs: LoopFilesystem | undefined;
  beforeAll(async () => {
    // The image lives in memory when it can, so btrfs's transaction flushes (every snapshot
    // commits one) do not wait on the host's disk.
    const dir = existsSync('/dev/shm') ? '/dev/shm' : undefined;
    fs = await createLoopFilesystem({ fstype: 'btrfs', sizeMiB: 512, mkfsOptions: ['-q'], dir });
  }, 60_000);
  afterAll(async () => {
    await fs?.close();
  });
  const mountpoint = (): string => {
    if (!fs) throw new Error('btrfs loop file system not set up');
    return fs.mountpoint;
  };

  snapshotterSuite(
    'Btrfs',
    async ({ root }) => {
      const snapshotter = await BtrfsSnapshotter.open(root);
      return {
        snapshotter,
        cleanup: async () => {
          await snapshotter.close();
          await deleteSubvolumes(root);
        },
      };
    },
    { tmpDir: mountpoint },
  );

  it('mounts subvolumes of the root device by subvolid, read-only for views', async () => {
    const root = join(mountpoint(), 'mounts');
    const sn = await BtrfsSnapshotter.open(root);
    const ctx = {};
    try {
      const [active] = await sn.prepare(ctx, 'a');
      expect(active).toMatchObject({ type: 'btrfs', source: fs?.device });
      expect(active?.options).toEqual([expect.stringMatching(/^subvolid=\d+$/)]);
      await sn.commit(ctx, 'c', 'a');
      const [view] = await sn.view(ctx, 'v', 'c');
      expect(view?.options).toEqual([expect.stringMatching(/^subvolid=\d+$/), 'ro']);
      expect(view?.options[0]).not.toBe(active?.options[0]);
      expect(await sn.mounts(ctx, 'v')).toEqual([view]);
      await sn.remove(ctx, 'v');
      await sn.remove(ctx, 'c');
      expect(await readdir(join(root, 'snapshots'))).toEqual([]);
    } finally {
      await sn.close();
      await deleteSubvolumes(root);
    }
  });

  it('counts only what an active snapshot changed relative to its parent', async () => {
    const root = join(mountpoint(), 'usage');
    const sn = await BtrfsSnapshotter.open(root);
    const ctx = {};
    try {
      const [m] = await sn.prepare(ctx, 'a');
      const dir = join(root, 'active', '1');
      expect(m?.options[0]).toMatch(/^subvolid=/);
      await writeFile(join(dir, 'big'), Buffer.alloc(1 << 20, 1));
      await sn.commit(ctx, 'c', 'a');
      await sn.prepare(ctx, 'b', 'c');
      await writeFile(join(root, 'active', '2', 'small'), Buffer.alloc(64 << 10, 2));
      const usage = await sn.usage(ctx, 'b');
      expect(usage.size).toBeGreaterThanOrEqual(64 << 10);
      expect(usage.size).toBeLessThan(1 << 20);
      expect((await sn.usage(ctx, 'c')).size).toBeGreaterThanOrEqual(1 << 20);
    } finally {
      await sn.close();
      await deleteSubvolumes(root);
    }
  });

  it('loads as a plugin when its root is on btrfs', async () => {
    const root = join(mountpoint(), 'plugin-root');
    const { record, close } = await loadPlugin(plugin, { root: mountpoint(), config: { root_path: root } });
    expect(record.status).toBe('ok');
    expect(record.meta.exports).toEqual({ root });
    await close();
  });
});

describe('btrfs plugin', () => {
  it("skips with containerd's message when its root is not on btrfs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'btrfs-plugin-'));
    try {
      const { record } = await loadPlugin(plugin, { root: dir });
      const root = join(dir, 'root', 'io.containerd.snapshotter.v1.btrfs');
      expect(record.status).toBe('skip');
      expect(record.error?.message).toBe(
        `path ${root} (ext4) must be a btrfs filesystem to be used with the btrfs snapshotter: skip plugin`,
      );
      expect(record.meta.exports).toEqual({ root });
      expect(record.meta.platforms).toEqual([hostPlatform()]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
