import { describe, expect, it } from 'vitest';
import { Scanner, type TokenKind } from './scanner.js';

type Expected = [kind: TokenKind, pos: number, text?: string, error?: string];

/** Every token of `input` up to and including eof, with the scanner error for illegal ones. */
function tokens(input: string): Expected[] {
  const scanner = new Scanner(input);
  const out: Expected[] = [];
  for (let guard = 0; guard < 100; guard++) {
    const tok = scanner.scan();
    const entry: Expected = [tok.kind, tok.pos];
    if (tok.text !== '') entry[2] = tok.text;
    if (tok.kind === 'illegal') {
      entry[2] = tok.text;
      entry[3] = scanner.error;
    }
    out.push(entry);
    if (tok.kind === 'eof') {
      // Scanning past the end keeps answering eof.
      expect(scanner.scan().kind).toBe('eof');
      return out;
    }
  }
  throw new Error('scanner did not reach eof');
}

describe('Scanner', () => {
  const cases: Array<[name: string, input: string, expected: Expected[]]> = [
    ['a lone field', 'id', [['field', 0, 'id'], ['eof', 2]]],
    [
      'selectors with operators',
      'id==abc,kind!=view',
      [
        ['field', 0, 'id'],
        ['operator', 2, '=='],
        ['value', 4, 'abc'],
        ['separator', 7, ','],
        ['field', 8, 'kind'],
        ['operator', 12, '!='],
        ['value', 14, 'view'],
        ['eof', 18],
      ],
    ],
    [
      'dotted field paths and a bad single = operator',
      'labels.env=prod,runtime.name~=runc',
      [
        ['field', 0, 'labels'],
        ['separator', 6, '.'],
        ['field', 7, 'env'],
        ['operator', 10, '='],
        ['value', 11, 'prod'],
        ['separator', 15, ','],
        ['field', 16, 'runtime'],
        ['separator', 23, '.'],
        ['field', 24, 'name'],
        ['operator', 28, '~='],
        ['value', 30, 'runc'],
        ['eof', 34],
      ],
    ],
    [
      'a bare regexp value keeps brackets and backslashes',
      'name~=[xyz]\\+,a=b',
      [
        ['field', 0, 'name'],
        ['operator', 4, '~='],
        ['value', 6, '[xyz]\\+'],
        ['separator', 13, ','],
        ['field', 14, 'a'],
        ['operator', 15, '='],
        ['value', 16, 'b'],
        ['eof', 17],
      ],
    ],
    [
      'a slash-quoted regexp may contain a comma',
      'name~=/[xyz]{1,3}/,a=b',
      [
        ['field', 0, 'name'],
        ['operator', 4, '~='],
        ['quoted', 6, '/[xyz]{1,3}/'],
        ['separator', 18, ','],
        ['field', 19, 'a'],
        ['operator', 20, '='],
        ['value', 21, 'b'],
        ['eof', 22],
      ],
    ],
    [
      'non-ASCII values (positions count UTF-16 units)',
      'name~=牛,labels.moo=true',
      [
        ['field', 0, 'name'],
        ['operator', 4, '~='],
        ['value', 6, '牛'],
        ['separator', 7, ','],
        ['field', 8, 'labels'],
        ['separator', 14, '.'],
        ['field', 15, 'moo'],
        ['operator', 18, '='],
        ['value', 19, 'true'],
        ['eof', 23],
      ],
    ],
    [
      'pipe quotes and an astral character',
      'n~=|🐄|,x',
      [
        ['field', 0, 'n'],
        ['operator', 1, '~='],
        ['quoted', 3, '|🐄|'],
        ['separator', 7, ','],
        ['field', 8, 'x'],
        ['eof', 9],
      ],
    ],
    [
      'escapes stay inside the quoted token',
      'name~="tab\\there\\n"',
      [['field', 0, 'name'], ['operator', 4, '~='], ['quoted', 6, '"tab\\there\\n"'], ['eof', 19]],
    ],
    [
      'a NUL character is illegal and scanning goes on after it',
      'ab\u0000cd',
      [['field', 0, 'ab'], ['illegal', 2, '', 'unexpected null'], ['field', 3, 'cd'], ['eof', 5]],
    ],
    [
      'U+FFFD (what invalid UTF-8 decodes to) is a rune error',
      'a\ufffd',
      [['field', 0, 'a'], ['illegal', 1, '', 'rune error'], ['eof', 2]],
    ],
    [
      'spaces between tokens are skipped',
      'kind = active    ',
      [['field', 0, 'kind'], ['operator', 5, '='], ['value', 7, 'active'], ['eof', 17]],
    ],
    [
      'a value may hold dots, dashes and underscores',
      'target.digest==sha256:ab.c-d_e',
      [
        ['field', 0, 'target'],
        ['separator', 6, '.'],
        ['field', 7, 'digest'],
        ['operator', 13, '=='],
        ['value', 15, 'sha256:ab.c-d_e'],
        ['eof', 30],
      ],
    ],
    ['input cut after the operator', 'parent=', [['field', 0, 'parent'], ['operator', 6, '='], ['eof', 7]]],
    [
      'only the first word after an operator is a value',
      'name=one two',
      [['field', 0, 'name'], ['operator', 4, '='], ['value', 5, 'one'], ['field', 9, 'two'], ['eof', 12]],
    ],
    [
      'a quoted first field',
      '"a b".c==d',
      [
        ['quoted', 0, '"a b"'],
        ['separator', 5, '.'],
        ['field', 6, 'c'],
        ['operator', 7, '=='],
        ['value', 9, 'd'],
        ['eof', 10],
      ],
    ],
    [
      'a missing value leaves the separator as the next token',
      'image==,id!=x',
      [
        ['field', 0, 'image'],
        ['operator', 5, '=='],
        ['separator', 7, ','],
        ['field', 8, 'id'],
        ['operator', 10, '!='],
        ['value', 12, 'x'],
        ['eof', 13],
      ],
    ],
    [
      'an escaped slash inside a slash-quoted regexp',
      'ref~=/a\\/b/,id',
      [['field', 0, 'ref'], ['operator', 3, '~='], ['quoted', 5, '/a\\/b/'], ['separator', 11, ','], ['field', 12, 'id'], ['eof', 14]],
    ],
    [
      'a slash in a field path opens a quote that never ends',
      'labels.example.com/key==v',
      [
        ['field', 0, 'labels'],
        ['separator', 6, '.'],
        ['field', 7, 'example'],
        ['separator', 14, '.'],
        ['field', 15, 'com'],
        ['illegal', 18, '/key==v', 'quoted literal not terminated'],
        ['eof', 25],
      ],
    ],
    [
      'a newline ends a quoted literal as an error',
      'labels."a\nb"==c',
      [
        ['field', 0, 'labels'],
        ['separator', 6, '.'],
        ['illegal', 7, '"a\n', 'quoted literal not terminated'],
        ['field', 10, 'b'],
        // The first error is kept: this token fails for the same reason.
        ['illegal', 11, '"==c', 'quoted literal not terminated'],
        ['eof', 15],
      ],
    ],
    [
      'an unknown escape',
      'labels."\\q"',
      [['field', 0, 'labels'], ['separator', 6, '.'], ['illegal', 7, '"\\q"', 'illegal escape sequence'], ['eof', 11]],
    ],
    [
      'a bad hex escape',
      'labels."\\x4g"',
      [['field', 0, 'labels'], ['separator', 6, '.'], ['illegal', 7, '"\\x4g"', 'illegal numeric escape sequence'], ['eof', 13]],
    ],
    ['other characters come back one at a time', '?id', [['other', 0, '?'], ['field', 1, 'id'], ['eof', 3]]],
    ['empty input', '', [['eof', 0]]],
  ];

  for (const [name, input, expected] of cases) {
    it(name, () => {
      expect(tokens(input)).toEqual(expected);
    });
  }
});
