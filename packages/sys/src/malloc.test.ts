import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { mallocTrim, setMallocArenaMax } from './malloc.js';

describe('malloc (glibc)', () => {
  it('malloc_trim runs after the C heap was used and freed', () => {
    let chunks: Buffer[] = Array.from({ length: 64 }, () => Buffer.allocUnsafeSlow(256 << 10));
    expect(chunks).toHaveLength(64);
    chunks = [];
    expect(mallocTrim()).toBe(true);
  });

  it('caps the number of arenas, and refuses a nonsense value', () => {
    expect(setMallocArenaMax(4)).toBe(true);
    expect(setMallocArenaMax(0)).toBe(false);
    expect(setMallocArenaMax(1.5)).toBe(false);
  });
});
