import { chmod, lchown, link, lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lgetxattr, lsetxattr, makedev, mknod, utimensatNoFollow } from '@containerd-ts/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyDir } from './copy.js';
import { diskUsage } from './disk-usage.js';
import { diffTrees } from './fstest.js';

describe('copyDir and diskUsage', () => {
  let dir: string;
  let src: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'copy-test-'));
    src = join(dir, 'src');
    await mkdir(join(src, 'sub', 'deep'), { recursive: true });
    await writeFile(join(src, 'sub', 'file'), 'content');
    await link(join(src, 'sub', 'file'), join(src, 'hardlink'));
    await symlink('../sub/file', join(src, 'sub', 'deep', 'rel'));
    await symlink('/etc/passwd', join(src, 'abs'));
    await writeFile(join(src, 'setuid'), '#!/bin/sh\n');
    await chmod(join(src, 'setuid'), 0o4755);
    await mkdir(join(src, 'sticky'));
    await chmod(join(src, 'sticky'), 0o1777);
    await writeFile(join(src, 'owned'), 'x');
    await lchown(join(src, 'owned'), 1000, 1000);
    await lchown(join(src, 'abs'), 1, 2);
    mknod(join(src, 'fifo'), 0o010644);
    mknod(join(src, 'null'), 0o020666, makedev(1, 3));
    lsetxattr(join(src, 'sub', 'file'), 'user.test', 'value');
    utimensatNoFollow(join(src, 'sub', 'file'), 1_000_000_000_123_456_789n, 1_500_000_000_987_654_321n);
    utimensatNoFollow(join(src, 'sub'), 1_000_000_000n, 1_200_000_000_000_000_001n);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('copies every kind of entry with owners, modes, xattrs, hard links and times', async () => {
    const dst = join(dir, 'dst');
    await copyDir(dst, src, { preserveDirectoryTimes: true });
    // (Access times follow the source's, which reading it for the copy may have moved.)
    expect((await lstat(join(dst, 'sub', 'file'), { bigint: true })).mtimeNs).toBe(1_500_000_000_987_654_321n);
    expect(await diffTrees(src, dst)).toEqual([]);
    expect(lgetxattr(join(dst, 'sub', 'file'), 'user.test')?.toString()).toBe('value');
    expect(await readlink(join(dst, 'sub', 'deep', 'rel'))).toBe('../sub/file');
    const [a, b] = await Promise.all([lstat(join(dst, 'sub', 'file')), lstat(join(dst, 'hardlink'))]);
    expect(a.ino).toBe(b.ino);
    // A directory keeps its time although entries were written into it.
    expect((await lstat(join(dst, 'sub'), { bigint: true })).mtimeNs).toBe(1_200_000_000_000_000_001n);
    expect((await lstat(join(dst, 'null'))).rdev).toBe(makedev(1, 3));
    expect((await lstat(join(dst, 'abs'))).uid).toBe(1);
  });

  it("by default sets a directory's times before its contents, as containerd's fs.CopyDir", async () => {
    utimensatNoFollow(join(src, 'sticky'), 1_000_000_000n, 1_300_000_000_000_000_000n);
    const dst = join(dir, 'dst');
    const before = BigInt(Date.now() - 1000) * 1_000_000n;
    await copyDir(dst, src);
    // A non-empty directory ends with the time of the copy; an empty one keeps its source's.
    expect((await lstat(join(dst, 'sub'), { bigint: true })).mtimeNs).toBeGreaterThan(before);
    expect((await lstat(join(dst, 'sticky'), { bigint: true })).mtimeNs).toBe(1_300_000_000_000_000_000n);
    expect((await lstat(join(dst, 'sub', 'file'), { bigint: true })).mtimeNs).toBe(1_500_000_000_987_654_321n);
    expect((await lstat(join(dst, 'sticky'))).mode & 0o7777).toBe(0o1777);
  });

  it('counts each inode once', async () => {
    const one = await diskUsage(src);
    // src, sub, deep, file (+ its hard link), rel, abs, setuid, sticky, owned, fifo, null
    expect(one.inodes).toBe(11);
    expect(one.size).toBeGreaterThan(0);
    const dst = join(dir, 'dst');
    await copyDir(dst, src);
    const both = await diskUsage(src, dst);
    expect(both.inodes).toBe(22);
  });
});
