// Parser for containerd's filter syntax:
//
//   selectors := selector ("," selector)*
//   selector  := fieldpath [operator value]
//   fieldpath := field ("." field)*
//   field     := quoted | [A-Za-z0-9_]+
//   operator  := "==" | "!=" | "~="
//   value     := quoted | [^\s,]+        (/…/ and |…| quote only the value of ~=)
//
// Errors read exactly like containerd's: `filters: parse error: [before >|x|< after]: reason`,
// thrown as invalid-argument ContainerdErrors (so the message ends in ": invalid argument").

import { ContainerdError } from '@containerd-ts/errdefs';
import { AllOf, AnyOf, always, type Filter, type Operator, Selector, type SelectorSpec } from './filter.js';
import { QuoteSyntaxError, unquote } from './quote.js';
import { compileRegexp, RegexpSyntaxError } from './regexp.js';
import { EOF, ILLEGAL, Scanner } from './scanner.js';

/** A malformed filter: `position` indexes `input` where parsing stopped, `reason` says why. */
export class FilterParseError extends ContainerdError {
  readonly input: string;
  readonly position: number;
  readonly reason: string;

  constructor(input: string, position: number, reason: string, cause?: unknown) {
    super('invalid-argument', `filters: parse error: ${locate(input, position)}: ${reason}`, { cause });
    this.input = input;
    this.position = position;
    this.reason = reason;
  }
}

/** `[before >|c|< after]`, or `[input]` when the position is at the end. */
function locate(input: string, position: number): string {
  const cp = input.codePointAt(position);
  if (cp === undefined) return `[${input}]`;
  const at = String.fromCodePoint(cp);
  return `[${input.slice(0, position)} >|${at}|< ${input.slice(position + at.length)}]`;
}

interface ParsedSelector extends SelectorSpec {
  /** Where the value starts, for errors found when compiling a `~=` pattern. */
  readonly valuePosition: number;
}

const operators: Record<string, Operator> = { '==': '==', '!=': '!=', '~=': '~=' };

class Parser {
  private readonly scanner: Scanner;

  constructor(private readonly input: string) {
    this.scanner = new Scanner(input);
  }

  private fail(position: number, reason: string, cause?: unknown): FilterParseError {
    return new FilterParseError(this.input, position, reason, cause);
  }

  selectors(): Filter {
    const parsed = [this.selector()];
    for (;;) {
      const ch = this.scanner.peek();
      if (ch === EOF) break;
      if (ch !== 0x2c) {
        // The lookahead is the raw next character: whitespace after a value is an error here.
        const shown = ch === ILLEGAL ? '\ufffd' : String.fromCodePoint(ch);
        throw this.fail(this.scanner.offset, `unexpected input: ${shown}`);
      }
      this.scanner.scan();
      parsed.push(this.selector());
    }
    // Patterns are compiled once the whole string is known to be well-formed, so a syntax error
    // later in the string is what gets reported, as containerd would.
    return new AllOf(parsed.map((p) => this.compile(p)));
  }

  private compile(parsed: ParsedSelector): Selector {
    if (parsed.operator !== '~=') return new Selector(parsed);
    try {
      return new Selector(parsed, compileRegexp(parsed.value ?? ''));
    } catch (err) {
      if (err instanceof RegexpSyntaxError) throw this.fail(parsed.valuePosition, err.message, err);
      throw err;
    }
  }

  private selector(): ParsedSelector {
    const fieldpath = this.fieldpath();
    const ch = this.scanner.peek();
    if (ch === 0x2c || ch === EOF) return { fieldpath, operator: 'present', valuePosition: -1 };
    const operator = this.operator();
    const tok = this.scanner.scan();
    switch (tok.kind) {
      case 'value':
      case 'field':
        return { fieldpath, operator, value: tok.text, valuePosition: tok.pos };
      case 'quoted': {
        const value = this.unquote(tok.pos, tok.text, operator === '~=');
        return { fieldpath, operator, value, valuePosition: tok.pos };
      }
      case 'illegal':
        throw this.fail(tok.pos, this.scanner.error);
      default:
        throw this.fail(tok.pos, 'expected value or quoted');
    }
  }

  private fieldpath(): string[] {
    const path = [this.field()];
    while (this.scanner.peek() === 0x2e) {
      this.scanner.scan();
      path.push(this.field());
    }
    return path;
  }

  private field(): string {
    const tok = this.scanner.scan();
    switch (tok.kind) {
      case 'field':
        return tok.text;
      case 'quoted':
        return this.unquote(tok.pos, tok.text, false);
      case 'illegal':
        throw this.fail(tok.pos, this.scanner.error);
      default:
        throw this.fail(tok.pos, 'expected field or quoted');
    }
  }

  private operator(): Operator {
    const tok = this.scanner.scan();
    if (tok.kind === 'operator') {
      const op = operators[tok.text];
      if (op === undefined) throw this.fail(tok.pos, `unsupported operator ${JSON.stringify(tok.text)}`);
      return op;
    }
    if (tok.kind === 'illegal') throw this.fail(tok.pos, this.scanner.error);
    throw this.fail(tok.pos, 'expected an operator ("=="|"!="|"~=")');
  }

  /** Field names and ==/!= values take only "…"; a ~= value may also be /…/ or |…|. */
  private unquote(position: number, token: string, regexpQuotes: boolean): string {
    if (!regexpQuotes && token[0] !== '"') throw this.fail(position, 'invalid quote encountered');
    try {
      return unquote(token);
    } catch (err) {
      if (err instanceof QuoteSyntaxError) throw this.fail(position, `unquoting failed: ${err.message}`, err);
      throw err;
    }
  }
}

/**
 * Parses one filter string: comma-separated selectors that must all match.
 * The empty string matches everything. Throws FilterParseError (invalid argument).
 */
export function parse(filter: string): Filter {
  if (filter === '') return always;
  return new Parser(filter).selectors();
}

/**
 * Parses several filter strings into one filter that matches when any of them does.
 * No filters at all matches everything. Throws FilterParseError for the first bad one.
 */
export function parseAll(filters: readonly string[]): Filter {
  if (filters.length === 0) return always;
  return new AnyOf(filters.map(parse));
}
