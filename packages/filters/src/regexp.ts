// Compiles the `~=` operand, written in Go's RE2 syntax, to a JavaScript RegExp with the same
// match/no-match answer. Filters only ask "does it match", so greediness is irrelevant; what
// matters is that RE2 constructs mean the same here (`.` never matches "\n", `\s` is ASCII,
// `^`/`$` with (?m) see only "\n", `{` that is not a repeat is a literal, `[[:alpha:]]`, flag
// groups such as `(?i)` and `(?s:…)`, `\pL`, `\Q…\E`, `\z`) and that what RE2 rejects
// (back-references, look-around, repeat counts over 1000) is rejected too.

export class RegexpSyntaxError extends Error {
  /** `expr` is the offending part of the pattern, as Go's regexp reports it. */
  constructor(code: string, expr: string) {
    super(`error parsing regexp: ${code}: \`${expr}\``);
    this.name = 'RegexpSyntaxError';
  }
}

type Range = readonly [number, number];

const maxCodePoint = 0x10ffff;
const maxRepeat = 1000;
/** Ranges wider than this are not case-expanded (only happens for case-insensitive sub-patterns). */
const maxFoldedRange = 4096;

const posixClasses: Record<string, readonly Range[]> = {
  alnum: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  alpha: [
    [0x41, 0x5a],
    [0x61, 0x7a],
  ],
  ascii: [[0x00, 0x7f]],
  blank: [
    [0x09, 0x09],
    [0x20, 0x20],
  ],
  cntrl: [
    [0x00, 0x1f],
    [0x7f, 0x7f],
  ],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [
    [0x21, 0x2f],
    [0x3a, 0x40],
    [0x5b, 0x60],
    [0x7b, 0x7e],
  ],
  space: [
    [0x09, 0x0d],
    [0x20, 0x20],
  ],
  upper: [[0x41, 0x5a]],
  word: [
    [0x30, 0x39],
    [0x41, 0x5a],
    [0x5f, 0x5f],
    [0x61, 0x7a],
  ],
  xdigit: [
    [0x30, 0x39],
    [0x41, 0x46],
    [0x61, 0x66],
  ],
};
/** RE2's `\s`: ASCII only, and without \v. */
const perlSpace: readonly Range[] = [
  [0x09, 0x0a],
  [0x0c, 0x0d],
  [0x20, 0x20],
];

const controlEscapes: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };

const isAsciiAlnum = (ch: string) => /^[0-9A-Za-z]$/.test(ch);
const isOctal = (ch: string | undefined) => ch !== undefined && ch >= '0' && ch <= '7';

/** A code point written so it means itself, in and out of a class, under the `u` flag. */
function literal(cp: number): string {
  return cp >= 0x80 || isAsciiAlnum(String.fromCharCode(cp)) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function complement(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= maxCodePoint) out.push([next, maxCodePoint]);
  return out;
}

const rangesSource = (ranges: readonly Range[]) =>
  ranges.map(([lo, hi]) => (lo === hi ? literal(lo) : `${literal(lo)}-${literal(hi)}`)).join('');

/** The other-case forms of a code point (simple one-to-one mappings only). */
function caseVariants(cp: number): number[] {
  const found = new Set([cp]);
  for (let round = 0; round < 2; round++) {
    for (const known of [...found]) {
      const ch = String.fromCodePoint(known);
      for (const other of [ch.toLowerCase(), ch.toUpperCase()]) {
        const single = other.codePointAt(0);
        if (single !== undefined && [...other].length === 1) found.add(single);
      }
    }
  }
  return [...found];
}

interface Flags {
  i: boolean;
  m: boolean;
  s: boolean;
}

/** Thrown when case-sensitivity changes inside the pattern, so JavaScript's `i` flag cannot be used. */
class NeedsCaseExpansion extends Error {}

class Translator {
  private i = 0;
  private flags: Flags = { i: false, m: false, s: false };
  private readonly saved: Flags[] = [];
  private readonly groupNames = new Set<string>();
  private useIgnoreCaseFlag = false;

