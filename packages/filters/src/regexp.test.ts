import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compileRegexp, RegexpSyntaxError } from './regexp.js';

describe('compileRegexp (RE2 syntax)', () => {
  // [pattern, subject, matches?] — what Go's regexp.MatchString answers.
  const cases: Array<[pattern: string, subject: string, matches: boolean]> = [
    ['[abc]+', 'xxbxx', true],
    ['^ab$', 'ab', true],
    ['^ab$', 'ab\n', false], // $ is end of text, not "before a final newline"
    ['(?m)^b$', 'a\nb\nc', true],
    ['(?m)^b$', 'a\r\nb\r\nc', false], // only \n ends a line for RE2
    ['a.c', 'a\nc', false],
    ['a.c', 'a\rc', true], // JavaScript's . would refuse \r; RE2's does not
    ['(?s)a.c', 'a\nc', true],
    ['a(?s:.)c', 'a\nc', true],
    ['a(?s:.)c.', 'a\nc\n', false], // the flag ends with its group
    ['(?i)^straße$', 'STRAßE', true],
    ['(?i)abc', 'xAbCx', true],
    ['a(?i)b', 'aB', true],
    ['a(?i)b', 'AB', false],
    ['(?i:a)b', 'Ab', true],
    ['(?i:a)b', 'AB', false],
    ['(?i)a(?-i:b)c', 'AbC', true],
    ['(?i)a(?-i:b)c', 'ABC', false],
    ['(?i:[a-c]x)', 'BX', true],
    ['(?i:[^a-c])', 'B', false],
    ['(?U)a+', 'aaa', true],
    ['\\s', '\u00a0', false], // \s is ASCII whitespace only
    ['\\s', '\t', true],
    ['[^\\S]', ' ', true],
    ['[\\S]', '\u00a0', true],
    ['\\d+', '٣', false], // \d is ASCII digits only
    ['a{', 'a{', true], // a brace that is not a repeat is a literal
    ['a{,2}', 'a{,2}', true],
    ['x}', 'x}', true],
    ['a{2,3}', 'aa', true],
    ['^a{2}$', 'aaa', false],
    ['[]a]', ']', true], // ] first in a class is a literal
    ['[^]a]', ']', false],
    ['[\\d-z]', '-', true], // - after a class escape is a literal
    ['[a-]', '-', true],
    ['[[:alpha:]]+$', 'abc', true],
    ['^[[:digit:][:upper:]]+$', '9Z', true],
    ['^[[:^alpha:]]+$', '123', true],
    ['^[[:^alpha:]]+$', '12a', false],
    ['[[:punct:]]', '~', true],
    ['\\pL', 'é', true],
    ['^\\PL$', '1', true],
    ['\\p{Greek}', 'λ', true],
    ['^\\p{^Greek}$', 'λ', false],
    ['\\p{Lu}', 'a', false],
    ['\\Qa.b\\E', 'a.b', true],
    ['\\Qa.b\\E', 'axb', false],
    ['\\Qa+', 'a+', true],
    ['\\x41\\x{1F404}', 'A🐄', true],
    ['\\101\\0', 'A\u0000', true],
    ['\\-\\/\\"\\ ', '-/" ', true], // any escaped ASCII punctuation is itself
    ['a\\z', 'a', true],
    ['a\\z', 'a\n', false],
    ['\\Ab', 'ab', false],
    ['\\bfoo\\b', 'a foo b', true],
    ['(?P<word>\\w+)-(?<num>\\d+)', 'ab-12', true],
    ['🐄.', '🐄🐄', true], // . takes a whole code point
    ['^.$', '🐄', true],
    ['', 'anything', true],
  ];
  for (const [pattern, subject, matches] of cases) {
    it(`${pattern} ${matches ? 'matches' : 'does not match'} ${JSON.stringify(subject)}`, () => {
      expect(compileRegexp(pattern).test(subject)).toBe(matches);
    });
  }

  const invalid: Array<[pattern: string, message: string]> = [
    ['[', 'missing closing ]: `[`'],
    ['[a', 'missing closing ]: `[a`'],
    ['[z-a]', 'invalid character class range: `z-a`'],
    ['(a', 'missing closing ): `(a`'],
    ['a)', 'unexpected ): `a)`'],
    ['x**', 'invalid nested repetition operator: `**`'],
    ['x{2}{3}', 'invalid nested repetition operator: `{2}{3}`'],
    ['((a{100}){100}){100}', 'invalid repeat count: `{100}`'],
    ['a{1001}', 'invalid repeat count: `{1001}`'],
    ['a{3,2}', 'invalid repeat count: `{3,2}`'],
    ['(x)\\1', 'invalid escape sequence: `\\1`'],
    ['\\8', 'invalid escape sequence: `\\8`'],
    ['\\q', 'invalid escape sequence: `\\q`'],
    ['[\\b]', 'invalid escape sequence: `\\b`'],
    ['\\xZZ', 'invalid escape sequence: `\\xZZ`'],
    ['a\\', 'trailing backslash at end of expression'],
    ['(?=a)', 'invalid or unsupported Perl syntax: `(?=`'],
    ['(?!a)', 'invalid or unsupported Perl syntax: `(?!`'],
    ['(?<!a)', 'invalid named capture: `(?<!a)`'],
    ['(?<=a)b', 'invalid named capture: `(?<=a)b`'],
    ['(?P=n)', 'invalid or unsupported Perl syntax: `(?P`'],
    ['(?P<n>a)(?P<n>b)', 'duplicate capture group name: `n`'],
    ['[[:nope:]]', 'invalid character class range: `[:nope:]`'],
    ['\\p{Nope}', 'invalid character class range: `\\p{Nope}`'],
  ];
  for (const [pattern, message] of invalid) {
    it(`rejects ${pattern}`, () => {
      expect(() => compileRegexp(pattern)).toThrowError(RegexpSyntaxError);
      expect(() => compileRegexp(pattern)).toThrowError(`error parsing regexp: ${message}`);
    });
  }

  // Patterns that make a backtracking engine take exponential time: RE2 answers in time linear
  // in the subject's length (a client's filter must not be able to hang the daemon).
  const catastrophic = ['(a+)+$', '^(a+)+$', '(a|a)*b', '(a*)*b', '^(([a-z])+.)+[A-Z]([a-z])+$', '(x+x+)+y'];
  for (const pattern of catastrophic) {
    it(`${pattern} answers promptly on a long subject that almost matches`, () => {
      const re = compileRegexp(pattern);
      const subject = `${'a'.repeat(100_000)}!`;
      const started = performance.now();
      re.test(subject);
      re.test('x'.repeat(50_000));
      // A backtracking engine needs longer than the age of the universe for these; RE2 needs
      // milliseconds. The bound is generous so a loaded machine cannot fail it.
      expect(performance.now() - started).toBeLessThan(5_000);
    });
  }
  it('still answers correctly for those patterns', () => {
    expect(compileRegexp('^(a+)+$').test('aaaa')).toBe(true);
    expect(compileRegexp('^(a+)+$').test(`${'a'.repeat(40)}!`)).toBe(false);
    expect(compileRegexp('(a|a)*b').test(`${'a'.repeat(40)}b`)).toBe(true);
  });
});

describe('re2js', () => {
  it('loads when the first pattern is compiled, not with the package', () => {
    // The built package in a fresh node: what a daemon that imports it holds before a `~=` filter.
    const dist = new URL('../dist/index.js', import.meta.url).href;
    const code = `
      import { createRequire } from 'node:module';
      import { parse, compileRegexp } from ${JSON.stringify(dist)};
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('re2js/build'));
      parse('name==a,labels.x!=b');
      const before = loaded();
      parse('name~=^a.c$');
      console.log(before, loaded(), compileRegexp('^a').test('ab'));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' });
    expect(out.trim()).toBe('false true true');
    // (The check above sees the CommonJS load; an ES import of re2js would not show there,
    // and none is left in the package.)
    for (const file of ['regexp.ts', 'parser.ts', 'filter.ts', 'index.ts']) {
      expect(readFileSync(new URL(file, import.meta.url), 'utf8')).not.toMatch(/^import (?!type )[^;]*from 're2js'/m);
    }
  });
});
