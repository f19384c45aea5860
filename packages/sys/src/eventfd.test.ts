import { writeSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { closeEventfd, eventfd, readEventfd } from './eventfd.js';

describe('eventfd', () => {
  it('reads 0 without blocking when nothing was signalled, the count since the last read otherwise', () => {
    const fd = eventfd();
    try {
      expect(readEventfd(fd)).toBe(0n);
      const one = Buffer.alloc(8);
      one.writeBigUInt64LE(1n);
      writeSync(fd, one);
      writeSync(fd, one);
      expect(readEventfd(fd)).toBe(2n);
      expect(readEventfd(fd)).toBe(0n);
    } finally {
      closeEventfd(fd);
    }
  });

  it('throws a SysError for a descriptor that is not open', () => {
    const fd = eventfd();
    closeEventfd(fd);
    expect(() => readEventfd(fd)).toThrow(/EBADF/);
  });
});
