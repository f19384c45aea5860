import { describe, expect, it } from 'vitest';
import { formatField, formatValue, QuoteSyntaxError, quote, unquote } from './quote.js';
import { Scanner } from './scanner.js';

describe('unquote', () => {
  const cases: Array<[token: string, text: string]> = [
    ['"plain"', 'plain'],
    ['""', ''],
    ['"a\\"b"', 'a"b'],
    ['"back\\\\slash"', 'back\\slash'],
    ['"\\a\\b\\f\\n\\r\\t\\v"', '\u0007\b\f\n\r\t\v'],
    ['"\\x41\\102\\u00e9\\U0001F404"', 'ABé🐄'],
    ['"\\xc3\\xa9"', 'é'], // \x escapes are bytes, read back as UTF-8
    ['"\\xff"', '\ufffd'], // a byte that is not UTF-8 on its own
    ['"\\ud800"', '\ufffd'], // a surrogate is not a character
    ['/a\\/b/', 'a/b'],
    ['|a\\|b|', 'a|b'],
    ['/a|b"c/', 'a|b"c'],
    ['"牛"', '牛'],
  ];
  for (const [token, text] of cases) {
    it(`${token} -> ${JSON.stringify(text)}`, () => {
      expect(unquote(token)).toBe(text);
    });
  }

  const bad = ['"', '"abc', '\'a\'', '"a\nb"', '"\\400"', '"\\U00110000"', '"\\/"', '/\\"/', '"\\q"', '"\\x4"', '"a"b"'];
  for (const token of bad) {
    it(`rejects ${JSON.stringify(token)}`, () => {
      expect(() => unquote(token)).toThrowError(QuoteSyntaxError);
    });
  }
});

describe('quote and format', () => {
  it('formats fields bare only when they are plain identifiers', () => {
    expect(formatField('runtime')).toBe('runtime');
    expect(formatField('9_a')).toBe('9_a');
    expect(formatField('a.b')).toBe('"a.b"');
    expect(formatField('')).toBe('""');
    expect(formatField('naïve')).toBe('"naïve"');
  });

  it('formats values bare only when the scanner reads them as one value token', () => {
    expect(formatValue('sha256:abc.def-1')).toBe('sha256:abc.def-1');
    expect(formatValue('a/b|c"d')).toBe('a/b|c"d');
    for (const v of ['', 'a b', 'a,b', '.a', ',a', '=a', '!a', '~a', '/a', '|a', '"a', ' a', 'a\u0000', 'a\ufffd']) {
      expect(formatValue(v)).toBe(quote(v));
    }
  });

  it('round-trips arbitrary strings through quote and the scanner', () => {
    // A deterministic spread of awkward characters: controls, quotes, backslashes, separators,
    // spaces of several kinds, non-ASCII, astral and U+FFFD.
    const alphabet = ['a', 'Z', '0', '_', ' ', '\t', '\n', '\r', '\u0000', '\u0007', '\u007f', '\u0085', '\u00a0',
      '\u200b', '\u2028', '"', "'", '\\', '/', '|', ',', '.', '=', '!', '~', 'é', '牛', '🐄', '\ufffd'];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      let text = '';
      const length = rand(8);
      for (let k = 0; k < length; k++) text += alphabet[rand(alphabet.length)];
      const quoted = quote(text);
      const scanner = new Scanner(quoted);
      const tok = scanner.scan();
      expect(tok.kind, `${JSON.stringify(text)} quoted as ${quoted}: ${scanner.error}`).toBe('quoted');
      expect(tok.text).toBe(quoted);
      expect(unquote(tok.text)).toBe(text);
    }
  });
});
