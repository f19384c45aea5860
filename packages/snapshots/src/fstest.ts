// File-system fixtures for snapshotter and differ tests, as continuity's fstest: appliers
// that change a tree, and a comparison of two trees by everything a layer carries (type,
// mode, owner, size, content digest, link target, device number, xattrs, hard-link groups).
import { createHash } from 'node:crypto';
import { type BigIntStats, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, lchown, link, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { lgetxattr, llistxattr } from '@containerd-ts/sys';
import { copyDir } from './copy.js';

/** Changes a tree rooted at `root`. */
export type Applier = (root: string) => Promise<void>;

const at = (root: string, name: string): string => join(root, name.replace(/^\/+/, ''));

/** Runs appliers in order. */
export const apply =
  (...appliers: Applier[]): Applier =>
  async (root) => {
    for (const a of appliers) await a(root);
  };

/** Writes a file (truncating one that exists) and sets its mode exactly. */
export const createFile =
  (name: string, content: string | Uint8Array, mode: number): Applier =>
  async (root) => {
    const path = at(root, name);
    await writeFile(path, content, { mode });
    await chmod(path, mode);
  };

/** Creates a directory and any missing parents, and sets its mode exactly. */
export const createDir =
  (name: string, mode: number): Applier =>
  async (root) => {
    const path = at(root, name);
    const first = await mkdir(path, { recursive: true, mode });
    if (first !== undefined) {
      // Parents created on the way get the same mode, whatever the umask.
      for (let p = path; p.length >= first.length; p = dirname(p)) await chmod(p, mode);
    }
    await chmod(path, mode);
  };

/** Removes a path and everything under it; a missing path is fine. */
export const removeAll =
  (name: string): Applier =>
  async (root) => {
    await rm(at(root, name), { recursive: true, force: true });
  };

/** Changes a path's owner (not following a final symlink). */
export const chown =
  (name: string, uid: number, gid: number): Applier =>
  async (root) => {
    await lchown(at(root, name), uid, gid);
  };

/** Makes `newname` a hard link to `oldname`. */
export const hardlink =
  (oldname: string, newname: string): Applier =>
  async (root) => {
    await link(at(root, oldname), at(root, newname));
  };

/** Makes `newname` a symlink with target `target` (taken literally). */
export const createSymlink =
  (target: string, newname: string): Applier =>
  async (root) => {
    await symlink(target, at(root, newname));
  };

/**
 * Renames a path. Where the file system refuses with EXDEV (an overlay directory from a
 * lower layer without redirect_dir), it copies and removes, as mv(1) and other programs do.
 */
export const renamePath =
  (oldname: string, newname: string): Applier =>
  async (root) => {
    const from = at(root, oldname);
    const to = at(root, newname);
    try {
      await rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await copyDir(to, from);
      await rm(from, { recursive: true, force: true });
    }
  };

/** One entry of a tree as compared. */
interface Entry {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  digest?: string;
  target?: string;
  rdev?: string;
  xattrs: string[];
}

function typeOf(st: BigIntStats): string {
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

/** What a tree holds, by path relative to its root (the root itself excluded). */
export interface TreeManifest {
  entries: Map<string, Entry>;
  /** Paths of regular files sharing an inode, each group sorted, groups sorted. */
  hardlinks: string[][];
}

/** Builds the manifest of the tree under `root`. */
export async function treeManifest(root: string): Promise<TreeManifest> {
  const entries = new Map<string, Entry>();
  const inodes = new Map<string, string[]>();
  // Synchronous calls: a test helper, and several times faster than awaited ones.
  const visit = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const childRel = rel === '' ? `/${name}` : `${rel}/${name}`;
      const child = join(root, childRel);
      const st = lstatSync(child, { bigint: true });
      const xattrs = llistxattr(child)
        .sort()
        .map((x) => `${x}=${lgetxattr(child, x)?.toString('hex') ?? ''}`);
      const entry: Entry = {
        type: typeOf(st),
        mode: (Number(st.mode) & 0o7777).toString(8),
        uid: Number(st.uid),
        gid: Number(st.gid),
        xattrs,
      };
      if (st.isFile()) {
        entry.size = Number(st.size);
        entry.digest = `sha256:${createHash('sha256').update(readFileSync(child)).digest('hex')}`;
        const key = `${st.dev}:${st.ino}`;
        inodes.set(key, [...(inodes.get(key) ?? []), childRel]);
      } else if (st.isSymbolicLink()) {
        entry.target = readlinkSync(child);
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        entry.rdev = st.rdev.toString();
      }
      entries.set(childRel, entry);
      if (st.isDirectory()) visit(childRel);
    }
  };
  visit('');
  const hardlinks = [...inodes.values()]
    .filter((paths) => paths.length > 1)
    .map((paths) => paths.sort())
    .sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
  return { entries, hardlinks };
}

/** Differences between two trees, one line each; empty when they are equal. */
export async function diffTrees(expected: string, actual: string): Promise<string[]> {
  const [a, b] = await Promise.all([treeManifest(expected), treeManifest(actual)]);
  const lines: string[] = [];
  for (const [path, ea] of a.entries) {
    const eb = b.entries.get(path);
    if (!eb) {
      lines.push(`- ${path} (${ea.type})`);
      continue;
    }
    for (const field of ['type', 'mode', 'uid', 'gid', 'size', 'digest', 'target', 'rdev', 'xattrs'] as const) {
      const va = JSON.stringify(ea[field]);
      const vb = JSON.stringify(eb[field]);
      if (va !== vb) lines.push(`~ ${path}: ${field} ${va} != ${vb}`);
    }
  }
  for (const [path, eb] of b.entries) if (!a.entries.has(path)) lines.push(`+ ${path} (${eb.type})`);
  const ha = JSON.stringify(a.hardlinks);
  const hb = JSON.stringify(b.hardlinks);
  if (ha !== hb) lines.push(`~ hard links ${ha} != ${hb}`);
  return lines;
}

/** Throws when the trees under `expected` and `actual` differ, listing the differences. */
export async function checkDirectoryEqual(expected: string, actual: string): Promise<void> {
  const lines = await diffTrees(expected, actual);
  if (lines.length > 0) throw new Error(`directory diff between ${expected} and ${actual}\n${lines.join('\n')}`);
}
