// Decoding of quoted literals ("...", /.../, |...|) and the reverse, for formatting selectors.
// Escapes are Go's string escapes; `\xNN` and octal escapes give raw bytes, so the decoded
// bytes are read back as UTF-8 (a byte sequence that is not UTF-8 becomes U+FFFD).

import { isFieldChar, isOperatorChar, isQuoteChar, isSeparatorChar, isSpace, isValueChar } from './scanner.js';

export class QuoteSyntaxError extends Error {
  constructor() {
    super('quote syntax error');
    this.name = 'QuoteSyntaxError';
  }
}

const simpleEscapes: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** Decodes a quoted token, delimiters included. Throws QuoteSyntaxError when it is malformed. */
export function unquote(token: string): string {
  const quote = token[0];
  if (token.length < 2 || quote === undefined || token[token.length - 1] !== quote) throw new QuoteSyntaxError();
  if (quote !== '"' && quote !== '/' && quote !== '|') throw new QuoteSyntaxError();
  const body = token.slice(1, -1);
  if (body.includes('\n')) throw new QuoteSyntaxError();
  if (!body.includes('\\') && !body.includes(quote)) return body;

  const bytes: number[] = [];
  const pushCodePoint = (cp: number) => {
    for (const b of encoder.encode(String.fromCodePoint(cp))) bytes.push(b);
  };
  const hex = (start: number, count: number): number => {
    const digits = body.slice(start, start + count);
    if (digits.length !== count || !/^[0-9A-Fa-f]+$/.test(digits)) throw new QuoteSyntaxError();
    return Number.parseInt(digits, 16);
  };

  let i = 0;
  while (i < body.length) {
    const cp = body.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    if (ch === quote) throw new QuoteSyntaxError();
    if (ch !== '\\') {
      // A lone surrogate cannot be encoded; it stands for bytes that were not UTF-8.
      pushCodePoint(cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp);
      i += ch.length;
      continue;
    }
    const esc = body[i + 1];
    if (esc === undefined) throw new QuoteSyntaxError();
    i += 2;
    const simple = simpleEscapes[esc];
    if (simple !== undefined) {
      bytes.push(simple);
    } else if (esc === 'x') {
      bytes.push(hex(i, 2));
      i += 2;
    } else if (esc === 'u' || esc === 'U') {
      const count = esc === 'u' ? 4 : 8;
      const value = hex(i, count);
      i += count;
      if (value > 0x10ffff) throw new QuoteSyntaxError();
      pushCodePoint(value >= 0xd800 && value <= 0xdfff ? 0xfffd : value);
    } else if (esc >= '0' && esc <= '7') {
      const digits = esc + body.slice(i, i + 2);
      if (!/^[0-7]{3}$/.test(digits)) throw new QuoteSyntaxError();
      const value = Number.parseInt(digits, 8);
      if (value > 255) throw new QuoteSyntaxError();
      bytes.push(value);
      i += 2;
    } else if (esc === quote) {
      bytes.push(esc.charCodeAt(0));
    } else {
      throw new QuoteSyntaxError();
    }
  }
  return decoder.decode(new Uint8Array(bytes));
}

const controlEscapes: Record<number, string> = { 7: 'a', 8: 'b', 12: 'f', 10: 'n', 13: 'r', 9: 't', 11: 'v' };
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S}\p{Zs}]$/u;

/** Double-quotes `text` so that the scanner reads it back unchanged. */
export function quote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    const control = controlEscapes[cp];
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (control !== undefined) out += `\\${control}`;
    else if (cp < 0x80 && (cp < 0x20 || cp === 0x7f)) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp === 0xfffd || !printable.test(ch)) {
      out += cp > 0xffff ? `\\U${cp.toString(16).padStart(8, '0')}` : `\\u${cp.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** A field name as it must be written: bare when it is a plain identifier, else quoted. */
export function formatField(name: string): string {
  if (name !== '' && [...name].every((ch) => isFieldChar(ch.codePointAt(0) ?? -1))) return name;
  return quote(name);
}

/** A value as it must be written after an operator: bare when the scanner reads it as one token. */
export function formatValue(value: string): string {
  const chars = [...value].map((ch) => ch.codePointAt(0) ?? -1);
  const first = chars[0];
  const bare =
    first !== undefined &&
    !isQuoteChar(first) &&
    !isSeparatorChar(first) &&
    !isOperatorChar(first) &&
    !isSpace(first) &&
    chars.every((ch) => ch !== 0xfffd && isValueChar(ch));
  return bare ? value : quote(value);
}
