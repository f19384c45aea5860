// applyLayer: unpacks an OCI layer tar stream into a directory with containerd's
// semantics (archive.Apply): whiteouts, opaque directories, overlay-style whiteouts,
// ownership, modes, nanosecond mtimes, xattrs, and every entry kept inside the root.
import { createHash } from 'node:crypto';
import {
  closeSync,
  constants as fsConstants,
  fchmodSync,
  fchownSync,
  futimesSync,
  chmodSync,
  lchownSync,
  lutimesSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeSync,
  readFileSync,
  type BigIntStats,
  type Stats,
} from 'node:fs';
import { compareUtf8 } from '@containerd-ts/string-order';
import {
  isSysError,
  lgetxattr,
  llistxattr,
  lsetxattr,
  makedev,
  mknod,
  utimensatNoFollow,
  XATTR_CREATE,
} from '@containerd-ts/sys';
import { applyInWorker } from './apply-in-worker.js';
import { type Compression, decompressKnown, sniffCompression } from './compression.js';
import { decompressInWorker, decompressionWorkerFree } from './decompress-worker.js';
import { InvalidArchiveError } from './errors.js';
import { diffCompression } from './media-types.js';
import { basePath, cleanPath, dirPath, joinPath, resolveInRoot, rootPath, splitPath } from './root-path.js';
import { createTarReader, type EntryStream as Source, type TarHeader } from './tar-reader.js';

export { InvalidArchiveError };

const WHITEOUT_PREFIX = '.wh.';
const WHITEOUT_OPAQUE = '.wh..wh..opq';
const MAX_TIME_NS = (1n << 63n) - 1n;

/** How whiteout entries are turned into file-system changes. */
export type WhiteoutMode =
  /** Delete the whited-out paths from the tree (a merged view or a copy of the lowers). */
  | 'remove'
  /** Write overlayfs whiteouts (char device 0:0) and `trusted.overlay.opaque=y` into an upper dir. */
  | 'overlay'
  /** Keep `.wh.*` entries as files (aufs reads them itself). */
  | 'aufs';

/** The part of a logger the applier uses (the daemon's Logger fits). */
export interface ApplyLogger {
  warn(obj: object | string, msg?: string): void;
  debug(obj: object | string, msg?: string): void;
}

export interface ApplyOptions {
  /**
   * Media type of the blob; decides decompression as containerd does (plain OCI tar is
   * read as is, gzip/zstd/Docker types are detected by their magic bytes). Without it,
   * the magic bytes decide. An unknown layer media type is `not implemented`.
   */
  mediaType?: string;
  /** Default `remove`. */
  whiteouts?: WhiteoutMode;
  /**
   * Lower directories, topmost first (overlay's `lowerdir=` order). A parent directory
   * the layer does not list is created with the owner, mode, times and xattrs it has in
   * the first lower that holds it, so the upper dir does not hide them.
   */
  parents?: readonly string[];
  /**
   * Overlay mode for an overlay mounted with `userxattr`: the opaque marker is
   * `user.overlay.opaque` instead of `trusted.overlay.opaque`.
   */
  userxattr?: boolean;
  /** Entries for which this returns false are skipped. */
  filter?: (header: TarHeader) => boolean;
  signal?: AbortSignal;
  log?: ApplyLogger;
  /**
   * Where the work runs. `true` (default): the whole apply — tar parsing and every file
   * syscall — runs in a worker thread of the apply pool, with decompression and hashing in
   * a worker of its own, so this thread only feeds it the compressed bytes (applies beyond
   * the pool's size wait for a worker). `'decompress'`: decompression and hashing in a
   * worker, parsing and writing on this thread. `false`: everything here (zlib still
   * inflates on the libuv pool). A `filter` (a function, which cannot cross to a worker)
   * makes `true` act as `'decompress'`.
   */
  worker?: boolean | 'decompress';
  /**
   * The source's chunks are this apply's alone (a fresh file read stream: nothing else holds
   * or reuses their memory). With the apply worker, a chunk that fills its whole ArrayBuffer
   * is then handed over by transfer instead of copied (the source must not touch it again).
   */
  ownedChunks?: boolean;
}

export interface ApplyResult {
  /** Digest of the uncompressed stream (the layer's diff ID). */
  digest: string;
  /** Size of the uncompressed stream in bytes. */
  size: number;
  /** What the stream turned out to be compressed with. */
  compression: Compression;
  /** Tar entries read (including skipped ones and whiteouts). */
  entries: number;
}

