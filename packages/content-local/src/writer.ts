// An open ingest of the local store. Bytes go to `data` at the writer's offset while
// the digest is updated from the same buffer (the hash runs while the write is in
// the thread pool); commit checks size and digest from that state, never re-reading,
// then syncs and renames `data` into blobs/.
import { type Hash, createHash } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { CANONICAL_ALGORITHM, type CommitOptions, type Status, type Writer } from '@containerd-ts/content';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@containerd-ts/errdefs';
import { utimensat } from '@containerd-ts/sys';
import { type Timestamp, now, toUnixNanos } from '@containerd-ts/timestamp';
import { type IngestPaths, isErrno, pathExists, replaceTimestamp } from './ingest.js';
import type { LabelStore } from './label-store.js';
import type { LockOwner, RefLock } from './locks.js';

/** What a writer needs from its store. */
export interface WriterHost {
  blobPath(digest: string): string;
  /** Creates (once) the blob directory of an algorithm and returns it. */
  ensureBlobDir(algorithm: string): Promise<string>;
  readonly labelStore: LabelStore | undefined;
  warn(obj: object, msg: string): void;
}

export interface WriterState {
  ref: string;
  paths: IngestPaths;
  fh: FileHandle;
  offset: number;
  total: number;
  expected: string;
  hash: Hash;
  startedAt: Timestamp;
  updatedAt: Timestamp;
  lock: RefLock;
}

/** Hashes `length` bytes of `fh` from its start (used on resume and partial truncate). */
export async function hashPrefix(fh: FileHandle, length: number): Promise<{ hash: Hash; read: number }> {
  const hash = createHash(CANONICAL_ALGORITHM);
  const buf = Buffer.allocUnsafe(4 << 20);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - read), read);
    if (bytesRead === 0) break;
    hash.update(buf.subarray(0, bytesRead));
    read += bytesRead;
  }
  return { hash, read };
}

