import { ContainerdError, GrpcCode, isInvalidArgument } from '@containerd-ts/errdefs';
import { describe, expect, it } from 'vitest';
import { type Adaptor, objectAdaptor } from './adaptor.js';
import { always, formatSelector, type Operator } from './filter.js';
import { FilterParseError, parse, parseAll } from './parser.js';

// A corpus in the spirit of containerd's own filter tests: names, an optional second field and
// labels whose keys contain spaces, dots, backslashes and quotes.
interface Entry {
  name: string;
  other?: string;
  labels?: Record<string, string>;
}
const corpus: Entry[] = [
  /* 0 */ { name: 'foo', labels: { foo: 'true' } },
  /* 1 */ { name: 'bar' },
  /* 2 */ { name: 'foo', labels: { foo: 'present', 'more complex label': 'present' } },
  /* 3 */ { name: 'bar', labels: { bar: 'true' } },
  /* 4 */ { name: 'fooer', labels: { 'more complex label with \\ and "': 'present' } },
  /* 5 */ { name: 'fooer', labels: { 'more complex label with \\ and ".post': 'present' } },
  /* 6 */ { name: 'baz', other: 'too complex, yo' },
  /* 7 */ { name: 'bazo', other: 'abc' },
  /* 8 */ { name: 'compound', labels: { foo: 'omg_asdf.asdf-qwer', 'a.b': 'dotted', 'sp ace': 'x' } },
  /* 9 */ { name: '', other: 'multi\nline' },
];
const all = corpus.map((_, i) => i);
const adaptEntry = (e: Entry): Adaptor =>
  objectAdaptor({ name: e.name, other: e.other }, { maps: { labels: e.labels } });

/** Indices of the corpus entries the filter(s) match. */
function matching(...filters: string[]): number[] {
  const filter = filters.length === 1 ? parse(filters[0] ?? '') : parseAll(filters);
  return corpus.flatMap((e, i) => (filter.match(adaptEntry(e)) ? [i] : []));
}

function parseError(filter: string): FilterParseError {
  try {
    parse(filter);
  } catch (err) {
    if (err instanceof FilterParseError) return err;
    throw err;
  }
  throw new Error(`${JSON.stringify(filter)} parsed without error`);
}

describe('matching', () => {
  const cases: Array<[name: string, filter: string, expected: number[]]> = [
    ['the empty filter matches everything', '', all],
    ['a bare field tests presence (empty counts as absent)', 'name', all.filter((i) => i !== 9)],
    ['a label is present only where it is set', 'labels.foo', [0, 2, 8]],
    ['comma means AND', 'labels.foo,name', [0, 2, 8]],
    ['label equality', 'labels.foo==true', [0]],
    ['an unquoted value may hold dots, dashes and underscores', 'labels.foo==omg_asdf.asdf-qwer', [8]],
    ['field equality', 'name==bar', [1, 3]],
    ['!= also matches where the field is absent', 'name!=bar', [0, 2, 4, 5, 6, 7, 8, 9]],
    ['!= on a label nobody has matches everything', 'labels.nobody!=x', all],
    ['!= "" on an absent field matches nothing (absent reads as "")', 'labels.nobody!=""', []],
    ['== "" never matches an absent field', 'labels.nobody==""', []],
    ['equality and presence together', 'name==bar,labels.bar', [3]],
    ['a double-quoted value may hold a comma and spaces', 'other=="too complex, yo"', [6]],
    ['a bare regexp', 'other~=[abc]+,name!=foo', [6, 7]],
    ['a slash-quoted regexp', 'other~=/[abc]+/,name!=foo', [6, 7]],
    ['a comma inside a quoted regexp is not a separator', 'other~=/[abc]{1,2}/,name!=foo', [6, 7]],
    ['a well-formed regexp that matches nothing', 'other~=/[abc]{0,1}"\\//,name!=foo', []],
    ['a regexp against an absent field sees ""', 'labels.nobody~=^$', all],
    ['a pipe-quoted regexp with an escaped pipe', 'name~=|^(foo\\|bar)$|', [0, 1, 2, 3]],
    ['a leading (?i) makes the regexp case-insensitive', 'name~=(?i)^FOO$', [0, 2]],
    ['with (?m) anchors see line breaks', 'other~=(?m)^line$', [9]],
    ['without (?m) they do not', 'other~=^line$', []],
    ['. does not match a newline unless (?s)', 'other~=multi.line', []],
    ['(?s) lets . match a newline', 'other~=(?s)multi.line', [9]],
    ['two conditions, one failing', 'name==bar,labels.bar==wrong', []],
    ['a quoted label key with spaces', 'name==foo,labels."more complex label"', [2]],
    ['a quoted label key with escaped backslash and quote', 'labels."more complex label with \\\\ and \\""==present', [4]],
    [
      'a quoted key part followed by a bare one joins with a dot',
      'labels."more complex label with \\\\ and \\"".post==present',
      [5],
    ],
    ['an unquoted dotted label key', 'labels.a.b==dotted', [8]],
    ['a quoted dotted label key', 'labels."a.b"==dotted', [8]],
    ['a dotted key in a regexp selector', 'labels."a.b"~=^dot', [8]],
    ['a quoted key with a space, presence only', 'labels."sp ace"', [8]],
    ['escapes in a quoted key decode before lookup', 'labels."\\x61\\u002eb"==dotted', [8]],
    ['octal escapes in a quoted value', 'name=="\\146oo"', [0, 2]],
    ['spaces around operators and before fields are allowed', ' name == foo, labels.foo', [0, 2]],
    ['tabs count as spaces', '\tname\t==\tbar', [1, 3]],
    ['field names are case-sensitive', 'NAME==foo', []],
    ['single quotes are ordinary value characters', "name=='foo'", []],
    ['a value may contain = and !', 'name==a=b!', []],
  ];
  for (const [name, filter, expected] of cases) {
    it(`${name}: ${filter}`, () => {
      expect(matching(filter)).toEqual(expected);
    });
  }
});

