import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, MS_BIND, MS_NOSUID, MS_RDONLY, MS_REC, MS_REMOUNT } from '@containerd-ts/sys';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  compactLowerdirOption,
  longestCommonPrefix,
  mountAll,
  overlayDirs,
  parseMountOptions,
  unmountAll,
  upperDirOf,
} from './mount.js';
import { lookupMount, readMountInfo } from './mountinfo.js';

describe('mount options', () => {
  it('splits flags from data as containerd', () => {
    expect(parseMountOptions(['rbind', 'ro'])).toEqual({ flags: MS_BIND | MS_REC | MS_RDONLY, data: '', loop: false });
    expect(parseMountOptions(['ro', 'rw', 'nosuid', 'remount'])).toEqual({
      flags: MS_NOSUID | MS_REMOUNT,
      data: '',
      loop: false,
    });
    expect(parseMountOptions(['index=off', 'defaults', 'lowerdir=/a:/b', 'loop'])).toEqual({
      flags: 0,
      data: 'index=off,defaults,lowerdir=/a:/b',
      loop: true,
    });
  });

  it('compacts lowerdirs relative to their common parent, as containerd', () => {
    expect(longestCommonPrefix(['/a/snapshots/12/fs', '/a/snapshots/1/fs', '/a/snapshots/123/fs'])).toBe('/a/snapshots/1');
    expect(
      compactLowerdirOption(['index=off', 'lowerdir=/r/snapshots/12/fs:/r/snapshots/3/fs', 'upperdir=/r/snapshots/13/fs']),
    ).toEqual({ chdir: '/r/snapshots/', options: ['index=off', 'upperdir=/r/snapshots/13/fs', 'lowerdir=12/fs:3/fs'] });
    // Nothing to gain: one lower, or only / in common.
    expect(compactLowerdirOption(['lowerdir=/r/a'])).toEqual({ chdir: '', options: ['lowerdir=/r/a'] });
    expect(compactLowerdirOption(['lowerdir=/a/x:/b/y'])).toEqual({ chdir: '', options: ['lowerdir=/a/x:/b/y'] });
  });

  it('reads overlay directories and finds the writable directory of an active snapshot', () => {
    const overlay = {
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', 'userxattr', 'workdir=/s/3/work', 'upperdir=/s/3/fs', 'lowerdir=/s/2/fs:/s/1/fs'],
    };
    expect(overlayDirs(overlay)).toEqual({
      lowerdirs: ['/s/2/fs', '/s/1/fs'],
      upperdir: '/s/3/fs',
      workdir: '/s/3/work',
      userxattr: true,
    });
    expect(upperDirOf([overlay])).toEqual({ path: '/s/3/fs', lowerdirs: ['/s/2/fs', '/s/1/fs'], overlay: true, userxattr: true });
    expect(upperDirOf([{ type: 'bind', source: '/s/1/fs', options: ['rw', 'rbind'] }])).toEqual({
      path: '/s/1/fs',
      lowerdirs: [],
      overlay: false,
      userxattr: false,
    });
    expect(upperDirOf([{ type: 'bind', source: '/s/1/fs', options: ['ro', 'rbind'] }])).toBeUndefined();
    expect(upperDirOf([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/a:/b'] }])).toBeUndefined();
    expect(upperDirOf([{ type: 'btrfs', source: '/dev/loop0', options: ['subvolid=256'] }])).toBeUndefined();
  });
});

describe('mounting', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mount-test-'));
  });
  afterEach(async () => {
    for (const m of (await readMountInfo()).filter((m) => m.mountpoint.startsWith(dir)).reverse()) {
      await unmountAll(m.mountpoint, MNT_DETACH);
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a read-only bind mount read-only and unmounts stacked mounts', async () => {
    const src = join(dir, 'src');
    const target = join(dir, 'target');
    await mkdir(src);
    await mkdir(target);
    await writeFile(join(src, 'f'), 'x');
    await mountAll([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], target);
    expect(await readFile(join(target, 'f'), 'utf8')).toBe('x');
    await expect(writeFile(join(target, 'g'), 'y')).rejects.toMatchObject({ code: 'EROFS' });
    await mountAll([{ type: 'bind', source: src, options: ['rbind', 'rw'] }], target);
    await writeFile(join(target, 'g'), 'y');
    expect((await lookupMount(join(target, 'g'))).mountpoint).toBe(target);
    await unmountAll(target);
    expect((await lookupMount(target)).mountpoint).not.toBe(target);
    await unmountAll(target); // not a mount point any more: nothing to do
  });

  it('mounts an overlay whose lowerdir list is longer than a page', async () => {
    const layers = join(dir, 'a-rather-long-directory-name-for-the-layers-of-this-test', 'snapshots');
    const lowers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const d = join(layers, String(i), 'fs');
      await mkdir(d, { recursive: true });
      await writeFile(join(d, `file-${i}`), String(i));
      lowers.unshift(d);
    }
    await mkdir(join(dir, 'upper'));
    await mkdir(join(dir, 'work'));
    const target = join(dir, 'merged');
    await mkdir(target);
    const options = [`workdir=${join(dir, 'work')}`, `upperdir=${join(dir, 'upper')}`, `lowerdir=${lowers.join(':')}`];
    expect(options.join(',').length).toBeGreaterThan(4096);
    const cwd = process.cwd();
    await mountAll([{ type: 'overlay', source: 'overlay', options }], target);
    expect(process.cwd()).toBe(cwd);
    expect(await readFile(join(target, 'file-0'), 'utf8')).toBe('0');
    expect(await readFile(join(target, 'file-59'), 'utf8')).toBe('59');
    await writeFile(join(target, 'new'), 'n');
    expect(await readFile(join(dir, 'upper', 'new'), 'utf8')).toBe('n');
  });

  it('names the mount a path is on, as containerd’s mount.Lookup', async () => {
    const m = await lookupMount(join(dir, 'does', 'not', 'exist'));
    expect(m.mountpoint).toBe((await lookupMount(dir)).mountpoint);
    expect(m.fstype).not.toBe('');
  });
});
