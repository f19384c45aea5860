import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { basePath, cleanPath, dirPath, joinPath, rootPath, splitPath } from './root-path.js';

let tmp: string;
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'root-path-'));
});
afterEach(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Creates a symlink at `path` (below tmp) pointing to `target`, with its parent directories. */
function link(target: string, path: string): void {
  mkdirSync(dirname(join(tmp, path)), { recursive: true });
  symlinkSync(target, join(tmp, path));
}

describe('Go path helpers', () => {
  it('clean, join, split, dir and base behave as path/filepath', () => {
    expect(cleanPath('')).toBe('.');
    expect(cleanPath('a//b/./c/..')).toBe('a/b');
    expect(cleanPath('/../x/')).toBe('/x');
    expect(cleanPath('../../etc/x')).toBe('../../etc/x');
    expect(joinPath('', '')).toBe('');
    expect(joinPath('/', '..')).toBe('/');
    expect(joinPath('a', '', 'b/')).toBe('a/b');
    expect(splitPath('a/b/c')).toEqual(['a/b/', 'c']);
    expect(splitPath('abc')).toEqual(['', 'abc']);
    expect(splitPath('a/')).toEqual(['a/', '']);
    expect(dirPath('/a/b')).toBe('/a');
    expect(dirPath('b')).toBe('.');
    expect(basePath('/a/b/')).toBe('b');
    expect(basePath('/')).toBe('/');
  });
});

// The cases of continuity's TestRootPath: [symlinks to create, scope, unresolved, expected].
describe('rootPath', () => {
  const cases: Array<{ name: string; links: Array<[string, string]>; scope?: string; path: string; expected: string }> = [
    { name: 'absolute link', links: [['/b', 'fs/a/d']], path: 'fs/a/d/c/data', expected: 'b/c/data' },
    { name: 'relative link', links: [['a', 'fs/i']], path: 'fs/i', expected: 'fs/a' },
    { name: 'root itself is not resolved', links: [['realdir', 'linkdir']], scope: 'linkdir', path: 'foo/bar', expected: 'foo/bar' },
    { name: 'last component is resolved', links: [['/b', 'fs/a/d']], path: 'fs/a/d', expected: 'b' },
    { name: 'relative link up a level', links: [['../b', 'fs/a/e']], path: 'fs/a/e/c/data', expected: 'fs/b/c/data' },
    { name: 'relative link up a level, scoped', links: [['../b', 'fs/a/e']], scope: 'fs/a', path: 'e', expected: 'b' },
    { name: 'deep relative link stops at the root', links: [['../../../../test', 'fs/a/f']], path: 'fs/a/f', expected: 'test' },
    { name: 'deep relative link, scoped', links: [['../../../../test', 'fs/a/f']], scope: 'fs', path: 'a/f', expected: 'test' },
    {
      name: 'chain of relative links',
      links: [
        ['../g', 'fs/b/h'],
        ['../../../../../../../../../../../../root', 'fs/g'],
      ],
      path: 'fs/b/h',
      expected: 'root',
    },
    { name: 'breakout path', links: [['../i/a', 'fs/j/k']], scope: 'fs/j', path: 'k', expected: 'i/a' },
    { name: 'link to /', links: [['/', 'foo']], path: 'foo', expected: '' },
    { name: 'link to /../../', links: [['/../../', 'foo']], path: 'foo', expected: '' },
    { name: 'link to ../../', links: [['../../', 'foo']], path: 'foo', expected: '' },
    { name: 'relative link into a subdirectory', links: [['baz/target', 'bar/foo']], path: 'bar/foo', expected: 'bar/baz/target' },
    {
      name: 'non-existent components before a link to /',
      links: [
        ['/', 'root/slash'],
        ['/idontexist/../slash', 'root/sym'],
      ],
      scope: 'root',
      path: 'sym/file',
      expected: 'file',
    },
    {
      name: 'no lexical cleaning across a link',
      links: [
        ['/foo/bar', 'root/sym'],
        ['/sym/../baz', 'root/hello'],
      ],
      scope: 'root',
      path: 'hello',
      expected: 'foo/baz',
    },
    { name: 'dotdot in the path', links: [], path: '../../etc/passwd', expected: 'etc/passwd' },
    { name: 'absolute path', links: [], path: '/abs/path', expected: 'abs/path' },
  ];

  for (const c of cases) {
    it(c.name, () => {
      for (const [target, path] of c.links) link(target, path);
      const root = c.scope ? join(tmp, c.scope) : tmp;
      expect(rootPath(root, c.path)).toBe(c.expected === '' ? root : join(root, c.expected));
    });
  }

  it('follows a complex chain of links', () => {
    mkdirSync(join(tmp, 'root2'));
    link('root2', 'root');
    link('r/s', 'root/a');
    link('../root/t', 'root/r');
    link('/../u', 'root/root/t/s/b');
    link('.', 'root/u/c');
    link('../v', 'root/u/x/y');
    link('/../w', 'root/u/v');
    const root = join(tmp, 'root');
    expect(rootPath(root, 'a/b/c/x/y/z')).toBe(join(root, 'w/z'));
  });

  it('fails on cycles with too many links', () => {
    link('foo', 'root/foo');
    expect(() => rootPath(join(tmp, 'root'), 'foo')).toThrow('too many links');
    link('baz', 'r2/bar');
    link('../bak', 'r2/baz');
    link('/bar', 'r2/bak');
    expect(() => rootPath(join(tmp, 'r2'), 'bar')).toThrow('too many links');
  });

  it('returns the root for an empty path', () => {
    expect(rootPath(tmp, '')).toBe(tmp);
  });
});
