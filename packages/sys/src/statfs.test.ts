import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { MNT_DETACH, MS_NOSUID, mount, umount2 } from './mount.js';
import {
  BTRFS_SUPER_MAGIC,
  EXT4_SUPER_MAGIC,
  PROC_SUPER_MAGIC,
  ST_NOSUID,
  TMPFS_MAGIC,
  XFS_SUPER_MAGIC,
  ZFS_SUPER_MAGIC,
  fsTypeName,
  statfs,
  statfsAsync,
} from './statfs.js';
import { syncfs, syncfsAsync } from './syncfs.js';

let dir: string;
let mnt: string | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-statfs-'));
  mnt = undefined;
});
afterEach(async () => {
  if (mnt) umount2(mnt, MNT_DETACH);
  await rm(dir, { recursive: true, force: true });
});

describe('statfs', () => {
  it('identifies a tmpfs and reports its size, inodes and flags', async () => {
    mnt = join(dir, 'mnt');
    await mkdir(mnt);
    mount('tmpfs', mnt, 'tmpfs', MS_NOSUID, 'size=2m,nr_inodes=100');
    const before = statfs(mnt);
    expect(before.type).toBe(TMPFS_MAGIC);
    expect(before.bsize).toBe(4096);
    expect(before.frsize).toBe(4096);
    expect(before.blocks).toBe(512);
    expect(before.files).toBe(100);
    expect(before.namelen).toBe(255);
    expect(before.flags & ST_NOSUID).toBe(ST_NOSUID);

    await writeFile(join(mnt, 'f'), Buffer.alloc(64 * 1024));
    const after = await statfsAsync(mnt);
    expect(after.type).toBe(TMPFS_MAGIC);
    expect(after.bfree).toBe(before.bfree - 16);
    expect(after.bavail).toBe(after.bfree);
    expect(after.ffree).toBe(before.ffree - 1);
  });

  it('keeps each concurrent async call’s errno apart', async () => {
    const file = join(dir, 'file');
    await writeFile(file, '');
    const paths = [join(dir, 'missing'), join(file, 'x'), '/proc'] as const;
    const calls = Array.from({ length: 24 }, (_, i) => statfsAsync(paths[i % 3] ?? '/'));
    const results = await Promise.allSettled(calls);
    results.forEach((result, i) => {
      if (i % 3 === 0) expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
      if (i % 3 === 1) expect(result).toMatchObject({ status: 'rejected', reason: { code: 'ENOTDIR' } });
      if (i % 3 === 2) expect(result).toMatchObject({ status: 'fulfilled', value: { type: PROC_SUPER_MAGIC } });
    });
  });

  it('identifies other file systems', async () => {
    expect(statfs('/proc').type).toBe(PROC_SUPER_MAGIC);
    expect(fsTypeName(statfs('/proc').type)).toBe('proc');
  });

  it('names magic numbers', () => {
    expect(fsTypeName(BTRFS_SUPER_MAGIC)).toBe('btrfs');
    expect(fsTypeName(EXT4_SUPER_MAGIC)).toBe('ext4');
    expect(fsTypeName(XFS_SUPER_MAGIC)).toBe('xfs');
    expect(fsTypeName(ZFS_SUPER_MAGIC)).toBe('zfs');
    expect(ZFS_SUPER_MAGIC).toBe(0x2fc12fc1);
    expect(fsTypeName(0x1234)).toBe('0x1234');
  });

  it('fails with SysError ENOENT with the path, sync and async', async () => {
    const missing = join(dir, 'missing');
    expect(() => statfs(missing)).toThrow(SysError);
    expect(() => statfs(missing)).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'statfs', path: missing }));
    await expect(statfsAsync(missing)).rejects.toMatchObject({ code: 'ENOENT', errno: 2, path: missing });
  });
});

describe('syncfs', () => {
  it('syncs the file system of an open fd, sync and async', async () => {
    const fd = openSync(dir, 'r');
    try {
      syncfs(fd);
      await syncfsAsync(fd);
    } finally {
      closeSync(fd);
    }
  });

  it('fails with EBADF for a closed fd', async () => {
    const fd = openSync(dir, 'r');
    closeSync(fd);
    expect(() => syncfs(fd)).toThrow(expect.objectContaining({ code: 'EBADF', syscall: 'syncfs' }));
    await expect(syncfsAsync(fd)).rejects.toMatchObject({ code: 'EBADF' });
  });
});
