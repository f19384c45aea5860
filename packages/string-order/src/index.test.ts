import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareUtf8 } from './index.js';

const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

describe('compareUtf8', () => {
  it('sorts as the UTF-8 bytes sort, also past U+FFFF where UTF-16 order differs', () => {
    const keys = ['a', 'ab', '', '～', '😀', '\uffff', '\ue000', '\ud7ff', 'é', 'z', '𝄞x', '𝄞', 'a/b', 'a.b', 'A', 'a0', '\u00ff', '\u0100'];
    expect([...keys].sort(compareUtf8)).toEqual([...keys].sort(byBytes));
    for (const x of keys) for (const y of keys) expect(Math.sign(compareUtf8(x, y))).toBe(Math.sign(byBytes(x, y)));
    expect(['😀', '～', 'a'].sort(compareUtf8)).toEqual(['a', '～', '😀']);
    // the default sort (UTF-16 order) puts the emoji first: the case this exists for
    expect(['～', '😀'].sort()).toEqual(['😀', '～']);
  });

  it('gives the sign of Buffer.compare for any two well-formed strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(byBytes(a, b)));
        expect(Math.sign(compareUtf8(b, a))).toBe(Math.sign(byBytes(b, a)));
      }),
      { numRuns: 2000 },
    );
  });

  it('is 0 only for equal strings, and a prefix sorts first', () => {
    expect(compareUtf8('abc', 'abc')).toBe(0);
    expect(compareUtf8('ab', 'abc')).toBeLessThan(0);
    expect(compareUtf8('abc', 'ab')).toBeGreaterThan(0);
    expect(compareUtf8('', '')).toBe(0);
  });
});
