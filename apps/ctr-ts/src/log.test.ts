import { describe, expect, it } from 'vitest';
import { goQuote } from './log.js';

describe('goQuote (strconv.Quote of bytes, Go 1.19 tables)', () => {
  it('escapes as Go does', () => {
    expect(goQuote(Buffer.from('a"b\\c\n\t\x07\x00\x7f é'))).toBe('"a\\"b\\\\c\\n\\t\\a\\x00\\x7f é"');
  });
  it('writes bytes that are not UTF-8 as \\x, one at a time', () => {
    expect(goQuote(Buffer.from([0xf9, 0x93, 0x87, 0xc3, 0x28, 0xe2, 0x82]))).toBe('"\\xf9\\x93\\x87\\xc3(\\xe2\\x82"');
  });
  it('quotes code points assigned after Unicode 13 (U+061D, U+9FFF) and unassigned ones', () => {
    expect(goQuote(Buffer.from('\u061d\u9fff\u9ffc'))).toBe('"\\u061d\\u9fff\u9ffc"');
    expect(goQuote(Buffer.from('\u{31631}\u{10ffff}'))).toBe('"\\U00031631\\U0010ffff"');
  });
});
