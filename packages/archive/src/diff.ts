// writeDiff: the layer tar of the changes from one directory tree to another, as
// containerd's archive.WriteDiff with continuity's double-walking fs.Changes: both trees
// walked in Go's lexical order, files compared by metadata (and content when mtimes
// were truncated), deletions written as `.wh.` whiteouts, hard links kept as links.
import { type BigIntStats, closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { isSysError, lgetxattr, major, minor } from '@containerd-ts/sys';
import { compareUtf8 } from '@containerd-ts/string-order';
import { basePath, dirPath, joinPath } from './root-path.js';
import { encodeHeader, padding, TypeFlag, trailer, type WriteHeader } from './tar-writer.js';

export type ChangeKind = 'unmodified' | 'add' | 'modify' | 'delete';

export interface WriteDiffOptions {
  /**
   * Modification time of whiteout entries. containerd uses the time of the diff; the
   * default here is the epoch, so that the same two trees always give the same tar
   * (the time is never applied: whiteouts delete, or become overlay char devices).
   */
  whiteoutTime?: Date;
  signal?: AbortSignal;
}

interface WalkEntry {
  /** Path below the root with a leading slash, e.g. `/etc/passwd`. */
  path: string;
  stat: BigIntStats;
  fullPath: string;
}

const NS = 1_000_000_000n;
const COPY_CHUNK = 1 << 20;
const S_IFMT = 0o170000n;
const S_IFDIR = 0o040000n;
const S_IFREG = 0o100000n;
const S_IFLNK = 0o120000n;
const S_IFCHR = 0o020000n;
const S_IFBLK = 0o060000n;
const S_IFIFO = 0o010000n;
const S_IFSOCK = 0o140000n;

/**
 * Writes the diff tar from `lowerRoot` to `upperRoot` into `out` (not ended: the caller
 * ends it, as containerd's writer is closed by its owner). An empty `lowerRoot` means
 * "everything in upper is new".
 */
export async function writeDiff(
  lowerRoot: string,
  upperRoot: string,
  out: NodeJS.WritableStream,
  options: WriteDiffOptions = {},
): Promise<void> {
  for await (const chunk of diffTar(lowerRoot, upperRoot, options)) {
    if (!out.write(chunk)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error) => {
          out.removeListener('drain', onDrain);
          out.removeListener('error', done);
          out.removeListener('close', onClose);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = () => done();
        const onClose = () => done(new Error('diff output closed'));
        out.on('drain', onDrain);
        out.on('error', done);
        out.on('close', onClose);
      });
    }
  }
}

/** The diff tar as a stream of chunks (pull-driven, so the consumer sets the pace). */
export async function* diffTar(
  lowerRoot: string,
  upperRoot: string,
  options: WriteDiffOptions = {},
): AsyncGenerator<Buffer> {
  const writer = new ChangeWriter(upperRoot, options.whiteoutTime ?? new Date(0));
  for (const change of changes(lowerRoot, upperRoot)) {
    options.signal?.throwIfAborted();
    yield* writer.handle(change.kind, change.path, change.stat);
  }
  yield trailer();
}

interface Change {
  kind: ChangeKind;
  path: string;
  stat: BigIntStats | null;
}

/** continuity's fs.Changes (double walk; single walk when there is no lower). */
export function* changes(lowerRoot: string, upperRoot: string): Generator<Change> {
  if (lowerRoot === '') {
    for (const e of walk(upperRoot)) yield { kind: 'add', path: e.path, stat: e.stat };
    return;
  }
  const lower = walk(lowerRoot);
  const upper = walk(upperRoot);
  let f1: WalkEntry | null = null;
  let f2: WalkEntry | null = null;
  let lowerDone = false;
  let upperDone = false;
  let rmdir = '';
  for (;;) {
    if (f1 === null && !lowerDone) {
      const n = lower.next();
      if (n.done) lowerDone = true;
      else f1 = n.value;
    }
    if (f2 === null && !upperDone) {
      const n = upper.next();
      if (n.done) upperDone = true;
      else f2 = n.value;
    }
    if (f1 === null && f2 === null) return;

    let kind: ChangeKind;
    let path: string;
    let stat: BigIntStats | null = null;
    if (f1 === null) kind = 'add';
    else if (f2 === null) kind = 'delete';
    else {
      const c = directoryCompare(f1.path, f2.path);
      kind = c < 0 ? 'delete' : c > 0 ? 'add' : 'modify';
    }

    if (kind === 'add') {
      rmdir = '';
      path = f2!.path;
      stat = f2!.stat;
      f2 = null;
    } else if (kind === 'delete') {
      const d = f1!;
      if (rmdir !== '' && d.path.startsWith(rmdir)) {
        f1 = null;
        continue;
      }
      if (isDir(d.stat)) rmdir = `${d.path}/`;
      else rmdir = '';
      path = d.path;
      f1 = null;
    } else {
      const a = f1!;
      const b = f2!;
      const same = sameFile(a, b);
      if (isDir(a.stat) && !isDir(b.stat)) rmdir = `${a.path}/`;
      else rmdir = '';
      path = b.path;
      stat = b.stat;
      f1 = null;
      f2 = null;
      if (same) {
        if (!isLinked(b.stat)) continue;
        kind = 'unmodified';
      }
    }
    yield { kind, path, stat };
  }
}

