// Tokenizer for the filter syntax. It follows containerd's scanner rune for rune, including
// its quirks (a value token only right after an operator, sticky first error, lookahead that
// reports the raw next character), because error positions and messages are part of the contract.
// Positions are UTF-16 indices into the input (containerd counts bytes; equal for ASCII input).

/** Sentinel "characters" returned by `next()`/`peek()` in place of a code point. */
export const EOF = -1;
export const ILLEGAL = -2;

export type TokenKind = 'eof' | 'quoted' | 'value' | 'field' | 'separator' | 'operator' | 'illegal' | 'other';

export interface Token {
  readonly kind: TokenKind;
  /** Index in the input where the token starts. */
  readonly pos: number;
  /** The token's source text ('' for eof and for a bad character reported as illegal). */
  readonly text: string;
}

const whiteSpace = /^\p{White_Space}$/u;
// Go's unicode.IsGraphic: letters, marks, numbers, punctuation, symbols and spaces (Zs).
const graphic = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;

export const isSpace = (ch: number): boolean => ch >= 0 && whiteSpace.test(String.fromCodePoint(ch));
const isAlpha = (ch: number) => (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a);
const isDigit = (ch: number) => ch >= 0x30 && ch <= 0x39;
export const isFieldChar = (ch: number): boolean => ch === 0x5f || isAlpha(ch) || isDigit(ch);
/** `/` and `|` quote regular expressions; `"` quotes anything. */
export const isQuoteChar = (ch: number): boolean => ch === 0x2f || ch === 0x7c || ch === 0x22;
export const isSeparatorChar = (ch: number): boolean => ch === 0x2c || ch === 0x2e;
export const isOperatorChar = (ch: number): boolean => ch === 0x3d || ch === 0x21 || ch === 0x7e;
export const isValueChar = (ch: number): boolean =>
  ch >= 0 && ch !== 0x2c && !isSpace(ch) && graphic.test(String.fromCodePoint(ch));

/** Value of a hex digit, or 16 for anything else (so it fails every base check). */
function digitValue(ch: number): number {
  if (ch >= 0x30 && ch <= 0x39) return ch - 0x30;
  if (ch >= 0x61 && ch <= 0x66) return ch - 0x61 + 10;
  if (ch >= 0x41 && ch <= 0x46) return ch - 0x41 + 10;
  return 16;
}

export class Scanner {
  /** Start of the character last read. */
  private pos = 0;
  /** Index just past the character last read. */
  private ppos = 0;
  /** Set by an operator: the next bare run of characters is a value, not a field. */
  private expectValue = false;
  /** The first error met; later ones are dropped, as in containerd. */
  error = '';

  constructor(readonly input: string) {}

  /** Index just past the last consumed character: where a `peek()`ed character starts. */
  get offset(): number {
    return this.ppos;
  }

  next(): number {
    if (this.pos >= this.input.length) return EOF;
    this.pos = this.ppos;
    const ch = this.input.codePointAt(this.ppos);
    if (ch === undefined) return EOF;
    this.ppos += ch > 0xffff ? 2 : 1;
    // U+FFFD is what invalid UTF-8 decodes to; containerd rejects both, and a lone surrogate too.
    if (ch === 0xfffd || (ch >= 0xd800 && ch <= 0xdfff)) {
      this.fail('rune error');
      return ILLEGAL;
    }
    if (ch === 0) {
      this.fail('unexpected null');
      return ILLEGAL;
    }
    return ch;
  }

  peek(): number {
    const { pos, ppos } = this;
    const ch = this.next();
    this.pos = pos;
    this.ppos = ppos;
    return ch;
  }

  scan(): Token {
    let ch = this.next();
    let pos = this.pos;
    while (ch !== EOF && ch !== ILLEGAL) {
      if (isQuoteChar(ch)) {
        const ok = this.scanQuoted(ch);
        return { kind: ok ? 'quoted' : 'illegal', pos, text: this.input.slice(pos, this.ppos) };
      }
      if (isSeparatorChar(ch)) {
        this.expectValue = false;
        return { kind: 'separator', pos, text: this.input.slice(pos, this.ppos) };
      }
      if (isOperatorChar(ch)) {
        this.skipWhile(isOperatorChar);
        this.expectValue = true;
        return { kind: 'operator', pos, text: this.input.slice(pos, this.ppos) };
      }
      if (isSpace(ch)) {
        ch = this.next();
        pos = this.pos;
        continue;
      }
      if (this.expectValue) {
        this.skipWhile(isValueChar);
        this.expectValue = false;
        return { kind: 'value', pos, text: this.input.slice(pos, this.ppos) };
      }
      if (isFieldChar(ch)) {
        this.skipWhile(isFieldChar);
        return { kind: 'field', pos, text: this.input.slice(pos, this.ppos) };
      }
      return { kind: 'other', pos: this.pos, text: String.fromCodePoint(ch) };
    }
    return { kind: ch === EOF ? 'eof' : 'illegal', pos: this.pos, text: '' };
  }

  private skipWhile(accept: (ch: number) => boolean): void {
    while (accept(this.peek())) this.next();
  }

  /** Consumes a quoted literal whose opening quote was just read; false if it is malformed. */
  private scanQuoted(quote: number): boolean {
    let legal = true;
    let ch = this.next();
    while (ch !== quote) {
      if (ch === 0x0a || ch < 0) {
        this.fail('quoted literal not terminated');
        return false;
      }
      if (ch === 0x5c) {
        const escaped = this.scanEscape(quote);
        ch = escaped.ch;
        if (!escaped.legal) legal = false;
      } else {
        ch = this.next();
      }
    }
    return legal;
  }

  /** Consumes an escape after its backslash; returns the character that follows it. */
  private scanEscape(quote: number): { ch: number; legal: boolean } {
    const ch = this.next();
    switch (ch) {
      case 0x61: // a
      case 0x62: // b
      case 0x66: // f
      case 0x6e: // n
      case 0x72: // r
      case 0x74: // t
      case 0x76: // v
      case 0x5c: // backslash
      case quote:
        return { ch: this.next(), legal: true };
      case 0x78: // x
        return this.scanDigits(this.next(), 16, 2);
      case 0x75: // u
        return this.scanDigits(this.next(), 16, 4);
      case 0x55: // U
        return this.scanDigits(this.next(), 16, 8);
      default:
        if (ch >= 0x30 && ch <= 0x37) return this.scanDigits(ch, 8, 3);
        this.fail('illegal escape sequence');
        return { ch, legal: false };
    }
  }

  private scanDigits(first: number, base: number, count: number): { ch: number; legal: boolean } {
    let ch = first;
    let n = count;
    while (n > 0 && digitValue(ch) < base) {
      ch = this.next();
      n--;
    }
    if (n > 0) {
      this.fail('illegal numeric escape sequence');
      return { ch, legal: false };
    }
    return { ch, legal: true };
  }

  private fail(message: string): void {
    if (this.error === '') this.error = message;
  }
}
