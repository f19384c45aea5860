import { writeFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { XATTR_CREATE, XATTR_REPLACE, lgetxattr, llistxattr, lremovexattr, lsetxattr } from './xattr.js';

// On the temp dir's own file system (ext4 here), which takes user.* xattrs on files.
let dir: string;
let file: string;
let link: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-xattr-'));
  file = join(dir, 'file');
  link = join(dir, 'link');
  await writeFile(file, 'x');
  await symlink('file', link);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('xattrs on a file', () => {
  it('sets, gets, lists and removes user.* and trusted.* attributes', () => {
    lsetxattr(file, 'user.one', 'first');
    lsetxattr(file, 'trusted.overlay.opaque', Buffer.from('y'));
    lsetxattr(file, 'user.empty', Buffer.alloc(0));
    expect(lgetxattr(file, 'user.one')?.toString()).toBe('first');
    expect(lgetxattr(file, 'trusted.overlay.opaque')).toEqual(Buffer.from('y'));
    expect(lgetxattr(file, 'user.empty')).toEqual(Buffer.alloc(0));
    expect(llistxattr(file).sort()).toEqual(['trusted.overlay.opaque', 'user.empty', 'user.one']);

    lremovexattr(file, 'user.one');
    expect(lgetxattr(file, 'user.one')).toBeNull();
    expect(llistxattr(file).sort()).toEqual(['trusted.overlay.opaque', 'user.empty']);
    expect(thrown(() => lremovexattr(file, 'user.one'))).toMatchObject({ code: 'ENODATA', path: file });
  });

  it('returns null for an attribute that is not set and [] when none are', () => {
    expect(lgetxattr(file, 'user.absent')).toBeNull();
    expect(llistxattr(file)).toEqual([]);
  });

  it('reads values and name lists larger than the first buffer', () => {
    const big = Buffer.alloc(3000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    lsetxattr(file, 'user.big', big);
    expect(lgetxattr(file, 'user.big')).toEqual(big);

    // ext4 keeps all of a file's attributes in one block: list many names on another file.
    const other = join(dir, 'other');
    writeFileSync(other, '');
    const names = Array.from({ length: 12 }, (_, i) => `user.a-rather-long-attribute-name-${i}`);
    for (const name of names) lsetxattr(other, name, '1');
    expect(names.join('\0').length).toBeGreaterThan(256);
    expect(llistxattr(other).sort()).toEqual(names.sort());
  });

  it('honours XATTR_CREATE and XATTR_REPLACE', () => {
    expect(thrown(() => lsetxattr(file, 'user.k', 'v', XATTR_REPLACE))).toMatchObject({ code: 'ENODATA' });
    lsetxattr(file, 'user.k', 'v', XATTR_CREATE);
    expect(thrown(() => lsetxattr(file, 'user.k', 'w', XATTR_CREATE))).toMatchObject({
      code: 'EEXIST',
      syscall: 'lsetxattr',
    });
    lsetxattr(file, 'user.k', 'w', XATTR_REPLACE);
    expect(lgetxattr(file, 'user.k')?.toString()).toBe('w');
  });
});

describe('xattrs on a symlink', () => {
  it('acts on the link itself, not its target (trusted.*)', () => {
    lsetxattr(link, 'trusted.link', 'on link');
    expect(lgetxattr(link, 'trusted.link')?.toString()).toBe('on link');
    expect(lgetxattr(file, 'trusted.link')).toBeNull();
    expect(llistxattr(link)).toEqual(['trusted.link']);
    expect(llistxattr(file)).toEqual([]);
    lremovexattr(link, 'trusted.link');
    expect(llistxattr(link)).toEqual([]);
  });

  it('maps the kernel refusing user.* on symlinks to SysError EPERM', () => {
    const err = thrown(() => lsetxattr(link, 'user.x', 'v'));
    expect(err).toBeInstanceOf(SysError);
    expect(err).toMatchObject({ code: 'EPERM', errno: 1, syscall: 'lsetxattr', path: link });
    expect((err as Error).message).toBe(`EPERM: operation not permitted, lsetxattr '${link}' (name 'user.x')`);
    // Reading is not refused: a symlink simply has no user.* attributes.
    expect(lgetxattr(link, 'user.x')).toBeNull();
  });
});

describe('xattr errors', () => {
  it('are SysError ENOENT with the path for a missing file', () => {
    const missing = join(dir, 'missing');
    for (const fn of [
      () => lgetxattr(missing, 'user.x'),
      () => llistxattr(missing),
      () => lsetxattr(missing, 'user.x', 'v'),
      () => lremovexattr(missing, 'user.x'),
    ]) {
      const err = thrown(fn);
      expect(err).toBeInstanceOf(SysError);
      expect(err).toMatchObject({ code: 'ENOENT', errno: 2, path: missing });
    }
  });
});