/** Pre-order walk in Go's filepath.Walk order (names sorted by bytes), root excluded. */
function* walk(root: string): Generator<WalkEntry> {
  lstatSync(root);
  yield* walkDir(root, '');
}

function* walkDir(root: string, rel: string): Generator<WalkEntry> {
  const names = readdirSync(rel === '' ? root : root + rel).sort(compareUtf8);
  for (const name of names) {
    const path = `${rel}/${name}`;
    const fullPath = root + path;
    const stat = lstatSync(fullPath, { bigint: true });
    yield { path, stat, fullPath };
    if (isDir(stat)) yield* walkDir(root, path);
  }
}

/** Paths compared bytewise with the separator sorting first (continuity's directoryCompare). */
function directoryCompare(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 || y >= 0xd800) {
      return compareSeparatorFirst(Buffer.from(a.slice(i)), Buffer.from(b.slice(i)));
    }
    if (x === 0x2f) x = 0;
    if (y === 0x2f) y = 0;
    return x - y;
  }
  return a.length - b.length;
}

function compareSeparatorFirst(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i] === 0x2f ? 0 : a[i]!;
    const y = b[i] === 0x2f ? 0 : b[i]!;
    if (x !== y) return x - y;
  }
  return a.length - b.length;
}

const fileType = (st: BigIntStats) => st.mode & S_IFMT;
const isDir = (st: BigIntStats) => fileType(st) === S_IFDIR;
/** A non-directory with more than one name (continuity's isLinked / GetLinkInfo). */
const isLinked = (st: BigIntStats) => !isDir(st) && st.nlink > 1n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

function capability(path: string): Buffer | null {
  try {
    return lgetxattr(path, 'security.capability');
  } catch (err) {
    if (isSysError(err, 'ENOTSUP') || isSysError(err, 'EOPNOTSUPP')) return null;
    throw err;
  }
}

/** continuity's sameFile: same inode, or same metadata and (when mtimes are whole seconds) content. */
function sameFile(a: WalkEntry, b: WalkEntry): boolean {
  if (a.stat.dev === b.stat.dev && a.stat.ino === b.stat.ino) return true;
  const s1 = a.stat;
  const s2 = b.stat;
  if (s1.mode !== s2.mode || s1.uid !== s2.uid || s1.gid !== s2.gid || s1.rdev !== s2.rdev) return false;
  const c1 = capability(a.fullPath);
  const c2 = capability(b.fullPath);
  if ((c1 === null) !== (c2 === null) || (c1 !== null && c2 !== null && !c1.equals(c2))) return false;
  if (isDir(s1)) return true;
  if (s1.size !== s2.size) return false;
  if (floorDiv(s1.mtimeNs, NS) !== floorDiv(s2.mtimeNs, NS)) return false;
  const n1 = s1.mtimeNs - floorDiv(s1.mtimeNs, NS) * NS;
  const n2 = s2.mtimeNs - floorDiv(s2.mtimeNs, NS) * NS;
  if (n1 === 0n && n2 === 0n) {
    // Times may have been truncated (a tar without sub-second times): look at the content.
    if (fileType(s1) === S_IFLNK) return readlinkSync(a.fullPath) === readlinkSync(b.fullPath);
    if (s1.size === 0n) return true;
    return sameContent(a.fullPath, b.fullPath);
  }
  return n1 === n2;
}

function sameContent(p1: string, p2: string): boolean {
  // Synchronous like the walk itself; files compared here have equal size and mtime.
  const f1 = openSync(p1, 'r');
  try {
    const f2 = openSync(p2, 'r');
    try {
      const b1 = Buffer.allocUnsafe(32 * 1024);
      const b2 = Buffer.allocUnsafe(32 * 1024);
      for (;;) {
        const n1 = readFull(f1, b1);
        const n2 = readFull(f2, b2);
        if (n1 !== n2 || !b1.subarray(0, n1).equals(b2.subarray(0, n2))) return false;
        if (n1 < b1.length) return true;
      }
    } finally {
      closeSync(f2);
    }
  } finally {
    closeSync(f1);
  }
}

function readFull(fd: number, buf: Buffer): number {
  let n = 0;
  while (n < buf.length) {
    const r = readSync(fd, buf, n, buf.length - n, null);
    if (r === 0) break;
    n += r;
  }
  return n;
}