/**
 * Applies the layer read from `source` (compressed or not) to `root`. Entries are
 * written as their bytes arrive; nothing outside `root` is created, changed or removed
 * (symlinks are resolved inside the root, `..` stops at it). Returns the digest and
 * size of the uncompressed tar, every byte of it hashed, trailing padding included.
 * By default the work runs in a worker thread (see ApplyOptions.worker).
 */
export async function applyLayer(
  root: string,
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  if ((options.worker ?? true) === true && !options.filter) {
    // An unknown media type fails here, as it would in the worker, before a worker is taken.
    if (options.mediaType !== undefined) diffCompression(options.mediaType);
    return applyInWorker(root, source, options);
  }
  return applyLayerHere(root, source, options);
}

/**
 * applyLayer on this thread (decompressing in a worker unless `worker` is false): what
 * the apply worker runs, and the path for `worker: 'decompress' | false` or a filter.
 */
export async function applyLayerHere(
  root: string,
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: ApplyOptions = {},
  internal: {
    /**
     * Polled before each entry (the apply worker's view of its caller's abort, which a
     * message would bring only between chunks): true stops the apply as an abort does.
     */
    stopRequested?: () => boolean;
    /** The source's chunks are this apply's alone: handed to the decompression worker without a copy. */
    ownsChunks?: boolean;
  } = {},
): Promise<ApplyResult> {
  const kind = options.mediaType === undefined ? 'unknown' : diffCompression(options.mediaType);
  const applier = new LayerApplier(cleanPath(root), options, internal.stopRequested);
  const extract = createTarReader((header, entry, next) => applier.onEntry(header, entry, next));
  let failure: Error | undefined;
  const finished = new Promise<void>((resolve, reject) => {
    extract.on('error', (err: Error) => {
      failure ??= err;
      reject(err);
    });
    extract.on('finish', () => resolve());
  });
  finished.catch(() => {});

  let compression: Compression;
  let chunks: AsyncIterable<Buffer>;
  let stop: () => void;
  let digestOf: () => Promise<{ digest: string; size: number }>;
  const sniffed = await sniffCompression(source, { detect: kind !== '' });
  compression = sniffed.compression;
  // In this thread when asked to, or when every decompression worker is busy (bounded memory).
  if (options.worker === false || !decompressionWorkerFree()) {
    const decompressed = decompressKnown(sniffed.stream, compression);
    const hash = createHash('sha256');
    let size = 0;
    chunks = (async function* () {
      for await (const chunk of decompressed as AsyncIterable<Buffer>) {
        hash.update(chunk);
        size += chunk.length;
        yield chunk;
      }
    })();
    stop = () => decompressed.destroy();
    digestOf = async () => ({ digest: `sha256:${hash.digest('hex')}`, size });
  } else {
    // Inflate/decode and hash in a worker; this thread parses and writes.
    const job = decompressInWorker(sniffed.stream as AsyncIterable<Buffer>, compression, { transfer: internal.ownsChunks === true });
    chunks = job.chunks;
    stop = () => {
      void job.chunks.return(undefined);
      sniffed.stream.destroy();
    };
    digestOf = () => job.result;
  }

  const onAbort = () => {
    const reason = options.signal?.reason;
    failure ??= reason instanceof Error ? reason : new Error('apply aborted');
    extract.destroy(failure);
    stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  try {
    if (failure) throw failure;
    let parsing = true;
    for await (const chunk of chunks) {
      if (failure) throw failure;
      if (parsing && !extract.write(chunk)) {
        await waitDrain(extract);
        if (failure) throw failure;
      }
      // After an error the parser is gone; keep nothing running.
      if (extract.destroyed) parsing = false;
      // Chunks already queued (a fast decompressor is megabytes ahead) are parsed and written
      // in one run of microtasks: yield to the event loop between them, so an abort (or,
      // on a daemon's thread, its other work) gets in before the whole layer is written.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (failure) throw failure;
    }
    if (failure) throw failure;
    extract.end(undefined);
    await finished;
    applier.restoreDirectoryTimes();
    const { digest, size } = await digestOf();
    return { digest, size, compression, entries: applier.entries };
  } catch (err) {
    if (!extract.destroyed) extract.destroy();
    stop();
    throw failure ?? err;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

function waitDrain(extract: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      extract.off('drain', done);
      extract.off('close', done);
      resolve();
    };
    extract.on('drain', done);
    extract.on('close', done);
  });
}


