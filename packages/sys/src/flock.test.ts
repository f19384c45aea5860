// flock through koffi: a second open file description cannot take the lock while the
// first holds it, and can once it is released or closed.
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tryLockExclusive, unlock } from './flock.js';

describe('flock', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sys-flock-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('excludes a second holder until the first unlocks or closes', () => {
    const file = join(dir, 'lock');
    const a = openSync(file, 'w');
    const b = openSync(file, 'r');
    try {
      expect(tryLockExclusive(a)).toBe(true);
      expect(tryLockExclusive(b)).toBe(false);
      unlock(a);
      expect(tryLockExclusive(b)).toBe(true);
      expect(tryLockExclusive(a)).toBe(false);
      closeSync(b);
      expect(tryLockExclusive(a)).toBe(true);
    } finally {
      closeSync(a);
    }
  });

  it('throws a SysError for a bad descriptor', () => {
    expect(() => tryLockExclusive(987654)).toThrow(/EBADF/);
  });
});
