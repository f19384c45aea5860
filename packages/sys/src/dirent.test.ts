import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DT_DIR, DT_LNK, DT_REG, type RawDirent, readDirents } from './dirent.js';
import { MNT_DETACH, mount, umount2 } from './mount.js';

let dir: string;
let mnt: string | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-dirent-'));
  mnt = undefined;
});
afterEach(async () => {
  if (mnt) umount2(mnt, MNT_DETACH);
  await rm(dir, { recursive: true, force: true });
});

async function populate(d: string): Promise<void> {
  await writeFile(join(d, 'file'), 'x');
  await mkdir(join(d, 'sub'));
  await symlink('file', join(d, 'link'));
}

const byName = (entries: RawDirent[]) => Object.fromEntries(entries.map((e) => [e.name, e.type]));

describe('readDirents', () => {
  it.each(['tmpfs', 'the temp dir'])('reads names and stored d_types on %s', async (where) => {
    let d = dir;
    if (where === 'tmpfs') {
      mnt = join(dir, 'mnt');
      await mkdir(mnt);
      mount('tmpfs', mnt, 'tmpfs', 0, 'size=1m');
      d = mnt;
    }
    await populate(d);
    const entries: RawDirent[] = [];
    const visited = readDirents(d, (e) => {
      entries.push(e);
      return false;
    });
    expect(visited).toBe(5);
    expect(byName(entries)).toEqual({ '.': DT_DIR, '..': DT_DIR, file: DT_REG, sub: DT_DIR, link: DT_LNK });
    expect(entries.every((e) => e.ino > 0n)).toBe(true);
  });

  it('stops when the visitor says so', async () => {
    await populate(dir);
    expect(readDirents(dir, () => true)).toBe(1);
  });

  it('reads a directory larger than one getdents64 buffer', async () => {
    const names = Array.from({ length: 1500 }, (_, i) => `entry-with-a-longish-name-${i}`);
    await Promise.all(names.map((n) => writeFile(join(dir, n), '')));
    const seen = new Set<string>();
    readDirents(dir, (e) => {
      seen.add(e.name);
      return false;
    });
    expect(seen.size).toBe(1502);
    for (const n of names) expect(seen.has(n)).toBe(true);
  });

  it('fails as Node does for a missing path or a file', async () => {
    await writeFile(join(dir, 'f'), '');
    expect(() => readDirents(join(dir, 'missing'), () => false)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(() => readDirents(join(dir, 'f'), () => false)).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });
});