interface DirTimes {
  name: string;
  atimeNs: bigint;
  mtimeNs: bigint;
}

let userNamespace: boolean | undefined;
/** True when running in a user namespace (device nodes cannot be created there). */
function runningInUserNS(): boolean {
  if (userNamespace === undefined) {
    try {
      const map = readFileSync('/proc/self/uid_map', 'utf8').trim().split(/\s+/);
      userNamespace = !(map[0] === '0' && map[1] === '0' && map[2] === '4294967295');
    } catch {
      userNamespace = false;
    }
  }
  return userNamespace;
}

/** The per-layer state of one apply and the handling of each entry. */
class LayerApplier {
  entries = 0;
  private readonly dirs: DirTimes[] = [];
  /** Paths written by this layer: an opaque marker keeps them (remove mode). */
  private readonly unpacked = new Set<string>();
  private readonly whiteouts: WhiteoutMode;
  private readonly parents: readonly string[];
  /**
   * Resolved parent directories by the directory part of entry names, kept only for
   * resolutions that met no symlink. Such a resolution changes only when a symlink
   * appears on its path, which only this layer can do (see forgetResolutionsUnder).
   */
  private readonly resolved = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly options: ApplyOptions,
    private readonly stopRequested?: () => boolean,
  ) {
    this.whiteouts = options.whiteouts ?? 'remove';
    this.parents = options.parents ?? [];
  }

  onEntry(header: TarHeader, stream: Source, next: (err?: Error | null) => void): void {
    if (this.stopRequested?.()) {
      next(new Error('apply aborted'));
      return;
    }
    this.entries++;
    let path: string | null;
    try {
      path = this.prepare(header);
    } catch (err) {
      next(err as Error);
      return;
    }
    if (path === null) {
      this.skipData(header, stream, next);
      return;
    }
    if (header.type === 'file' && header.size > 0) {
      this.writeFile(path, header, stream, next);
      return;
    }
    try {
      this.create(path, header);
      this.finish(path, header);
    } catch (err) {
      next(err as Error);
      return;
    }
    this.skipData(header, stream, next);
  }

  /**
   * Resolves the entry's path inside the root, creates missing parents, handles
   * whiteouts and removes what the entry replaces. Returns the path to create, or
   * null when nothing more is to be written for this entry.
   */
  private prepare(header: TarHeader): string | null {
    const name = cleanPath(header.name);
    if (this.options.filter && !this.options.filter(header)) return null;
    if ((header.type === 'block-device' || header.type === 'character-device') && runningInUserNS()) {
      this.options.log?.warn(`file ${JSON.stringify(name)} ignored: archive may not be supported on system`);
      return null;
    }
    const [dir, base] = splitPath(name);
    const parent = this.resolveParent(dir);
    // The base is joined unresolved: a symlink there is replaced, never followed.
    const path = joinPath(parent, joinPath('/', base));
    if (path === this.root) {
      this.options.log?.debug(`file ${JSON.stringify(header.name)} ignored: resolved to root`);
      return null;
    }
    if (parent !== this.root) this.mkparent(parent);

    validateWhiteout(path);
    if (!this.convertWhiteout(header, path)) return null;

    const existing = lstatOrNull(path);
    if (existing && !(existing.isDirectory() && header.type === 'directory')) {
      rmSync(path, { recursive: true, force: true });
    }
    return path;
  }

  private resolveParent(dir: string): string {
    const cached = this.resolved.get(dir);
    if (cached !== undefined) return cached;
    const { path, links } = resolveInRoot(this.root, dir);
    if (links === 0) this.resolved.set(dir, path);
    return path;
  }

  /** A symlink (or a hard link, which may be one) now exists at `path`. */
  private forgetResolutionsUnder(path: string): void {
    if (this.resolved.size === 0) return;
    const prefix = `${path}/`;
    for (const [key, value] of this.resolved) {
      if (value === path || value.startsWith(prefix)) this.resolved.delete(key);
    }
  }

  /** Handles a whiteout entry; returns false when the entry is consumed by it. */
  private convertWhiteout(header: TarHeader, path: string): boolean {
    if (this.whiteouts === 'aufs') return true;
    const base = basePath(path);
    const dir = dirPath(path);
    if (this.whiteouts === 'overlay') {
      if (base === WHITEOUT_OPAQUE) {
        lsetxattr(dir, this.options.userxattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque', 'y');
        return false;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        const original = joinPath(dir, base.slice(WHITEOUT_PREFIX.length));
        mknod(original, fsConstants.S_IFCHR, 0);
        lchownSync(original, header.uid, header.gid);
        return false;
      }
      return true;
    }
    if (base === WHITEOUT_OPAQUE) {
      lstatSync(dir);
      this.removeNotUnpacked(dir);
      return false;
    }
    if (base.startsWith(WHITEOUT_PREFIX)) {
      rmSync(joinPath(dir, base.slice(WHITEOUT_PREFIX.length)), { recursive: true, force: true });
      return false;
    }
    return true;
  }

  /** Opaque directory in remove mode: delete everything below `dir` this layer did not write. */
  private removeNotUnpacked(dir: string): void {
    let names: string[];
    try {
      names = readdirSync(dir).sort(compareUtf8);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const name of names) {
      const path = `${dir}/${name}`;
      if (!this.unpacked.has(path)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      const st = lstatOrNull(path);
      if (st?.isDirectory()) this.removeNotUnpacked(path);
    }
  }

  /**
   * Creates `path` and its missing ancestors (0755, or copied from the first lower
   * that has them). `path` is already resolved inside the root.
   */
  private mkparent(path: string): void {
    const st = lstatOrNull(path);
    if (st) {
      if (st.isDirectory()) return;
      throw Object.assign(new Error(`mkparent ${path}: not a directory`), { code: 'ENOTDIR', path });
    }
    let i = path.length;
    while (i > this.root.length && path[i - 1] !== '/') i--;
    if (i > this.root.length + 1) this.mkparent(path.slice(0, i - 1));

    try {
      mkdirSync(path, 0o755);
      chmodSync(path, 0o755);
    } catch (err) {
      if (lstatOrNull(path)?.isDirectory()) return;
      throw err;
    }
    const rel = path.slice(this.root.length);
    for (const lower of this.parents) {
      const lowerPath = rootPath(lower, rel);
      const lst = lstatBigOrNull(lowerPath);
      if (!lst) continue;
      // Replaced by a non-directory in that lower: the defaults stand.
      if (!lst.isDirectory()) break;
      copyDirInfo(lst, path);
      copyUpXattrs(path, lowerPath);
      return;
    }
    this.options.log?.debug(`parent directory ${JSON.stringify(path)} not found: default permissions(0755) used`);
  }

  /** Creates every entry type except regular files with data. */
  private create(path: string, header: TarHeader): void {
    switch (header.type) {
      case 'directory':
        if (!lstatOrNull(path)?.isDirectory()) {
          mkdirSync(path, header.mode);
          chmodSync(path, header.mode);
        }
        return;
      case 'file': {
        const fd = openSync(path, CREATE_FLAGS, header.mode);
        closeSync(fd);
        return;
      }
      case 'block-device':
      case 'character-device':
      case 'fifo': {
        const type =
          header.type === 'fifo'
            ? fsConstants.S_IFIFO
            : header.type === 'block-device'
              ? fsConstants.S_IFBLK
              : fsConstants.S_IFCHR;
        mknod(path, header.mode | type, makedev(header.devmajor, header.devminor));
        return;
      }
      case 'link':
        linkSync(this.hardlinkTarget(header.linkname), path);
        this.forgetResolutionsUnder(path);
        return;
      case 'symlink':
        symlinkSync(header.linkname, path);
        this.forgetResolutionsUnder(path);
        return;
      default:
        throw new Error(`unhandled tar header type ${header.type} (${JSON.stringify(header.name)})`);
    }
  }

  /** Streams a regular file's data into a new file, then sets its metadata. */
  private writeFile(path: string, header: TarHeader, stream: Source, next: (err?: Error | null) => void): void {
    let fd: number;
    try {
      fd = openSync(path, CREATE_FLAGS, header.mode);
    } catch (err) {
      next(err as Error);
      return;
    }
    let failed: Error | undefined;
    stream.on('data', (chunk) => {
      if (failed) return;
      try {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      } catch (err) {
        failed = err as Error;
      }
    });
    stream.on('error', (err) => {
      failed ??= err;
    });
    stream.on('end', () => {
      let timesSet = false;
      try {
        if (!failed) timesSet = this.finishOpenFile(fd, path, header);
      } catch (err) {
        failed = err as Error;
      } finally {
        try {
          closeSync(fd);
        } catch (err) {
          failed ??= err as Error;
        }
      }
      if (!failed && !timesSet) {
        try {
          setTimes(path, header);
        } catch (err) {
          failed = err as Error;
        }
      }
      if (!failed) this.unpacked.add(path);
      next(failed ?? null);
    });
  }

  /**
   * Owner, xattrs, mode and (when whole seconds) times of a file still open; chown goes
   * first as it clears setuid/setgid and capabilities. Returns whether times were set.
   */
  private finishOpenFile(fd: number, path: string, header: TarHeader): boolean {
    try {
      fchownSync(fd, header.uid, header.gid);
    } catch (err) {
      throw lchownError(path, header, err);
    }
    this.setXattrs(path, header, 'file');
    fchmodSync(fd, header.mode);
    const { atimeNs, mtimeNs } = entryTimes(header);
    if (atimeNs % NS_PER_SEC !== 0n || mtimeNs % NS_PER_SEC !== 0n) return false;
    futimesSync(fd, Number(atimeNs / NS_PER_SEC), Number(mtimeNs / NS_PER_SEC));
    return true;
  }

  /** Owner, xattrs, mode and times of a created non-data entry, as containerd's createTarFile. */
  private finish(path: string, header: TarHeader): void {
    try {
      lchownSync(path, header.uid, header.gid);
    } catch (err) {
      throw lchownError(path, header, err);
    }
    this.setXattrs(path, header, header.type);
    // A symlink has no mode of its own; a hard link may point at a symlink.
    if (header.type !== 'symlink' && !(header.type === 'link' && lstatSync(path).isSymbolicLink())) {
      chmodSync(path, header.mode);
    }
    setTimes(path, header);
    if (header.type === 'directory') {
      this.dirs.push({ name: cleanPath(header.name), ...entryTimes(header) });
    }
    this.unpacked.add(path);
  }

  private setXattrs(path: string, header: TarHeader, type: string): void {
    for (const [key, value] of header.xattrs) {
      if (key.startsWith('trusted.')) {
        this.options.log?.warn(`ignored xattr ${key} in archive: admin attributes from archive not supported`);
        continue;
      }
      try {
        lsetxattr(path, key, value);
      } catch (err) {
        if (isSysError(err, 'EPERM') && key.startsWith('user.')) {
          // user.* attributes exist only on regular files and directories.
          const isRegOrDir = type === 'link' ? isRegularOrDir(path) : type === 'file' || type === 'directory';
          if (!isRegOrDir) {
            this.options.log?.warn(`ignored xattr ${key} in archive`);
            continue;
          }
        }
        if (isSysError(err, 'ENOTSUP') || isSysError(err, 'EOPNOTSUPP')) {
          this.options.log?.warn(`ignored xattr ${key} in archive`);
          continue;
        }
        throw new Error(`failed to setxattr ${JSON.stringify(path)} for key ${JSON.stringify(key)}: ${(err as Error).message}`, {
          cause: err,
        });
      }
    }
  }

  /** A hard link's target inside the root: its directory resolved, its base taken as is. */
  private hardlinkTarget(linkname: string): string {
    const [dir, base] = splitPath(linkname);
    const target = joinPath(rootPath(this.root, dir), base);
    return target === this.root || target.startsWith(`${this.root}/`) ? target : this.root;
  }

  private skipData(header: TarHeader, stream: Source, next: (err?: Error | null) => void): void {
    if (header.size === 0 || header.type === 'directory') {
      // No data follows; tar-stream waits for next(). Called from a microtask so a
      // run of header-only entries does not nest parser calls.
      queueMicrotask(() => next());
      return;
    }
    stream.on('end', () => next());
    stream.on('error', (err) => next(err));
    stream.resume();
  }

  /** Directory times last: entries created inside a directory change its mtime. */
  restoreDirectoryTimes(): void {
    for (const dir of this.dirs) {
      const path = rootPath(this.root, dir.name);
      setPathTimes(path, dir.atimeNs, dir.mtimeNs);
    }
  }
}

const CREATE_FLAGS =
  fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;

function lchownError(path: string, header: TarHeader, err: unknown): Error {
  return new Error(
    `failed to Lchown ${JSON.stringify(path)} for UID ${header.uid}, GID ${header.gid}: ${(err as Error).message}`,
    { cause: err },
  );
}

function boundTime(ns: bigint): bigint {
  return ns < 0n || ns > MAX_TIME_NS ? 0n : ns;
}

function entryTimes(header: TarHeader): { atimeNs: bigint; mtimeNs: bigint } {
  const atime = header.atimeNs !== undefined && header.atimeNs > header.mtimeNs ? header.atimeNs : header.mtimeNs;
  return { atimeNs: boundTime(atime), mtimeNs: boundTime(header.mtimeNs) };
}

const NS_PER_SEC = 1_000_000_000n;

/**
 * Sets atime and mtime of `path` itself to the nanosecond. Whole seconds (all that a
 * USTAR header holds) go through Node's lutimes, exact for integers and cheaper than
 * the FFI call; sub-second times through utimensat.
 */
function setPathTimes(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  if (atimeNs % NS_PER_SEC === 0n && mtimeNs % NS_PER_SEC === 0n) {
    lutimesSync(path, Number(atimeNs / NS_PER_SEC), Number(mtimeNs / NS_PER_SEC));
  } else {
    utimensatNoFollow(path, atimeNs, mtimeNs);
  }
}

function setTimes(path: string, header: TarHeader): void {
  const { atimeNs, mtimeNs } = entryTimes(header);
  setPathTimes(path, atimeNs, mtimeNs);
}

/** `.wh.<name>` must name something inside its own directory. */
function validateWhiteout(path: string): void {
  const base = basePath(path);
  if (base === WHITEOUT_OPAQUE || !base.startsWith(WHITEOUT_PREFIX)) return;
  const dir = dirPath(path);
  const original = joinPath(dir, base.slice(WHITEOUT_PREFIX.length));
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  if (!original.startsWith(prefix)) throw new InvalidArchiveError(`invalid whiteout name: ${base}`);
}

function lstatOrNull(path: string): Stats | null {
  return lstatSync(path, { throwIfNoEntry: false }) ?? null;
}

function lstatBigOrNull(path: string): BigIntStats | null {
  return lstatSync(path, { bigint: true, throwIfNoEntry: false }) ?? null;
}

function isRegularOrDir(path: string): boolean {
  const st = lstatSync(path);
  return st.isFile() || st.isDirectory();
}

/** Owner, mode (with setuid/setgid/sticky) and times of a lower directory onto a new one. */
function copyDirInfo(big: BigIntStats, path: string): void {
  const uid = Number(big.uid);
  const gid = Number(big.gid);
  try {
    lchownSync(path, uid, gid);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const now = lstatSync(path);
    if (!((code === 'EPERM' || code === 'EACCES') && now.uid === uid && now.gid === gid)) {
      throw new Error(`failed to chown ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  chmodSync(path, Number(big.mode) & 0o7777);
  utimensatNoFollow(path, big.atimeNs, big.mtimeNs);
}

/** Non-trusted xattrs of a lower directory onto a new one, never replacing one already set. */
function copyUpXattrs(dst: string, src: string): void {
  let names: string[];
  try {
    names = llistxattr(src);
  } catch (err) {
    if (isSysError(err, 'ENOTSUP') || isSysError(err, 'EOPNOTSUPP') || isSysError(err, 'ENODATA')) return;
    throw new Error(`failed to list xattrs on ${src}: ${(err as Error).message}`, { cause: err });
  }
  for (const name of names) {
    if (name.startsWith('trusted.')) continue;
    let value: Buffer | null;
    try {
      value = lgetxattr(src, name);
    } catch (err) {
      if (isSysError(err, 'ENOTSUP') || isSysError(err, 'EOPNOTSUPP')) continue;
      throw new Error(`failed to get xattr ${JSON.stringify(name)} on ${src}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (value === null) continue;
    try {
      lsetxattr(dst, name, value, XATTR_CREATE);
    } catch (err) {
      if (
        isSysError(err, 'ENOTSUP') ||
        isSysError(err, 'EOPNOTSUPP') ||
        isSysError(err, 'ENODATA') ||
        isSysError(err, 'EEXIST')
      ) {
        continue;
      }
      throw new Error(`failed to set xattr ${JSON.stringify(name)} on ${dst}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}