export async function syncDir(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

type Phase = 'open' | 'closed' | 'aborted';

export class LocalWriter implements Writer, LockOwner {
  readonly ref: string;
  readonly #host: WriterHost;
  readonly #paths: IngestPaths;
  readonly #lock: RefLock;
  readonly #startedAt: Timestamp;
  readonly #expected: string;
  #fh: FileHandle | undefined;
  #hash: Hash;
  #offset: number;
  #total: number;
  #updatedAt: Timestamp;
  #phase: Phase = 'open';
  /** Set when a write failed: the in-memory digest may include bytes the file lacks. */
  #failure: Error | undefined;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(host: WriterHost, state: WriterState) {
    this.#host = host;
    this.ref = state.ref;
    this.#paths = state.paths;
    this.#fh = state.fh;
    this.#offset = state.offset;
    this.#total = state.total;
    this.#expected = state.expected;
    this.#hash = state.hash;
    this.#startedAt = state.startedAt;
    this.#updatedAt = state.updatedAt;
    this.#lock = state.lock;
  }

  digest(): string {
    return `${CANONICAL_ALGORITHM}:${this.#hash.copy().digest('hex')}`;
  }

  async status(): Promise<Status> {
    return this.currentStatus();
  }

  /** The writer's view of its ingest (what was written so far). */
  currentStatus(): Status {
    return {
      ref: this.ref,
      offset: this.#offset,
      total: this.#total,
      expected: this.#expected,
      startedAt: this.#startedAt,
      updatedAt: this.#updatedAt,
    };
  }

  /**
   * Appends `chunk`. The buffer is handed to the kernel as is: do not change it until
   * the returned promise settles. Calls are applied one after another.
   */
  write(chunk: Uint8Array): Promise<void> {
    return this.#serial(async () => {
      const fh = this.#usable('write');
      if (chunk.length > 0) {
        const position = this.#offset;
        const first = fh.write(chunk, 0, chunk.length, position);
        this.#hash.update(chunk);
        try {
          let written = (await first).bytesWritten;
          while (written < chunk.length) {
            written += (await fh.write(chunk, written, chunk.length - written, position + written)).bytesWritten;
          }
        } catch (err) {
          this.#failure = err instanceof Error ? err : new Error(String(err));
          throw err;
        }
        this.#offset += chunk.length;
      }
      this.#updatedAt = now();
    });
  }

  /** Cuts the ingest to `size` bytes (at most the current offset); the digest follows. */
  truncate(size: number): Promise<void> {
    return this.#serial(async () => {
      const fh = this.#usable('truncate');
      if (!Number.isSafeInteger(size) || size < 0 || size > this.#offset) {
        throw invalidArgument(`truncate ${this.ref}: size ${size} out of range [0, ${this.#offset}]`);
      }
      await fh.truncate(size);
      this.#hash = size === 0 ? createHash(CANONICAL_ALGORITHM) : (await hashPrefix(fh, size)).hash;
      this.#offset = size;
      this.#updatedAt = now();
    });
  }

  commit(size: number, expected: string, options?: CommitOptions): Promise<void> {
    return this.#serial(async () => {
      if (this.#phase !== 'open') this.#usable('commit'); // throws: closed or aborted
      // From here the writer ends closed, whatever happens (as containerd's Commit).
      let committed = false;
      try {
        const fh = this.#usable('commit');
        if (size > 0 && size !== this.#offset) {
          throw failedPrecondition(`unexpected commit size ${this.#offset}, expected ${size}`);
        }
        const digest = this.digest();
        if (expected && expected !== digest) {
          throw failedPrecondition(`unexpected commit digest ${digest}, expected ${expected}`);
        }
        const target = this.#host.blobPath(digest);
        const blobDir = await this.#host.ensureBlobDir(CANONICAL_ALGORITHM);
        if (await pathExists(target)) {
          await this.#closeHandle();
          await rm(this.#paths.dir, { recursive: true, force: true });
          throw alreadyExists(`content ${digest}`);
        }
        // Stamped with the commit time, durable, then visible in one rename; made
        // read-only afterwards, so an ingest interrupted before the rename stays writable.
        const mode = (await fh.stat()).mode & 0o777 & ~0o333;
        // To the nanosecond (Node's utimes goes through doubles).
        const commitTime = toUnixNanos(now());
        utimensat(this.#paths.data, commitTime, commitTime);
        await fh.sync();
        await rename(this.#paths.data, target);
        committed = true;
        await fh.chmod(mode).catch((err: unknown) =>
          this.#host.warn({ ref: this.ref, digest, err }, 'failed to make blob read-only'),
        );
        await this.#closeHandle();
        await syncDir(blobDir);
        await rm(this.#paths.dir, { recursive: true, force: true }).catch((err: unknown) =>
          this.#host.warn({ ref: this.ref, path: this.#paths.dir, err }, 'failed to remove ingest directory'),
        );
        if (this.#host.labelStore && options?.labels) {
          await this.#host.labelStore.set(digest, options.labels);
        }
      } catch (err) {
        if (!committed && this.#fh) await this.#closeAndStamp();
        throw err;
      } finally {
        await this.#closeHandle().catch(() => undefined);
        this.#finish('closed');
      }
    });
  }

  /** Releases the ref; the ingest stays on disk to be resumed or aborted. Idempotent. */
  close(): Promise<void> {
    return this.#serial(async () => {
      if (this.#phase !== 'open') return;
      try {
        await this.#closeAndStamp();
      } finally {
        this.#finish('closed');
      }
    });
  }

  /**
   * Stops this writer because its ingest is being aborted: later calls fail with not
   * found. The ref lock passes to the aborter, which releases it once the ingest is gone.
   */
  cancel(): Promise<void> {
    return this.#serial(async () => {
      if (this.#phase !== 'open') return;
      this.#phase = 'aborted';
      await this.#closeHandle();
    });
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(op, op);
    this.#tail = run.catch(() => undefined);
    return run;
  }

  #usable(what: string): FileHandle {
    if (this.#phase === 'aborted') throw notFound(`ingest ref ${JSON.stringify(this.ref)}`);
    if (!this.#fh || this.#phase === 'closed') throw failedPrecondition(`cannot ${what} on closed writer`);
    if (this.#failure) {
      throw failedPrecondition(
        `writer for ref ${this.ref} failed (${this.#failure.message}); close it and open it again to resume`,
      );
    }
    return this.#fh;
  }

  async #closeHandle(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  async #closeAndStamp(): Promise<void> {
    await this.#closeHandle();
    // Best effort: status falls back to the data's mtime, and the ingest may be gone
    // (aborted) or the disk full; neither must hide the caller's outcome.
    await replaceTimestamp(this.#paths.updatedAt, this.#updatedAt).catch((err: unknown) => {
      if (!isErrno(err, 'ENOENT')) this.#host.warn({ ref: this.ref, err }, 'could not record ingest update time');
    });
  }

  #finish(phase: Phase): void {
    this.#phase = phase;
    this.#lock.release();
  }
}
