// Helpers for tests of layer handling (here and in the differ, snapshotter and e2e
// tests): build real layer tars, and describe a directory tree entry by entry so two
// trees can be compared (type, mode, owner, size, content hash, link target, hard-link
// groups, device numbers, xattrs, mtime).
import { createHash } from 'node:crypto';
import { type BigIntStats, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { compareUtf8 } from '@containerd-ts/string-order';
import { isSysError, lgetxattr, llistxattr, major, minor } from '@containerd-ts/sys';
import { compress as zstdCompress } from 'zstd-napi';
import { encodeHeader, padding, TypeFlag, trailer, type WriteHeader } from './tar-writer.js';

/** One entry of a test layer. Times are seconds (number) or nanoseconds (bigint). */
export interface LayerEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'link' | 'char' | 'block' | 'fifo';
  data?: string | Buffer;
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: number | bigint;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as SCHILY.xattr.* PAX records (values may be binary). */
  xattrs?: Record<string, string | Buffer>;
  /** Any other PAX records (e.g. `path` to test long names). */
  pax?: Record<string, string>;
}

const typeflags = {
  file: TypeFlag.reg,
  dir: TypeFlag.dir,
  symlink: TypeFlag.symlink,
  link: TypeFlag.link,
  char: TypeFlag.char,
  block: TypeFlag.block,
  fifo: TypeFlag.fifo,
} as const;

const DEFAULT_MTIME = 1_700_000_000;

/** A tar of the entries, in order (no compression). */
export function buildLayer(entries: readonly LayerEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith('/') ? 'dir' : 'file');
    const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
    const mtime = e.mtime ?? DEFAULT_MTIME;
    const seconds = typeof mtime === 'bigint' ? Number(mtime / 1_000_000_000n) : mtime;
    const pax = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(e.xattrs ?? {})) pax.set(`SCHILY.xattr.${k}`, Buffer.from(v));
    for (const [k, v] of Object.entries(e.pax ?? {})) pax.set(k, Buffer.from(v));
    if (typeof mtime === 'bigint' && mtime % 1_000_000_000n !== 0n) {
      const frac = (mtime % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
      pax.set('mtime', Buffer.from(`${seconds}.${frac}`));
    }
    const header: WriteHeader = {
      name: type === 'dir' && !e.name.endsWith('/') ? `${e.name}/` : e.name,
      typeflag: typeflags[type],
      linkname: e.linkname ?? '',
      mode: e.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      size: type === 'file' ? data.length : 0,
      mtime: seconds,
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      paxRecords: pax,
    };
    parts.push(encodeHeader(header));
    if (type === 'file' && data.length > 0) parts.push(data, padding(data.length));
  }
  parts.push(trailer());
  return Buffer.concat(parts);
}

export function gzipLayer(tar: Buffer): Buffer {
  return gzipSync(tar);
}

export function zstdLayer(tar: Buffer): Buffer {
  return zstdCompress(tar);
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** One file-system object as a comparable record. */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';
  mode: number;
  uid: number;
  gid: number;
  size: number | null;
  /** sha256 of a regular file's content. */
  content: string | null;
  linkname: string | null;
  rdev: string | null;
  mtimeNs: string;
  /** Other paths sharing this inode (regular files with more than one link). */
  hardlinks: string[];
  xattrs: Record<string, string>;
}

export interface SnapshotOptions {
  /** Leave out directory mtimes (they differ where a layer did not list the directory). */
  ignoreDirMtimes?: boolean;
  /** xattr names to include; default: all but trusted.* and security.selinux. */
  xattrFilter?: (name: string) => boolean;
}

function kindOf(st: BigIntStats): TreeEntry['type'] {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return 'socket';
}

/** Every object below `root` (root itself excluded), sorted by path. */
export function snapshotTree(root: string, options: SnapshotOptions = {}): TreeEntry[] {
  const filter = options.xattrFilter ?? ((n: string) => !n.startsWith('trusted.') && n !== 'security.selinux');
  const entries: TreeEntry[] = [];
  const byInode = new Map<string, string[]>();
  const visit = (rel: string) => {
    for (const name of readdirSync(root + rel).sort(compareUtf8)) {
      const path = `${rel}/${name}`;
      const full = root + path;
      const st = lstatSync(full, { bigint: true });
      const type = kindOf(st);
      const xattrs: Record<string, string> = {};
      let names: string[] = [];
      try {
        names = llistxattr(full);
      } catch (err) {
        if (!isSysError(err, 'ENOTSUP') && !isSysError(err, 'EOPNOTSUPP')) throw err;
      }
      for (const x of names.filter(filter).sort()) xattrs[x] = lgetxattr(full, x)?.toString('base64') ?? '';
      const entry: TreeEntry = {
        path,
        type,
        mode: Number(st.mode & 0o7777n),
        uid: Number(st.uid),
        gid: Number(st.gid),
        size: type === 'file' || type === 'symlink' ? Number(st.size) : null,
        content: type === 'file' ? createHash('sha256').update(readFileSync(full)).digest('hex') : null,
        linkname: type === 'symlink' ? readlinkSync(full) : null,
        rdev: type === 'char' || type === 'block' ? `${major(st.rdev)}:${minor(st.rdev)}` : null,
        mtimeNs: type === 'dir' && options.ignoreDirMtimes ? '-' : st.mtimeNs.toString(),
        hardlinks: [],
        xattrs,
      };
      if (type !== 'dir' && st.nlink > 1n) {
        const key = `${st.dev}:${st.ino}`;
        const group = byInode.get(key) ?? [];
        group.push(path);
        byInode.set(key, group);
      }
      entries.push(entry);
      if (type === 'dir') visit(path);
    }
  };
  visit('');
  const groupOf = new Map<string, string[]>();
  for (const group of byInode.values()) for (const p of group) groupOf.set(p, group);
  for (const e of entries) {
    const group = groupOf.get(e.path);
    if (group && group.length > 1) e.hardlinks = group.filter((p) => p !== e.path);
  }
  return entries;
}
