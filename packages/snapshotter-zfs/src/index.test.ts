import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostPlatform } from '@containerd-ts/plugin';
import { lookupMount, parseMountInfo } from '@containerd-ts/snapshots';
import { loadPlugin } from '@containerd-ts/snapshots/testsuite';
import { describe, expect, it } from 'vitest';
import plugin, { checkZfsRoot, NotZfsError } from './index.js';

describe('zfs plugin', () => {
  it("skips with containerd's message when its root is not on zfs", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zfs-plugin-'));
    try {
      const root = join(dir, 'root', 'io.containerd.snapshotter.v1.zfs');
      if ((await lookupMount(root)).fstype === 'zfs') return; // a zfs host: nothing to compare with
      const { record } = await loadPlugin(plugin, { root: dir });
      expect(record.status).toBe('skip');
      expect(record.error?.message).toBe(
        `path ${root} must be a zfs filesystem to be used with the zfs snapshotter: skip plugin`,
      );
      expect(record.meta.exports).toEqual({ root });
      expect(record.meta.platforms).toEqual([hostPlatform()]);
      // As containerd, the check creates nothing.
      expect(existsSync(root)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('honours root_path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zfs-plugin-'));
    try {
      const { record } = await loadPlugin(plugin, { root: dir, config: { root_path: '/var/lib/elsewhere' } });
      expect(record.meta.exports).toEqual({ root: '/var/lib/elsewhere' });
      expect(record.error?.message).toContain('path /var/lib/elsewhere must be a zfs filesystem');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('skips, as containerd, where no mount entry covers its root (a chroot)', async () => {
    // mountinfo of a process chrooted into a directory that is not a mount point.
    const mounts = parseMountInfo('44 26 254:0 /usr /usr rw - ext4 /dev/vda rw\n47 26 0:39 / /proc rw - proc proc rw\n');
    const root = '/var/lib/containerd/io.containerd.snapshotter.v1.zfs';
    const check = checkZfsRoot(root, mounts);
    await expect(check).rejects.toBeInstanceOf(NotZfsError);
    await expect(check).rejects.toThrow(`failed to find the mount info for "${root}"`);
  });
});
