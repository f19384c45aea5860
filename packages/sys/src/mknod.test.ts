import { constants, lstatSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { libc } from './libc.js';
import { major, makedev, minor, mknod } from './mknod.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-mknod-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('makedev, major, minor', () => {
  it('encode as the kernel reports rdev', () => {
    expect(makedev(1, 3)).toBe(statSync('/dev/null').rdev);
    expect(major(statSync('/dev/null').rdev)).toBe(1);
    expect(minor(statSync('/dev/null').rdev)).toBe(3);
    expect(makedev(0, 0)).toBe(0);
    expect(makedev(8, 1)).toBe(0x801);
  });
  it('round-trip majors and minors beyond 8 bits', () => {
    for (const [ma, mi] of [
      [259, 70000],
      [4095, 0xfffff],
      [0x12345, 0xabcdef12],
    ] as const) {
      const dev = makedev(ma, mi);
      expect([major(dev), minor(dev)]).toEqual([ma, mi]);
      expect([major(BigInt(dev)), minor(BigInt(dev))]).toEqual([ma, mi]);
    }
  });
});

describe('mknod', () => {
  it('makes an overlay whiteout: a character device 0:0', () => {
    const path = join(dir, 'whiteout');
    mknod(path, constants.S_IFCHR | 0o000, makedev(0, 0));
    const st = lstatSync(path);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(0);
    expect(st.mode & 0o7777).toBe(0);
  });

  it('makes a block device whose rdev the kernel reports as makedev encodes it', () => {
    const path = join(dir, 'blk');
    mknod(path, constants.S_IFBLK | 0o600, makedev(259, 70000));
    const st = lstatSync(path);
    expect(st.isBlockDevice()).toBe(true);
    expect(major(st.rdev)).toBe(259);
    expect(minor(st.rdev)).toBe(70000);
  });

  it('makes a fifo', () => {
    const path = join(dir, 'fifo');
    mknod(path, constants.S_IFIFO | 0o640);
    const st = lstatSync(path);
    expect(st.isFIFO()).toBe(true);
    expect(st.mode & 0o777).toBe(0o640 & ~process.umask());
  });

  it('works through the __xmknod entry point older glibc has', (ctx) => {
    const legacy = libc().legacyMknod;
    if (!legacy) ctx.skip();
    else {
      const path = join(dir, 'legacy');
      expect(legacy(path, constants.S_IFCHR | 0o600, BigInt(makedev(1, 3)))).toBe(0);
      expect(lstatSync(path).rdev).toBe(makedev(1, 3));
    }
  });

  it('fails with SysError EEXIST and ENOENT', () => {
    const path = join(dir, 'fifo');
    mknod(path, constants.S_IFIFO | 0o600);
    expect(() => mknod(path, constants.S_IFIFO | 0o600)).toThrow(
      expect.objectContaining({ code: 'EEXIST', syscall: 'mknod', path }),
    );
    const missing = join(dir, 'no', 'such');
    let caught: unknown;
    try {
      mknod(missing, constants.S_IFIFO | 0o600);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toMatchObject({ code: 'ENOENT', errno: 2, path: missing });
  });
});
