import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { constants, lstatSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { makedev, mknod } from './mknod.js';
import {
  MNT_DETACH,
  MS_BIND,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REMOUNT,
  MS_SHARED,
  mount,
  mountAsync,
  umount2,
  umount2Async,
} from './mount.js';
import { OVERLAYFS_SUPER_MAGIC, ST_RDONLY, TMPFS_MAGIC, fsTypeName, statfs } from './statfs.js';

let dir: string;
// Every mount a test makes, so afterEach can undo them even when the test failed.
let mounted: string[];

function track(target: string): string {
  mounted.push(target);
  return target;
}

function isMounted(target: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === target);
}

function mountinfoLine(target: string): string | undefined {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  return lines.filter((line) => line.split(' ')[4] === target).at(-1);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-mount-'));
  mounted = [];
});

afterEach(async () => {
  for (const target of mounted.reverse()) {
    while (isMounted(target)) umount2(target, MNT_DETACH);
  }
  await rm(dir, { recursive: true, force: true });
});

describe('mount and umount2', () => {
  it('mounts a tmpfs with options and unmounts it', async () => {
    const target = join(dir, 'mnt');
    await mkdir(target);
    mount('tmpfs', track(target), 'tmpfs', 0, 'size=1m,mode=0700');
    expect(isMounted(target)).toBe(true);
    const st = statfs(target);
    expect(st.type).toBe(TMPFS_MAGIC);
    expect(fsTypeName(st.type)).toBe('tmpfs');
    expect(st.blocks * st.bsize).toBe(1024 * 1024);
    expect(lstatSync(target).mode & 0o777).toBe(0o700);
    await writeFile(join(target, 'f'), 'on tmpfs');

    umount2(target);
    expect(isMounted(target)).toBe(false);
    expect(await readdir(target)).toEqual([]);

    let caught: unknown;
    try {
      umount2(target);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toMatchObject({ code: 'EINVAL', syscall: 'umount2', path: target });
  });

  it('bind mounts read-only: writes through the bind fail with EROFS, the source stays writable', async () => {
    const source = join(dir, 'src');
    const target = join(dir, 'ro');
    await mkdir(source);
    await mkdir(target);
    await writeFile(join(source, 'f'), 'data');

    mount(source, track(target), null, MS_BIND);
    mount(null, target, null, MS_REMOUNT | MS_BIND | MS_RDONLY);

    expect(await readFile(join(target, 'f'), 'utf8')).toBe('data');
    expect(statfs(target).flags & ST_RDONLY).toBe(ST_RDONLY);
    await expect(writeFile(join(target, 'g'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    await writeFile(join(source, 'g'), 'x');
    expect(await readFile(join(target, 'g'), 'utf8')).toBe('x');
  });

  it('changes mount propagation', async () => {
    const target = join(dir, 'prop');
    await mkdir(target);
    mount('tmpfs', track(target), 'tmpfs', 0);
    mount(null, target, null, MS_SHARED);
    expect(mountinfoLine(target)).toMatch(/ shared:\d+/);
    mount(null, target, null, MS_PRIVATE);
    expect(mountinfoLine(target)).not.toMatch(/ shared:\d+/);
  });

  it('mounts an overlay whose merged view combines lowers and upper, honouring a whiteout made by mknod', async () => {
    // Overlay's upper and work dirs must sit on a file system that supports them: use a tmpfs.
    const base = join(dir, 'base');
    await mkdir(base);
    mount('tmpfs', track(base), 'tmpfs', 0);
    const [lower1, lower2, upper, work, merged] = ['l1', 'l2', 'upper', 'work', 'merged'].map((d) => join(base, d)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    for (const d of [lower1, lower2, upper, work, merged]) await mkdir(d);
    await writeFile(join(lower1, 'a'), 'a from l1');
    await writeFile(join(lower1, 'hidden'), 'deleted by l2');
    await writeFile(join(lower2, 'b'), 'b from l2');
    mknod(join(lower2, 'hidden'), constants.S_IFCHR | 0o000, makedev(0, 0));
    await writeFile(join(upper, 'c'), 'c from upper');

    // lowerdir lists the topmost layer first.
    mount('overlay', track(merged), 'overlay', 0, `lowerdir=${lower2}:${lower1},upperdir=${upper},workdir=${work}`);
    expect(statfs(merged).type).toBe(OVERLAYFS_SUPER_MAGIC);
    expect(fsTypeName(statfs(merged).type)).toBe('overlay');
    expect((await readdir(merged)).sort()).toEqual(['a', 'b', 'c']);
    expect(await readFile(join(merged, 'a'), 'utf8')).toBe('a from l1');
    expect(await readFile(join(merged, 'b'), 'utf8')).toBe('b from l2');

    await writeFile(join(merged, 'd'), 'new');
    expect(await readFile(join(upper, 'd'), 'utf8')).toBe('new');
    await rm(join(merged, 'a'));
    const whiteout = lstatSync(join(upper, 'a'));
    expect(whiteout.isCharacterDevice()).toBe(true);
    expect(whiteout.rdev).toBe(0);
  });

  it('mounts and unmounts off the JS thread', async () => {
    const target = join(dir, 'async');
    await mkdir(target);
    await mountAsync('tmpfs', track(target), 'tmpfs', MS_RDONLY);
    expect(isMounted(target)).toBe(true);
    expect(statfs(target).flags & ST_RDONLY).toBe(ST_RDONLY);
    await umount2Async(target);
    expect(isMounted(target)).toBe(false);
    await expect(umount2Async(target)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'umount2' });
  });

  it('reports a missing target as SysError ENOENT with the path, sync and async', async () => {
    const missing = join(dir, 'missing');
    let caught: unknown;
    try {
      mount('tmpfs', missing, 'tmpfs', 0);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'mount', path: missing });
    expect((caught as Error).message).toBe(
      `ENOENT: no such file or directory, mount '${missing}' (source 'tmpfs', type 'tmpfs')`,
    );

    const rejected = mountAsync('tmpfs', missing, 'tmpfs', 0);
    await expect(rejected).rejects.toBeInstanceOf(SysError);
    await expect(rejected).rejects.toMatchObject({ code: 'ENOENT', path: missing });
    expect(() => umount2(missing)).toThrow(SysError);
  });

  it('reports an unknown file system type as ENODEV', async () => {
    const target = join(dir, 'x');
    await mkdir(target);
    expect(() => mount('none', target, 'no-such-fs', 0)).toThrow(expect.objectContaining({ code: 'ENODEV' }));
  });
});