  /**
   * With `expandCase`, case-insensitive parts are spelled out (`[fF][oO]`) instead of relying on
   * JavaScript's `i` flag, which Node 20 can only apply to a whole pattern.
   */
  constructor(
    private readonly src: string,
    private readonly expandCase: boolean,
  ) {}

  translate(): RegExp {
    this.leadingFlags();
    this.useIgnoreCaseFlag = this.flags.i && !this.expandCase;
    let out = '';
    while (this.i < this.src.length) out += this.atom();
    try {
      return new RegExp(out, this.useIgnoreCaseFlag ? 'ui' : 'u');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const reason = message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '');
      throw this.error(reason.charAt(0).toLowerCase() + reason.slice(1));
    }
  }

  private error(code: string, expr: string = this.src): RegexpSyntaxError {
    return new RegexpSyntaxError(code, expr);
  }

  /** `(?i)`, `(?s)`, `(?im-s)` … at the very start set flags for the whole pattern. */
  private leadingFlags(): void {
    for (;;) {
      const m = /^\(\?([imsU]*)(?:-([imsU]*))?\)/.exec(this.src.slice(this.i));
      if (!m || (m[1] === '' && !m[2])) return;
      this.flags = this.applyFlags(this.flags, m[1] ?? '', m[2] ?? '');
      this.i += m[0].length;
    }
  }

  private applyFlags(from: Flags, on: string, off: string): Flags {
    const to = { ...from };
    // U (ungreedy) cannot change whether a pattern matches, so it is accepted and ignored.
    for (const f of on) if (f !== 'U') to[f as keyof Flags] = true;
    for (const f of off) if (f !== 'U') to[f as keyof Flags] = false;
    return to;
  }

  private atom(): string {
    const ch = this.src[this.i] ?? '';
    switch (ch) {
      case '\\':
        return this.escapeOutsideClass();
      case '[':
        return this.charClass();
      case '(':
        return this.openGroup();
      case ')':
        this.i++;
        this.flags = this.saved.pop() ?? this.flags;
        return ')';
      case '.':
        this.i++;
        return this.flags.s ? '[\\s\\S]' : '[^\\n]';
      // Only "\n" ends a line for RE2, so anchors are spelled out rather than left to JavaScript.
      case '^':
        this.i++;
        return this.flags.m ? '(?<![^\\n])' : '(?<![\\s\\S])';
      case '$':
        this.i++;
        return this.flags.m ? '(?![^\\n])' : '(?![\\s\\S])';
      case '{': {
        const m = /^\{(\d+)(?:,(\d*))?\}/.exec(this.src.slice(this.i));
        if (!m) {
          this.i++;
          return '\\{';
        }
        const min = Number(m[1]);
        const max = m[2] === undefined ? min : m[2] === '' ? -1 : Number(m[2]);
        if (min > maxRepeat || max > maxRepeat || (max >= 0 && min > max)) throw this.error('invalid repeat count', m[0]);
        this.i += m[0].length;
        return m[0];
      }
      case '}':
      case ']':
        this.i++;
        return this.char(ch.charCodeAt(0));
      case '|':
      case '*':
      case '+':
      case '?':
        this.i++;
        return ch;
      default: {
        const cp = this.src.codePointAt(this.i) ?? 0;
        this.i += cp > 0xffff ? 2 : 1;
        return this.char(cp);
      }
    }
  }

  /** One literal character outside a class, spelled case-insensitively when it must be. */
  private char(cp: number): string {
    if (!this.expandCase || !this.flags.i) return literal(cp);
    const variants = caseVariants(cp);
    return variants.length === 1 ? literal(cp) : `[${variants.map(literal).join('')}]`;
  }

  private openGroup(): string {
    const rest = this.src.slice(this.i);
    if (!rest.startsWith('(?')) {
      this.i++;
      this.saved.push(this.flags);
      return '(';
    }
    if (rest.startsWith('(?:')) {
      this.i += 3;
      this.saved.push(this.flags);
      return '(?:';
    }
    const named = /^\(\?P?<([^>]*)>/.exec(rest);
    if (named && !rest.startsWith('(?<=') && !rest.startsWith('(?<!')) {
      const name = named[1] ?? '';
      if (!/^\w+$/.test(name)) throw this.error('invalid named capture', named[0]);
      if (this.groupNames.has(name)) throw this.error('duplicate capture group name', name);
      this.groupNames.add(name);
      this.i += named[0].length;
      this.saved.push(this.flags);
      // Names do not affect matching, so JavaScript's stricter rules for them need not apply.
      return '(';
    }
    const flagGroup = /^\(\?([imsU]*)(?:-([imsU]*))?([:)])/.exec(rest);
    if (flagGroup && (flagGroup[1] !== '' || flagGroup[2])) {
      const next = this.applyFlags(this.flags, flagGroup[1] ?? '', flagGroup[2] ?? '');
      if (next.i !== this.flags.i && !this.expandCase) throw new NeedsCaseExpansion();
      this.i += flagGroup[0].length;
      if (flagGroup[3] === ')') {
        // `(?s)` mid-pattern: in force until the enclosing group closes.
        this.flags = next;
        return '';
      }
      this.saved.push(this.flags);
      this.flags = next;
      return '(?:';
    }
    throw this.error('invalid or unsupported Perl syntax', rest.slice(0, 3));
  }

  private escapeOutsideClass(): string {
    const esc = this.src[this.i + 1];
    switch (esc) {
      case 'b':
      case 'B':
        this.i += 2;
        return `\\${esc}`;
      case 'A':
        this.i += 2;
        return '(?<![\\s\\S])';
      case 'z':
        this.i += 2;
        return '(?![\\s\\S])';
      case 'Q': {
        const end = this.src.indexOf('\\E', this.i + 2);
        const text = this.src.slice(this.i + 2, end < 0 ? undefined : end);
        this.i = end < 0 ? this.src.length : end + 2;
        return [...text].map((ch) => this.char(ch.codePointAt(0) ?? 0)).join('');
      }
      case 's':
        this.i += 2;
        return `[${rangesSource(perlSpace)}]`;
      case 'S':
        this.i += 2;
        return `[^${rangesSource(perlSpace)}]`;
      default:
        return this.classEscape() ?? this.char(this.charEscape());
    }
  }

  /** `\d \D \w \W \pL \p{Greek} \PN …` at the current position, or undefined if it is not one. */
  private classEscape(): string | undefined {
    const esc = this.src[this.i + 1];
    if (esc === 'd' || esc === 'D' || esc === 'w' || esc === 'W') {
      this.i += 2;
      return `\\${esc}`;
    }
    if (esc !== 'p' && esc !== 'P') return undefined;
    let negated = esc === 'P';
    let name: string;
    const next = this.src[this.i + 2];
    if (next === '{') {
      const close = this.src.indexOf('}', this.i + 3);
      if (close < 0) throw this.error('invalid character class range', this.src.slice(this.i));
      name = this.src.slice(this.i + 3, close);
      this.i = close + 1;
    } else if (next !== undefined) {
      name = String.fromCodePoint(this.src.codePointAt(this.i + 2) ?? 0);
      this.i += 2 + name.length;
    } else {
      throw this.error('invalid character class range', '\\p');
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) throw this.error('invalid character class range', name);
    // Go accepts general categories (L, Lu …), Any and script names (Greek, Han …).
    const property = name === 'Any' || /^[CLMNPSZ][a-z]?$/.test(name) ? name : `Script=${name}`;
    return `\\${negated ? 'P' : 'p'}{${property}}`;
  }

  /** A single-character escape (octal, hex, control, escaped punctuation): its code point. */
  private charEscape(): number {
    const esc = this.src[this.i + 1];
    if (esc === undefined) throw this.error('trailing backslash at end of expression', '');
    const control = controlEscapes[esc];
    if (control !== undefined) {
      this.i += 2;
      return control;
    }
    if (esc >= '1' && esc <= '7' && !isOctal(this.src[this.i + 2])) {
      // A lone \1 … \7 would be a back-reference, which RE2 does not have.
      throw this.error('invalid escape sequence', `\\${esc}`);
    }
    if (isOctal(esc)) {
      let value = 0;
      let j = this.i + 1;
      for (let n = 0; n < 3 && isOctal(this.src[j]); n++, j++) value = value * 8 + Number(this.src[j]);
      this.i = j;
      return value;
    }
    if (esc === 'x') {
      const braced = /^\{([0-9A-Fa-f]+)\}/.exec(this.src.slice(this.i + 2));
      const pair = /^[0-9A-Fa-f]{2}/.exec(this.src.slice(this.i + 2));
      const digits = braced ? braced[1] : pair?.[0];
      const value = digits === undefined ? Number.NaN : Number.parseInt(digits, 16);
      if (Number.isNaN(value) || value > maxCodePoint) {
        throw this.error('invalid escape sequence', this.src.slice(this.i, this.i + 4));
      }
      this.i += 2 + (braced ? braced[0].length : 2);
      return value;
    }
    const cp = esc.charCodeAt(0);
    if (cp < 0x80 && !isAsciiAlnum(esc)) {
      this.i += 2;
      return cp;
    }
    throw this.error('invalid escape sequence', `\\${String.fromCodePoint(this.src.codePointAt(this.i + 1) ?? 0)}`);
  }

  private classChar(): number {
    if (this.src[this.i] === '\\') return this.charEscape();
    const cp = this.src.codePointAt(this.i) ?? 0;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  private charClass(): string {
    const start = this.i;
    this.i++;
    const negated = this.src[this.i] === '^';
    if (negated) this.i++;
    const ranges: Range[] = [];
    let escapes = '';
    // A `]` right after `[` or `[^` is a literal, as in RE2.
    let first = true;
    for (;;) {
      const ch = this.src[this.i];
      if (ch === undefined) throw this.error('missing closing ]', this.src.slice(start));
      if (ch === ']' && !first) {
        this.i++;
        break;
      }
      first = false;
      if (ch === '[' && this.src[this.i + 1] === ':') {
        const m = /^\[:(\^?)([a-z]*):\]/.exec(this.src.slice(this.i));
        if (m) {
          const set = posixClasses[m[2] ?? ''];
          if (set === undefined) throw this.error('invalid character class range', m[0]);
          ranges.push(...(m[1] ? complement(set) : set));
          this.i += m[0].length;
          continue;
        }
      }
      if (ch === '\\') {
        const esc = this.src[this.i + 1];
        if (esc === 's' || esc === 'S') {
          ranges.push(...(esc === 's' ? perlSpace : complement(perlSpace)));
          this.i += 2;
          continue;
        }
        const cls = this.classEscape();
        if (cls !== undefined) {
          escapes += cls;
          continue;
        }
      }
      const lo = this.classChar();
      if (this.src[this.i] === '-' && this.src[this.i + 1] !== undefined && this.src[this.i + 1] !== ']') {
        this.i++;
        const hi = this.classChar();
        if (hi < lo) throw this.error('invalid character class range', this.src.slice(start, this.i));
        ranges.push([lo, hi]);
      } else {
        ranges.push([lo, lo]);
      }
    }
    if (this.expandCase && this.flags.i) ranges.push(...this.foldRanges(ranges));
    return `[${negated ? '^' : ''}${escapes}${rangesSource(ranges)}]`;
  }

  /** Other-case forms of the characters in `ranges`, for a case-insensitive class. */
  private foldRanges(ranges: readonly Range[]): Range[] {
    const extra: Range[] = [];
    for (const [lo, hi] of ranges) {
      if (hi - lo > maxFoldedRange) continue;
      for (let cp = lo; cp <= hi; cp++) {
        for (const v of caseVariants(cp)) if (v < lo || v > hi) extra.push([v, v]);
      }
    }
    return extra;
  }
}

/** Compiles an RE2 pattern; throws RegexpSyntaxError when RE2 (or this translation) rejects it. */
export function compileRegexp(pattern: string): RegExp {
  try {
    return new Translator(pattern, false).translate();
  } catch (err) {
    if (err instanceof NeedsCaseExpansion) return new Translator(pattern, true).translate();
    throw err;
  }
}
