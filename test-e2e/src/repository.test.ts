// The repository stands on its own: no tracked file refers to a path outside the checkout
// (a sibling directory of the clone, the machine it was developed on, a home directory).
// A clean clone has none of those, and CI may have them beside the clone, so only this
// test notices. The patterns are built from pieces so that this file does not match them.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, requireTools } from './harness.js';

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Where an absolute path can start: not inside a longer path, word or `<placeholder>/…`. */
const start = '(?<=^|[\\s\'"`(=:,[{]|file://)';
/** `path` as a whole token, or its beginning. */
const absolute = (path: string) => new RegExp(`${start}${escapeRegExp(path)}(?=/|$|[^\\w.-])`);

function rules(): Array<[string, RegExp]> {
  const found: Array<[string, RegExp]> = [
    ['a directory beside the checkout', new RegExp(escapeRegExp(['..', 'shared'].join('/')))],
    ['the development machine', absolute(['', 'work'].join('/'))],
    ['a home directory', new RegExp(`${start}(?:/${'home'}/[\\w.-]+|/${'Users'}/[\\w.-]+|/${'root'})/[\\w.-]+/`)],
    ['this checkout', absolute(repoRoot)],
  ];
  // Where this clone lives, unless that is a top-level directory whose name could be anything.
  if (dirname(repoRoot).split('/').length > 2) found.push(['the directory holding this checkout', absolute(dirname(repoRoot))]);
  const home = homedir();
  if (home !== '/' && home !== ['', 'root'].join('/')) found.push(['the home directory', absolute(home)]);
  return found;
}

describe('the repository', () => {
  it('refers to no path outside it in any tracked file', () => {
    requireTools('listing the tracked files', 'git');
    const files = execFileSync('git', ['-C', repoRoot, 'ls-files', '-z'], { encoding: 'utf8', maxBuffer: 64 << 20 })
      .split('\0')
      .filter((f) => f !== '' && existsSync(join(repoRoot, f)));
    expect(files).toContain('test-e2e/src/repository.test.ts');
    const checks = rules();
    const offending: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(repoRoot, file), 'utf8');
      if (text.includes('\0')) continue; // binary
      text.split('\n').forEach((line, i) => {
        for (const [what, pattern] of checks) {
          if (pattern.test(line)) offending.push(`${file}:${i + 1}: ${what}: ${line.trim().slice(0, 160)}`);
        }
      });
    }
    expect(offending).toEqual([]);
  });
});
