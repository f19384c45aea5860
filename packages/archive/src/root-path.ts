// Lexical path helpers with Go's path/filepath semantics, and rootPath: a path joined to
// a root with every symlink on the way resolved inside that root (continuity's
// fs.RootPath), which is what keeps layer entries from reaching outside the root.
import { lstatSync, readlinkSync } from 'node:fs';
import { posix } from 'node:path';

/** Go's filepath.Clean: lexical, no trailing slash, "" → ".". */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const n = posix.normalize(p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** Go's filepath.Join: empty elements skipped, result cleaned, "" when all are empty. */
export function joinPath(...parts: string[]): string {
  let joined = '';
  for (const part of parts) {
    if (part === '') continue;
    joined = joined === '' ? part : `${joined}/${part}`;
  }
  return joined === '' ? '' : cleanPath(joined);
}

/** Go's filepath.Split: dir keeps its trailing slash; file is the part after the last slash. */
export function splitPath(p: string): [dir: string, file: string] {
  const i = p.lastIndexOf('/');
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

/** Go's filepath.Dir. */
export function dirPath(p: string): string {
  const [dir] = splitPath(p);
  return cleanPath(dir);
}

/** Go's filepath.Base. */
export function basePath(p: string): string {
  if (p === '') return '.';
  let s = p;
  while (s.length > 1 && s.endsWith('/')) s = s.slice(0, -1);
  if (s === '/') return '/';
  return s.slice(s.lastIndexOf('/') + 1);
}

const MAX_LINKS = 255;

/** An error that classifies as "too many symbolic links" (ELOOP). */
export class TooManyLinksError extends Error {
  readonly code = 'ELOOP';
  constructor() {
    super('too many links');
    this.name = 'TooManyLinksError';
  }
}

interface LinkCounter {
  n: number;
}

/**
 * Joins `path` to `root`, resolving each symlink met on the way as if `root` were `/`:
 * absolute targets restart at the root, `..` stops at the root, and a component that
 * does not exist yet is taken as a plain directory. The result is always `root` or
 * below it. Symlink cycles fail with ELOOP after 255 links.
 */
export function rootPath(root: string, path: string): string {
  return resolveInRoot(root, path).path;
}

/** rootPath, also telling how many symlinks were followed on the way. */
export function resolveInRoot(root: string, path: string): { path: string; links: number } {
  if (path === '') return { path: root, links: 0 };
  const links: LinkCounter = { n: 0 };
  let p = path;
  for (;;) {
    const before = links.n;
    const resolved = walkLinks(root, p, links);
    p = resolved;
    if (before === links.n) {
      const rooted = joinPath('/', resolved);
      if (p === rooted) return { path: joinPath(root, rooted), links: links.n };
      p = rooted;
    }
  }
}

function walkLink(root: string, path: string, links: LinkCounter): [string, boolean] {
  if (links.n > MAX_LINKS) throw new TooManyLinksError();
  const p = joinPath('/', path);
  if (p === '/') return [p, false];
  const real = joinPath(root, p);
  const st = lstatSync(real, { throwIfNoEntry: false });
  if (st === undefined || !st.isSymbolicLink()) return [p, false];
  const target = readlinkSync(real);
  links.n++;
  return [target, true];
}

function walkLinks(root: string, path: string, links: LinkCounter): string {
  const [dir, file] = splitPath(path);
  if (dir === '') return walkLink(root, file, links)[0];
  if (file === '') {
    if (dir === '/') return dir;
    return walkLinks(root, dir.slice(0, -1), links);
  }
  const newdir = walkLinks(root, dir, links);
  const [newpath, isLink] = walkLink(root, joinPath(newdir, file), links);
  if (!isLink || newpath.startsWith('/')) return newpath;
  return joinPath(newdir, newpath);
}
