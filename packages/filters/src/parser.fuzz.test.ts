// Property-based fuzzing of the filter parser (containerd's FuzzFiltersParse and beyond):
// any string either parses or fails with FilterParseError, and what parses round-trips
// through its text form. Seeded: FUZZ_SEED and FUZZ_RUNS override the seed and case count.
import { isInvalidArgument } from '@containerd-ts/errdefs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Adaptor, objectAdaptor } from './adaptor.js';
import { AllOf, AnyOf, type Filter, formatSelector, type Operator, Selector } from './filter.js';
import { FilterParseError, parse, parseAll } from './parser.js';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000);
console.log(`filters fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns}`);
const params = { seed, numRuns, endOnFailure: true } as const;

// Characters that mean something to the scanner, plus ordinary and awkward ones.
const filterChars = fc.constantFrom(
  ...'abcxyz019_.,"\'\\/|=!~ \t\n^$*+?()[]{}-:@\u00e9\u4e2d\ufffd\u0000\u007f'.split(''),
  '\u{1f600}',
  '\\x',
  '\\u00',
  '\\U0001f600',
);
const filterLike = fc.array(filterChars, { maxLength: 40 }).map((cs) => cs.join(''));
const anyText = fc.oneof(filterLike, fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ maxLength: 40 }));

/** parse(text), or the FilterParseError it throws; anything else thrown fails the property. */
function tryParse(text: string): Filter | FilterParseError {
  try {
    return parse(text);
  } catch (err) {
    if (err instanceof FilterParseError) return err;
    throw new Error(`parse(${JSON.stringify(text)}) threw something other than FilterParseError: ${String(err)}`, { cause: err });
  }
}

/** The selectors of a parsed filter string, as plain specs. */
function specsOf(filter: Filter): Array<{ fieldpath: readonly string[]; operator: Operator; value: string }> {
  if (!(filter instanceof AllOf)) return [];
  return filter.filters.map((f) => {
    if (!(f instanceof Selector)) throw new Error(`unexpected filter ${String(f)}`);
    return { fieldpath: f.fieldpath, operator: f.operator, value: f.operator === 'present' ? '' : f.value };
  });
}

// Short label values keep the regexp matching of random patterns cheap.
const shortText = fc.oneof(fc.string({ maxLength: 8 }), fc.array(filterChars, { maxLength: 8 }).map((cs) => cs.join('')));
const objectArb = fc.record({
  name: shortText,
  other: fc.option(shortText, { nil: undefined }),
  labels: fc.dictionary(shortText, shortText, { maxKeys: 4 }),
});
const adaptorOf = (o: { name: string; other: string | undefined; labels: Record<string, string> }): Adaptor =>
  objectAdaptor({ name: o.name, other: o.other }, { maps: { labels: o.labels } });

const fieldName = fc.oneof(fc.constantFrom('name', 'other', 'labels', 'a.b', ''), shortText);
const selectorArb = fc.record({
  fieldpath: fc.array(fieldName, { minLength: 1, maxLength: 3 }),
  operator: fc.constantFrom<Operator>('present', '==', '!=', '~='),
  value: fc.oneof(shortText, fc.constantFrom('^a', 'a|b', '(?i)X', '[[:alpha:]]+', '\\pL', 'a{2,3}', '(', '\\1', 'x{1001}')),
});

describe('filter parser fuzzing', () => {
  it('answers any string with a Filter or a FilterParseError (invalid argument, containerd wording)', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const result = tryParse(text);
        if (result instanceof FilterParseError) {
          expect(isInvalidArgument(result)).toBe(true);
          expect(result.message).toMatch(/^filters: parse error: \[[\s\S]*\]: [\s\S]+: invalid argument$/);
          expect(result.position).toBeGreaterThanOrEqual(0);
          expect(result.position).toBeLessThanOrEqual(text.length);
        }
      }),
      params,
    );
  }, 300_000);

  it('parses what formatSelector writes back to the same selector', () => {
    fc.assert(
      fc.property(fc.array(selectorArb, { minLength: 1, maxLength: 3 }), (specs) => {
        const text = specs.map(formatSelector).join(',');
        const result = tryParse(text);
        // Only a `~=` operand RE2 rejects may fail, and then with the regexp's error.
        if (result instanceof FilterParseError) {
          expect(specs.some((s) => s.operator === '~=')).toBe(true);
          expect(result.reason).toMatch(/^error parsing regexp: /);
          return;
        }
        expect(specsOf(result)).toEqual(
          specs.map((s) => ({ fieldpath: s.fieldpath, operator: s.operator, value: s.operator === 'present' ? '' : s.value })),
        );
      }),
      params,
    );
  }, 300_000);

  it('re-parses the text of every filter it accepts to one that matches the same objects', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, fc.array(selectorArb, { minLength: 1, maxLength: 3 }).map((s) => s.map(formatSelector).join(','))), fc.array(objectArb, { maxLength: 4 }), (text, objects) => {
        const first = tryParse(text);
        if (first instanceof FilterParseError) return;
        const again = tryParse(String(first));
        if (again instanceof FilterParseError) throw new Error(`${JSON.stringify(String(first))} (from ${JSON.stringify(text)}) does not parse: ${again.message}`);
        expect(String(again)).toBe(String(first));
        for (const o of objects) expect(again.match(adaptorOf(o))).toBe(first.match(adaptorOf(o)));
      }),
      params,
    );
  }, 300_000);

  it('parseAll matches when any of its filters does, and fails with the first bad one', () => {
    fc.assert(
      fc.property(fc.array(anyText, { maxLength: 4 }), objectArb, (texts, o) => {
        const parsed = texts.map(tryParse);
        const bad = parsed.find((p) => p instanceof FilterParseError);
        let all: Filter;
        try {
          all = parseAll(texts);
        } catch (err) {
          expect(err).toBeInstanceOf(FilterParseError);
          expect((err as FilterParseError).message).toBe(bad?.message);
          return;
        }
        expect(bad).toBeUndefined();
        const expected = texts.length === 0 || parsed.some((p) => !(p instanceof FilterParseError) && p.match(adaptorOf(o)));
        expect(all.match(adaptorOf(o))).toBe(expected);
        if (texts.length > 0) expect(all).toBeInstanceOf(AnyOf);
      }),
      params,
    );
  }, 300_000);
});