describe('parseAll', () => {
  it('ORs several filters', () => {
    expect(matching('name==foo', 'name==bar')).toEqual([0, 1, 2, 3]);
  });
  it('ANDs within each filter and ORs across them', () => {
    expect(matching('name==foo,labels.foo==true', 'name==baz', 'labels."sp ace"')).toEqual([0, 6, 8]);
  });
  it('matches everything when given no filters, or an empty one among others', () => {
    expect(parseAll([])).toBe(always);
    expect(matching('name==nobody', '')).toEqual(all);
  });
  it('fails on the first malformed filter even if others are fine', () => {
    expect(() => parseAll(['name==foo', 'id==', 'name=='])).toThrowError(
      'filters: parse error: [id==]: expected value or quoted: invalid argument',
    );
  });
});

describe('errors', () => {
  // Messages as Debian's containerd 1.6.20 prints them for the same input (checked with `ctr leases ls`).
  const cases: Array<[filter: string, position: number, message: string]> = [
    ['id==', 4, '[id==]: expected value or quoted'],
    ['==x', 0, '[ >|=|< =x]: expected field or quoted'],
    ['labels.|foo|==omg', 7, '[labels. >|||< foo|==omg]: invalid quote encountered'],
    ['id==/x/', 4, '[id== >|/|< x/]: invalid quote encountered'],
    ['labels.?"x"==y', 7, '[labels. >|?|< "x"==y]: expected field or quoted'],
    ['name==foo,', 10, '[name==foo,]: expected field or quoted'],
    ['labels.', 7, '[labels.]: expected field or quoted'],
    ['a..b', 2, '[a. >|.|< b]: expected field or quoted'],
    ['id==x,,y', 6, '[id==x, >|,|< y]: expected field or quoted'],
    ['image~=,id?=?fbaq', 7, '[image~= >|,|< id?=?fbaq]: expected value or quoted'],
    ['labels.zzz~=.*', 12, '[labels.zzz~= >|.|< *]: expected value or quoted'],
    ['labels.ns/key==value', 9, '[labels.ns >|/|< key==value]: quoted literal not terminated'],
    ['labels.key==/value', 12, '[labels.key== >|/|< value]: quoted literal not terminated'],
    ['labels."unterminated', 7, '[labels. >|"|< unterminated]: quoted literal not terminated'],
    ['name=="unterminated', 6, '[name== >|"|< unterminated]: quoted literal not terminated'],
    ['name=="a\nb"', 6, '[name== >|"|< a\nb"]: quoted literal not terminated'],
    ['id~=/\\d/', 4, '[id~= >|/|< \\d/]: illegal escape sequence'],
    ['labels."\\xaz"', 7, '[labels. >|"|< \\xaz"]: illegal numeric escape sequence'],
    ['id=="\\400"', 4, '[id== >|"|< \\400"]: unquoting failed: quote syntax error'],
    ['id=="\\U00110000"', 4, '[id== >|"|< \\U00110000"]: unquoting failed: quote syntax error'],
    ['id==x ', 5, '[id==x >| |< ]: unexpected input:  '],
    ['id==x ,y', 5, '[id==x >| |< ,y]: unexpected input:  '],
    ['id=="x"y', 7, '[id=="x" >|y|< ]: unexpected input: y'],
    ['id ,type', 3, '[id  >|,|< type]: expected an operator ("=="|"!="|"~=")'],
    ['labels."x"y==1', 10, '[labels."x" >|y|< ==1]: expected an operator ("=="|"!="|"~=")'],
    ['id = x', 3, '[id  >|=|<  x]: unsupported operator "="'],
    ['id===x', 2, '[id >|=|< ==x]: unsupported operator "==="'],
    ['id==!x', 2, '[id >|=|< =!x]: unsupported operator "==!"'],
    ['id!', 2, '[id >|!|< ]: unsupported operator "!"'],
    ['  ', 2, '[  ]: expected field or quoted'],
    ['牛==x', 0, '[ >|牛|< ==x]: expected field or quoted'],
    ['id\u0000', 2, '[id >|\u0000|< ]: unexpected null'],
    // containerd only notices a bad pattern when matching (and then matches nothing); here it is
    // a parse error at the value.
    ['labels."a.b"~=[', 14, '[labels."a.b"~= >|[|< ]: error parsing regexp: missing closing ]: `[`'],
    ['id~=(a', 4, '[id~= >|(|< a]: error parsing regexp: missing closing ): `(a`'],
    ['id~=(x)\\1', 4, '[id~= >|(|< x)\\1]: error parsing regexp: invalid escape sequence: `\\1`'],
    ['id~=(?=x)', 4, '[id~= >|(|< ?=x)]: error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
  ];
  for (const [filter, position, message] of cases) {
    it(`rejects ${JSON.stringify(filter)}`, () => {
      const err = parseError(filter);
      expect(err.message).toBe(`filters: parse error: ${message}: invalid argument`);
      expect(err.position).toBe(position);
      expect(err.input).toBe(filter);
    });
  }

  it('are invalid-argument ContainerdErrors', () => {
    const err = parseError('id==');
    expect(err).toBeInstanceOf(ContainerdError);
    expect(isInvalidArgument(err)).toBe(true);
    expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(err.reason).toBe('expected value or quoted');
  });

  it('report a syntax error later in the string before a bad regexp earlier in it', () => {
    expect(parseError('id~=[,name==').reason).toBe('expected value or quoted');
    expect(parseError('id~=too\\ x').message).toBe(
      'filters: parse error: [id~=too\\ >| |< x]: unexpected input:  : invalid argument',
    );
  });
});

describe('regexp selectors from a client', () => {
  it('answer promptly for a catastrophic pattern against a long non-matching value', () => {
    const filter = parse('name~="(a+)+$",labels.x~=/^(a|aa)+$/');
    const entry = objectAdaptor({ name: `${'a'.repeat(50_000)}!` }, { maps: { labels: { x: `${'a'.repeat(50_000)}!` } } });
    const started = performance.now();
    expect(filter.match(entry)).toBe(false);
    // Linear-time matching takes milliseconds; a backtracking engine would never finish.
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(filter.match(objectAdaptor({ name: 'xaaa' }, { maps: { labels: { x: 'aaaa' } } }))).toBe(true);
  });

  it('refuse look-ahead and look-behind, which RE2 does not have, as invalid arguments', () => {
    for (const [filter, message] of [
      ['name~=foo(?=bar)', '[name~= >|f|< oo(?=bar)]: error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
      ['name~=(?!x)y', '[name~= >|(|< ?!x)y]: error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
    ] as const) {
      const err = parseError(filter);
      expect(err.code).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err.message).toBe(`filters: parse error: ${message}: invalid argument`);
    }
  });
});

describe('formatSelector', () => {
  const specs: Array<[path: string[], op: Operator, value: string | undefined, text: string]> = [
    [['id'], 'present', undefined, 'id'],
    [['labels', 'containerd.io/gc.root'], 'present', undefined, 'labels."containerd.io/gc.root"'],
    [['name'], '==', 'docker.io/library/alpine:3.19', 'name==docker.io/library/alpine:3.19'],
    [['labels', 'a b'], '!=', 'x, y', 'labels."a b"!="x, y"'],
    [['other'], '~=', '^a\\d+$', 'other~=^a\\d+$'],
    [['other'], '~=', '/x/', 'other~="/x/"'],
    [['other'], '==', '', 'other==""'],
    [['other'], '==', '.leading-dot', 'other==".leading-dot"'],
    [['other'], '==', 'say "hi"\n\t\u0000\u0085\ufffd\u00a0', 'other=="say \\"hi\\"\\n\\t\\x00\\u0085\\ufffd\u00a0"'],
  ];
  for (const [fieldpath, operator, value, text] of specs) {
    it(`writes ${text} and reads it back`, () => {
      expect(formatSelector({ fieldpath, operator, value })).toBe(text);
      const parsed = parse(text).toString();
      expect(parsed).toBe(text);
      const probe = objectAdaptor({}, { maps: {} });
      // The parsed selector tests the same field path with the same value.
      const seen: (readonly string[])[] = [];
      parse(text).match({
        field: (p) => {
          seen.push(p);
          return probe.field(p);
        },
      });
      expect(seen).toEqual([fieldpath]);
      if (value !== undefined && operator === '==') {
        expect(parse(text).match({ field: () => value })).toBe(true);
      }
    });
  }
});
