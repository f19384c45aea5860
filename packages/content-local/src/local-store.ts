// The local content store: blobs at <root>/blobs/<algorithm>/<hex>, ingests under
// <root>/ingest/<sha256 of ref>/, the layout containerd's local store uses. Not
// namespaced: the metadata layer above it scopes content to namespaces and leases.
import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import {
  CANONICAL_ALGORITHM,
  type ContentStore,
  DIGEST_ALGORITHMS,
  type Descriptor,
  type Info,
  type ReaderAt,
  type Status,
  type WalkFn,
  type Writer,
  type WriterOptions,
  adaptInfo,
  adaptStatus,
  digestProblem,
  splitDigest,
} from '@containerd-ts/content';
import { alreadyExists, failedPrecondition, invalidArgument, isNotFound, notFound } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import type { RequestContext } from '@containerd-ts/namespaces';
import { utimensat } from '@containerd-ts/sys';
import { fromUnixNanos, now, toMillis, toUnixNanos } from '@containerd-ts/timestamp';
import {
  type IngestPaths,
  formatTimestamp,
  ingestDirName,
  ingestPaths,
  isErrno,
  pathExists,
  readIngestStatus,
} from './ingest.js';
import type { LabelStore } from './label-store.js';
import { type RefLock, heldLock, lockRef } from './locks.js';
import { FileReaderAt } from './reader.js';
import { LocalWriter, type WriterHost, hashPrefix, syncDir } from './writer.js';

export interface LocalContentStoreOptions {
  /** Keeps labels for `update`, `info` and commit. Without one (the daemon's case) blobs carry no labels. */
  labelStore?: LabelStore;
  /** How long `writer` waits for a locked ref before refusing with `unavailable` (default 500 ms). */
  lockWaitMs?: number;
  /** Receives warnings (an ingest that could not be resumed, a cleanup that failed). */
  log?: { warn(obj: object, msg?: string): void };
}

const ingestNamePattern = /^[a-f0-9]{64}$/;

export class LocalContentStore implements ContentStore {
  readonly root: string;
  readonly labelStore: LabelStore | undefined;
  readonly #lockWaitMs: number;
  readonly #log: LocalContentStoreOptions['log'];
  readonly #ingestRoot: string;
  readonly #blobDirs = new Map<string, Promise<string>>();
  readonly #host: WriterHost;

  /** Opens (creating `<root>/ingest` if needed) the store at `root`. */
  static async open(root: string, options: LocalContentStoreOptions = {}): Promise<LocalContentStore> {
    const store = new LocalContentStore(root, options);
    await mkdir(store.#ingestRoot, { recursive: true });
    return store;
  }

  private constructor(root: string, options: LocalContentStoreOptions) {
    this.root = resolve(root);
    this.labelStore = options.labelStore;
    this.#lockWaitMs = options.lockWaitMs ?? 500;
    this.#log = options.log;
    this.#ingestRoot = join(this.root, 'ingest');
    this.#host = {
      blobPath: (digest) => this.#blobFile(digest),
      ensureBlobDir: (algorithm) => this.#ensureBlobDir(algorithm),
      labelStore: this.labelStore,
      warn: (obj, msg) => this.#log?.warn(obj, msg),
    };
  }

  /** Path of a blob; invalid digests are refused with `invalid-argument`. */
  blobPath(digest: string, context = 'calculating blob path'): string {
    const problem = digestProblem(digest);
    if (problem) throw invalidArgument(`${context}: cannot calculate blob path from invalid digest: ${problem}`);
    return this.#blobFile(digest);
  }

