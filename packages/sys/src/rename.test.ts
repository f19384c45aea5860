import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SysError } from './errors.js';
import { RENAME_EXCHANGE, RENAME_NOREPLACE, renameat2 } from './rename.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sys-rename-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('renameat2', () => {
  it('with RENAME_NOREPLACE refuses to replace an existing path (EEXIST) and renames otherwise', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, 'A');
    await writeFile(b, 'B');
    let caught: unknown;
    try {
      renameat2(a, b, RENAME_NOREPLACE);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(SysError);
    expect(caught).toMatchObject({ code: 'EEXIST', syscall: 'renameat2', path: a, dest: b });
    expect((caught as Error).message).toBe(`EEXIST: file exists, renameat2 '${a}' -> '${b}'`);
    expect(await readFile(b, 'utf8')).toBe('B');

    const c = join(dir, 'c');
    renameat2(a, c, RENAME_NOREPLACE);
    expect(await readFile(c, 'utf8')).toBe('A');
  });

  it('with RENAME_EXCHANGE swaps two paths', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, 'A');
    await writeFile(b, 'B');
    renameat2(a, b, RENAME_EXCHANGE);
    expect(await readFile(a, 'utf8')).toBe('B');
    expect(await readFile(b, 'utf8')).toBe('A');
  });

  it('without flags replaces like rename(2)', async () => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    await writeFile(a, 'A');
    await writeFile(b, 'B');
    renameat2(a, b);
    expect(await readFile(b, 'utf8')).toBe('A');
  });

  it('fails with SysError ENOENT for a missing source', () => {
    const missing = join(dir, 'missing');
    expect(() => renameat2(missing, join(dir, 'x'), RENAME_NOREPLACE)).toThrow(
      expect.objectContaining({ code: 'ENOENT', path: missing }),
    );
  });
});
