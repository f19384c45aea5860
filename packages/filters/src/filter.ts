// Filters: selectors (one field test each) combined with AND within a filter string and OR
// across several filter strings.

import type { Adaptor } from './adaptor.js';
import { formatField, formatValue } from './quote.js';
import type { Pattern } from './regexp.js';

export interface Filter {
  match(adaptor: Adaptor): boolean;
}

/** `present` is a bare field path; the others are written `==`, `!=`, `~=`. */
export type Operator = 'present' | '==' | '!=' | '~=';

export interface SelectorSpec {
  readonly fieldpath: readonly string[];
  readonly operator: Operator;
  /** Ignored for `present`. */
  readonly value?: string;
}

/** One `<fieldpath>[<operator><value>]` test. */
export class Selector implements Filter {
  readonly fieldpath: readonly string[];
  readonly operator: Operator;
  readonly value: string;
  readonly #pattern: Pattern | undefined;

  /** `pattern` is the compiled value of a `~=` selector. */
  constructor(spec: SelectorSpec, pattern?: Pattern) {
    this.fieldpath = spec.fieldpath;
    this.operator = spec.operator;
    this.value = spec.value ?? '';
    this.#pattern = pattern;
  }

  match(adaptor: Adaptor): boolean {
    const found = adaptor.field(this.fieldpath);
    // As in containerd, an absent field reads as '' for `!=` and `~=`: `x!=v` holds when x is
    // absent, and `x~=^$` matches it.
    const value = found ?? '';
    switch (this.operator) {
      case 'present':
        return found !== undefined;
      case '==':
        return found !== undefined && value === this.value;
      case '!=':
        return value !== this.value;
      case '~=':
        return this.#pattern?.test(value) ?? false;
    }
  }

  toString(): string {
    return formatSelector(this);
  }
}

/** Matches every object; what an empty filter string or an empty list of filters gives. */
export const always: Filter = new (class Always implements Filter {
  match(): boolean {
    return true;
  }
  toString(): string {
    return '';
  }
})();

/** Matches when every filter matches (the selectors of one filter string). */
export class AllOf implements Filter {
  constructor(readonly filters: readonly Filter[]) {}
  match(adaptor: Adaptor): boolean {
    return this.filters.every((f) => f.match(adaptor));
  }
  toString(): string {
    return this.filters.map(String).join(',');
  }
}

/** Matches when any filter matches (several filter strings given together). */
export class AnyOf implements Filter {
  constructor(readonly filters: readonly Filter[]) {}
  match(adaptor: Adaptor): boolean {
    return this.filters.some((f) => f.match(adaptor));
  }
}

/**
 * Writes a selector as filter text that parses back to the same selector, quoting field names
 * and values where needed: formatSelector({ fieldpath: ['labels', 'a.b'], operator: '==', value: 'x y' })
 * gives `labels."a.b"=="x y"`.
 */
export function formatSelector(spec: SelectorSpec): string {
  if (spec.fieldpath.length === 0) throw new TypeError('a selector needs a field path');
  const path = spec.fieldpath.map(formatField).join('.');
  return spec.operator === 'present' ? path : `${path}${spec.operator}${formatValue(spec.value ?? '')}`;
}
