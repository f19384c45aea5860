// Compiles the `~=` operand, written in Go's RE2 syntax, with re2js (a port of RE2/RE2J, the
// engine and syntax of Go's regexp that containerd uses). Matching takes time linear in the
// subject's length whatever the pattern — a filter sent by a client cannot make the daemon
// backtrack for ever (`name~=(a+)+$` against a long string of a's) — and what RE2 rejects
// (back-references, look-around, repeat counts over 1000) is rejected with Go's message.
import re2js from './re2js.cjs';

export class RegexpSyntaxError extends Error {
  /** `message` is Go's: `error parsing regexp: <code>: \`<expr>\``. */
  constructor(message: string) {
    super(message);
    this.name = 'RegexpSyntaxError';
  }
}

/** A compiled `~=` pattern: whether it matches anywhere in a string (Go's MatchString). */
export interface Pattern {
  test(subject: string): boolean;
}

/** Compiles an RE2 pattern; throws RegexpSyntaxError when RE2 rejects it. */
export function compileRegexp(pattern: string): Pattern {
  const { RE2JS, RE2JSException } = re2js();
  let compiled: ReturnType<typeof RE2JS.compile>;
  try {
    compiled = RE2JS.compile(pattern);
  } catch (err) {
    if (err instanceof RE2JSException) {
      const message = err.message.startsWith('error parsing regexp:') ? err.message : `error parsing regexp: ${err.message}`;
      throw new RegexpSyntaxError(message);
    }
    throw err;
  }
  return { test: (subject: string) => compiled.test(subject) };
}