  #blobFile(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return join(this.root, 'blobs', algorithm, hex);
  }

  #ensureBlobDir(algorithm: string): Promise<string> {
    let dir = this.#blobDirs.get(algorithm);
    if (!dir) {
      const path = join(this.root, 'blobs', algorithm);
      dir = mkdir(path, { recursive: true }).then(async (created) => {
        // New directories must survive a power loss along with the first blob in them.
        if (created) for (const parent of [join(this.root, 'blobs'), this.root]) await syncDir(parent);
        return path;
      });
      dir.catch(() => this.#blobDirs.delete(algorithm));
      this.#blobDirs.set(algorithm, dir);
    }
    return dir;
  }

  async info(_ctx: RequestContext, digest: string): Promise<Info> {
    const path = this.blobPath(digest, 'calculating blob info path');
    const st = await statBlob(path, digest);
    return this.#info(digest, st, await this.#labels(digest));
  }

  #info(digest: string, st: { size: bigint; mtimeNs: bigint; atimeNs: bigint }, labels: Record<string, string>): Info {
    // As containerd's local store: created is the file's mtime, updated its atime.
    return { digest, size: Number(st.size), createdAt: fromUnixNanos(st.mtimeNs), updatedAt: fromUnixNanos(st.atimeNs), labels };
  }

  async #labels(digest: string): Promise<Record<string, string>> {
    return this.labelStore ? await this.labelStore.get(digest) : {};
  }

  async update(
    _ctx: RequestContext,
    info: Pick<Info, 'digest' | 'labels'>,
    fieldpaths: readonly string[] = [],
  ): Promise<Info> {
    if (!this.labelStore) throw failedPrecondition('update not supported on immutable content store');
    const path = this.blobPath(info.digest, 'calculating blob path for update');
    const st = await statBlob(path, info.digest);

    let replaceAll = fieldpaths.length === 0;
    const selected: Record<string, string> = {};
    for (const fieldpath of fieldpaths) {
      if (fieldpath.startsWith('labels.')) {
        const key = fieldpath.slice('labels.'.length);
        selected[key] = info.labels[key] ?? '';
      } else if (fieldpath === 'labels') {
        replaceAll = true;
      } else {
        throw invalidArgument(
          `cannot update ${JSON.stringify(fieldpath)} field on content info ${JSON.stringify(info.digest)}`,
        );
      }
    }
    let labels: Record<string, string>;
    if (replaceAll) {
      labels = { ...info.labels };
      await this.labelStore.set(info.digest, labels);
    } else {
      labels = await this.labelStore.update(info.digest, selected);
    }

    const updated = { ...this.#info(info.digest, st, labels), updatedAt: now() };
    try {
      utimensat(path, toUnixNanos(updated.updatedAt), toUnixNanos(updated.createdAt));
    } catch (err) {
      this.#log?.warn({ digest: info.digest, err }, 'could not change access time');
    }
    return updated;
  }

  async walk(_ctx: RequestContext, fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    const filter = parseAll(filters);
    const blobs = join(this.root, 'blobs');
    const algorithms = (await readdirIfExists(blobs)).filter((a) => DIGEST_ALGORITHMS[a] !== undefined);
    for (const algorithm of algorithms.sort()) {
      const names = await readdirIfExists(join(blobs, algorithm));
      for (const hex of names.sort()) {
        const digest = `${algorithm}:${hex}`;
        if (digestProblem(digest)) continue; // not a blob (a stray file)
        let st: Awaited<ReturnType<typeof stat>>;
        try {
          st = await stat(join(blobs, algorithm, hex), { bigint: true });
        } catch (err) {
          if (isErrno(err, 'ENOENT')) continue; // deleted while walking
          throw err;
        }
        if (!st.isFile()) continue;
        const info = this.#info(digest, st, await this.#labels(digest));
        if (filter.match(adaptInfo(info))) await fn(info);
      }
    }
  }

  /**
   * The digest of every blob, without reading sizes, times or labels (what a collection
   * needs to find the blobs no record references): one directory read per algorithm and
   * no `stat` per blob. Entries that are not regular files are left out, as `walk` does.
   */
  async walkDigests(_ctx: RequestContext, fn: (digest: string) => void | Promise<void>): Promise<void> {
    const blobs = join(this.root, 'blobs');
    const algorithms = (await readdirIfExists(blobs)).filter((a) => DIGEST_ALGORITHMS[a] !== undefined);
    for (const algorithm of algorithms.sort()) {
      let entries: Dirent[];
      try {
        entries = await readdir(join(blobs, algorithm), { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        throw err;
      }
      for (const entry of entries) {
        if (!entry.isFile()) continue;
        const digest = `${algorithm}:${entry.name}`;
        if (digestProblem(digest)) continue; // not a blob (a stray file)
        await fn(digest);
      }
    }
  }

  async delete(_ctx: RequestContext, digest: string): Promise<void> {
    const path = this.blobPath(digest, 'calculating blob path for delete');
    try {
      // a blob is a file: unlink it (rm would lstat it first)
      await unlink(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`content ${digest}`);
      throw err;
    }
    await this.labelStore?.delete(digest);
  }

  async readerAt(_ctx: RequestContext, desc: Pick<Descriptor, 'digest'> & Partial<Descriptor>): Promise<ReaderAt> {
    const path = this.blobPath(desc.digest, 'calculating blob path for ReaderAt');
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`blob ${desc.digest} expected at ${path}: blob not found`);
      throw err;
    }
    try {
      return new FileReaderAt(fh, (await fh.stat()).size);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async status(_ctx: RequestContext, ref: string): Promise<Status> {
    const active = heldLock(this.root, ref)?.owner;
    if (active) return active.currentStatus();
    return readIngestStatus(this.#paths(ref));
  }

  async listStatuses(_ctx: RequestContext, filters: readonly string[] = []): Promise<Status[]> {
    const filter = parseAll(filters);
    const statuses: Status[] = [];
    for (const name of (await readdir(this.#ingestRoot)).sort()) {
      if (!ingestNamePattern.test(name)) continue;
      let st: Status;
      try {
        st = await readIngestStatus(ingestPaths(this.#ingestRoot, name));
      } catch (err) {
        // Finished or aborted while listing, or left incomplete by a crash: not an active
        // ingest (a writer on its ref starts it afresh).
        if (!isNotFound(err)) this.#log?.warn({ ingest: name, err }, 'skipping unreadable ingest');
        continue;
      }
      const active = heldLock(this.root, st.ref)?.owner;
      if (active) st = active.currentStatus();
      if (filter.match(adaptStatus(st))) statuses.push(st);
    }
    return statuses;
  }

  /** Calls `fn` with the ref of every ingest on disk (for garbage collection). */
  async walkStatusRefs(_ctx: RequestContext, fn: (ref: string) => void | Promise<void>): Promise<void> {
    for (const name of (await readdir(this.#ingestRoot)).sort()) {
      if (!ingestNamePattern.test(name)) continue;
      let ref: string;
      try {
        ref = await readFile(ingestPaths(this.#ingestRoot, name).ref, 'utf8');
      } catch (err) {
        this.#log?.warn({ ingest: name, err }, 'failed to read ingest ref');
        continue;
      }
      await fn(ref);
    }
  }

  /** Cancels the ingest of `ref` (stopping its writer if one is open) and removes it. */
  async abort(ctx: RequestContext, ref: string): Promise<void> {
    const held = heldLock(this.root, ref);
    let lock: RefLock;
    if (held?.owner) {
      await held.owner.cancel();
      lock = held;
    } else {
      lock = await lockRef(this.root, ref, this.#lockWaitMs, ctx.signal);
    }
    try {
      await this.#removeIngest(this.#paths(ref).dir, ref);
    } finally {
      lock.release();
    }
  }

  async #removeIngest(dir: string, ref: string): Promise<void> {
    try {
      await stat(dir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw notFound(`ingest ref ${JSON.stringify(ref)}`);
      throw err;
    }
    await rm(dir, { recursive: true, force: true });
  }

  /**
   * Removes ingests not written to for `olderThanMs` and not open in this process,
   * including directories a crash left incomplete. Returns the refs (or, for
   * unreadable ingests, directory names) removed. containerd leaves this to garbage
   * collection of expired ingest records; a standalone store can call it directly.
   */
  async cleanupIngests(olderThanMs: number): Promise<string[]> {
    const cutoff = Date.now() - olderThanMs;
    const removed: string[] = [];
    for (const name of await readdir(this.#ingestRoot)) {
      const paths = ingestPaths(this.#ingestRoot, name);
      let ref: string | undefined;
      let updated: number;
      try {
        const st = await readIngestStatus(paths);
        ref = st.ref;
        updated = toMillis(st.updatedAt);
      } catch {
        try {
          updated = (await stat(paths.dir)).mtime.getTime();
        } catch {
          continue;
        }
      }
      if (updated >= cutoff) continue;
      let lock: RefLock | undefined;
      if (ref !== undefined) {
        try {
          lock = await lockRef(this.root, ref, 0);
        } catch {
          continue; // being written right now
        }
      }
      try {
        await rm(paths.dir, { recursive: true, force: true });
        removed.push(ref ?? name);
      } catch (err) {
        this.#log?.warn({ ingest: name, err }, 'failed to remove stale ingest');
      } finally {
        lock?.release();
      }
    }
    return removed;
  }

  #paths(ref: string): IngestPaths {
    return ingestPaths(this.#ingestRoot, ingestDirName(ref));
  }

  /**
   * Opens the writer of `ref`, resuming its ingest when one is on disk (the data is
   * hashed once to restore the digest) or starting a new one. Refused with
   * `unavailable` while another writer holds the ref, with `already-exists` when the
   * expected digest is already stored.
   */
  async writer(ctx: RequestContext, options: WriterOptions): Promise<Writer> {
    const { ref } = options;
    if (!ref) throw invalidArgument('ref must not be empty');
    const total = options.total && options.total > 0 ? options.total : 0;
    const expected = options.expected ?? '';
    const expectedPath = expected ? this.blobPath(expected, 'calculating expected blob path for writer') : undefined;

    const lock = await lockRef(this.root, ref, this.#lockWaitMs, ctx.signal);
    try {
      if (expectedPath && (await pathExists(expectedPath))) throw alreadyExists(`content ${expected}`);
      const paths = this.#paths(ref);
      let existed = false;
      try {
        await mkdir(paths.dir);
      } catch (err) {
        if (!isErrno(err, 'EEXIST')) throw err;
        existed = true;
      }
      const writer =
        (existed ? await this.#resume(paths, ref, total, expected, lock) : undefined) ??
        (await this.#start(paths, ref, total, expected, lock, existed));
      lock.owner = writer;
      return writer;
    } catch (err) {
      lock.release();
      throw err;
    }
  }

  async #resume(
    paths: IngestPaths,
    ref: string,
    total: number,
    expected: string,
    lock: RefLock,
  ): Promise<LocalWriter | undefined> {
    let status: Status;
    try {
      status = await readIngestStatus(paths);
      if (status.ref !== ref) throw new Error(`ref key does not match: ${ref} != ${status.ref}`);
      if (total > 0 && status.total > 0 && total !== status.total) {
        throw new Error(`provided total differs from status: ${total} != ${status.total}`);
      }
    } catch (err) {
      this.#log?.warn({ ref, path: paths.dir, err }, 'failed to resume the ingest; starting it again');
      return undefined;
    }
    const fh = await open(paths.data, 'r+');
    try {
      // The one read of earlier data: restoring the digest state.
      const { hash, read } = await hashPrefix(fh, Number.MAX_SAFE_INTEGER);
      if (status.total === 0 && total > 0) await writeFile(paths.total, String(total));
      return new LocalWriter(this.#host, {
        ref,
        paths,
        fh,
        offset: read,
        total: status.total || total,
        expected,
        hash,
        startedAt: status.startedAt,
        updatedAt: status.updatedAt,
        lock,
      });
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  async #start(
    paths: IngestPaths,
    ref: string,
    total: number,
    expected: string,
    lock: RefLock,
    existed: boolean,
  ): Promise<LocalWriter> {
    if (existed) {
      // Whatever is there cannot be resumed: start from an empty directory.
      await rm(paths.dir, { recursive: true, force: true });
      await mkdir(paths.dir);
    }
    const startedAt = now();
    const stamp = formatTimestamp(startedAt);
    await Promise.all([
      writeFile(paths.ref, ref),
      writeFile(paths.startedAt, stamp),
      writeFile(paths.updatedAt, stamp),
      total > 0 ? writeFile(paths.total, String(total)) : undefined,
    ]);
    // Created last: an ingest with a data file has all its other files.
    const fh = await open(paths.data, 'w+', 0o666);
    return new LocalWriter(this.#host, {
      ref,
      paths,
      fh,
      offset: 0,
      total,
      expected,
      hash: createHash(CANONICAL_ALGORITHM),
      startedAt,
      updatedAt: startedAt,
      lock,
    });
  }
}

async function statBlob(path: string, digest: string) {
  try {
    return await stat(path, { bigint: true });
  } catch (err) {
    if (isErrno(err, 'ENOENT')) throw notFound(`content ${digest}`);
    throw err;
  }
}

async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ENOTDIR')) return [];
    throw err;
  }
}