/** containerd's ChangeWriter: turns changes into tar entries. */
class ChangeWriter {
  private readonly inodeSrc = new Map<bigint, string>();
  private readonly inodeRefs = new Map<bigint, string[]>();
  private readonly addedDirs = new Set<string>();
  private readonly whiteoutTime: number;

  constructor(
    private readonly source: string,
    whiteoutTime: Date,
  ) {
    // Go rounds the time of headers written without an explicit format.
    this.whiteoutTime = Math.round(whiteoutTime.getTime() / 1000);
  }

  async *handle(kind: ChangeKind, p: string, st: BigIntStats | null): AsyncGenerator<Buffer> {
    if (kind === 'delete') {
      const name = joinPath(dirPath(p), `.wh.${basePath(p)}`).slice(1);
      const hdr: WriteHeader = {
        name,
        typeflag: TypeFlag.reg,
        mode: 0,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: this.whiteoutTime,
      };
      yield* this.includeParents(hdr);
      yield encodeHeader(hdr);
      return;
    }
    if (st === null) throw new Error(`no file info for ${p}`);
    const source = joinPath(this.source, p);
    const type = fileType(st);
    if (type === S_IFSOCK) return;

    let name = p.startsWith('/') ? p.slice(1) : p;
    const hdr: WriteHeader = {
      name,
      typeflag: TypeFlag.reg,
      mode: Number(st.mode & 0o7777n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: 0,
      mtime: Number(floorDiv(st.mtimeNs, NS)),
    };
    switch (type) {
      case S_IFREG:
        hdr.size = Number(st.size);
        break;
      case S_IFDIR:
        hdr.typeflag = TypeFlag.dir;
        if (!name.endsWith('/')) name += '/';
        break;
      case S_IFLNK:
        hdr.typeflag = TypeFlag.symlink;
        hdr.linkname = readlinkSync(source);
        break;
      case S_IFCHR:
      case S_IFBLK:
        hdr.typeflag = type === S_IFCHR ? TypeFlag.char : TypeFlag.block;
        hdr.devmajor = major(st.rdev);
        hdr.devminor = minor(st.rdev);
        break;
      case S_IFIFO:
        hdr.typeflag = TypeFlag.fifo;
        break;
      default:
        throw new Error(`archive/tar: unknown file mode ${st.mode.toString(8)}`);
    }
    hdr.name = name;

    let additionalLinks: string[] | undefined;
    if (isLinked(st)) {
      const src = this.inodeSrc.get(st.ino);
      if (src !== undefined) {
        hdr.typeflag = TypeFlag.link;
        hdr.linkname = src;
        hdr.size = 0;
      } else {
        if (kind === 'unmodified') {
          const refs = this.inodeRefs.get(st.ino);
          if (refs) refs.push(name);
          else this.inodeRefs.set(st.ino, [name]);
          return;
        }
        this.inodeSrc.set(st.ino, name);
        additionalLinks = this.inodeRefs.get(st.ino);
        this.inodeRefs.delete(st.ino);
      }
    } else if (kind === 'unmodified') {
      return;
    }

    const cap = capability(source);
    if (cap !== null && cap.length > 0) hdr.paxRecords = new Map([['SCHILY.xattr.security.capability', cap]]);

    yield* this.includeParents(hdr);
    yield encodeHeader(hdr);
    if (hdr.typeflag === TypeFlag.reg && hdr.size > 0) {
      yield* copyFile(source, hdr.size);
      yield padding(hdr.size);
    }

    if (additionalLinks) {
      const target = hdr.name;
      for (const extra of additionalLinks) {
        const link: WriteHeader = { ...hdr, name: extra, typeflag: TypeFlag.link, linkname: target, size: 0 };
        yield* this.includeParents(link);
        yield encodeHeader(link);
      }
    }
  }

  /** Writes the (unchanged) parent directory of an entry first, once. */
  private async *includeParents(hdr: WriteHeader): AsyncGenerator<Buffer> {
    const name = hdr.name.replace(/\/+$/, '');
    const fname = joinPath(this.source, name);
    const parent = dirPath(name);
    const pname = joinPath(this.source, parent);
    if (fname !== this.source && pname !== this.source && !this.addedDirs.has(parent)) {
      this.addedDirs.add(parent);
      const st = statSync(pname, { bigint: true });
      yield* this.handle('modify', parent, st);
    }
    if (hdr.typeflag === TypeFlag.dir) this.addedDirs.add(name);
  }
}

/** Exactly `size` bytes of a file, failing when it is shorter or longer (it changed). */
async function* copyFile(path: string, size: number): AsyncGenerator<Buffer> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    let left = size;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(left, COPY_CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) throw new Error(`short write copying file ${path}`);
      left -= bytesRead;
      yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
    }
    const extra = await fh.read(Buffer.alloc(1), 0, 1, null);
    if (extra.bytesRead !== 0) throw new Error(`failed to copy ${path}: archive/tar: write too long`);
  } finally {
    await fh?.close();
  }
}
