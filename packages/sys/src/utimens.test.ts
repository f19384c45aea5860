import { lstatSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { UTIME_OMIT, utimensat, utimensatNoFollow } from './utimens.js';

let dir: string;
let file: string;
let link: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-utimens-'));
  file = join(dir, 'file');
  link = join(dir, 'link');
  await writeFile(file, 'x');
  await symlink('file', link);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('utimensatNoFollow', () => {
  it('keeps nanoseconds (timespec pairs and bigint nanoseconds)', () => {
    utimensatNoFollow(file, { sec: 1234567890, nsec: 123456789 }, { sec: 1700000000n, nsec: 987654321n });
    let st = lstatSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1234567890123456789n);
    expect(st.mtimeNs).toBe(1700000000987654321n);

    utimensatNoFollow(file, 1600000000000000001n, 1600000000999999999n);
    st = lstatSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1600000000000000001n);
    expect(st.mtimeNs).toBe(1600000000999999999n);
  });

  it('handles times before the epoch', () => {
    utimensatNoFollow(file, -1500000000n, -1n);
    const st = lstatSync(file, { bigint: true });
    expect(st.atimeNs).toBe(-1500000000n);
    expect(st.mtimeNs).toBe(-1n);
  });

  it('sets the symlink’s own times and leaves its target alone', () => {
    const target = lstatSync(file, { bigint: true });
    utimensatNoFollow(link, { sec: 1000000000, nsec: 1 }, { sec: 1000000001, nsec: 2 });
    const st = lstatSync(link, { bigint: true });
    expect(st.isSymbolicLink()).toBe(true);
    expect(st.atimeNs).toBe(1000000000000000001n);
    expect(st.mtimeNs).toBe(1000000001000000002n);
    expect(lstatSync(file, { bigint: true }).mtimeNs).toBe(target.mtimeNs);
  });

  it('leaves a time unchanged with UTIME_OMIT', () => {
    utimensatNoFollow(file, 1000n, 2000n);
    utimensatNoFollow(file, { sec: 0, nsec: UTIME_OMIT }, 3000n);
    const st = lstatSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1000n);
    expect(st.mtimeNs).toBe(3000n);
  });

  it('fails with SysError ENOENT with the path; EINVAL for a bad nsec', () => {
    const missing = join(dir, 'missing');
    let caught: unknown;
    try {
      utimensatNoFollow(missing, 0n, 0n);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toMatchObject({ code: 'ENOENT', syscall: 'utimensat', path: missing });
    expect(() => utimensat(file, { sec: 0, nsec: 2_000_000_000 }, 0n)).toThrow(
      expect.objectContaining({ code: 'EINVAL' }),
    );
  });
});
