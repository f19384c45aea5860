// The content store contract, as containerd's content.Store: a digest-addressed blob
// store with resumable, ref-keyed ingests. Implemented by the local store (not
// namespaced) and by the metadata layer (namespaced, labels, leases, GC references).
import type { RequestContext } from '@containerd-ts/namespaces';
import type {} from '@containerd-ts/plugin';
import type { Timestamp } from '@containerd-ts/timestamp';

/** An OCI descriptor (the fields the content store uses). */
export interface Descriptor {
  mediaType?: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface Info {
  digest: string;
  size: number;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  labels: Record<string, string>;
}

export interface Status {
  ref: string;
  offset: number;
  total: number;
  /** Expected digest given to the writer ('' when none or unknown: the local store does not persist it). */
  expected: string;
  startedAt: Timestamp;
  updatedAt: Timestamp;
}

/** Random access to one committed blob. */
export interface ReaderAt {
  readonly size: number;
  /** Reads up to `length` bytes at `offset`; returns fewer only at the end of the blob. */
  readAt(offset: number, length: number): Promise<Buffer>;
  /** Streams `[offset, offset+length)` (to the end when length is undefined). */
  stream(offset?: number, length?: number): NodeJS.ReadableStream & AsyncIterable<Buffer>;
  close(): Promise<void>;
}

export interface WriterOptions {
  /** Ingest key; a second writer on an active ref is refused with `unavailable` ("ref … locked"). */
  ref: string;
  /** Expected size and digest (0/'' when unknown). */
  total?: number;
  expected?: string;
}

export interface CommitOptions {
  labels?: Record<string, string>;
}

/** An open ingest. Digest is computed as bytes arrive. */
export interface Writer {
  readonly ref: string;
  /** Digest of everything written so far. */
  digest(): string;
  status(): Promise<Status>;
  /** Appends bytes at the current offset. The buffer must stay unchanged until the promise settles. */
  write(chunk: Uint8Array): Promise<void>;
  /** Cuts the ingest to `size` bytes (only 0 is required to be supported, as in containerd). */
  truncate(size: number): Promise<void>;
  /**
   * Verifies size (when > 0) and expected digest (when non-empty), then atomically makes
   * the blob visible. Mismatch: `failed-precondition`, nothing committed. Blob already
   * present: `already-exists` (the ingest is removed).
   */
  commit(size: number, expected: string, options?: CommitOptions): Promise<void>;
  /** Releases the ref lock; the ingest stays resumable. Idempotent, and a no-op after commit. */
  close(): Promise<void>;
}

export type WalkFn = (info: Info) => void | Promise<void>;

/** The full content store (containerd's content.Store). */
export interface ContentStore {
  info(ctx: RequestContext, digest: string): Promise<Info>;
  /** Updates fields named by `fieldpaths` (`labels`, `labels.<key>`); all labels when empty. */
  update(ctx: RequestContext, info: Pick<Info, 'digest' | 'labels'>, fieldpaths?: readonly string[]): Promise<Info>;
  walk(ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void>;
  delete(ctx: RequestContext, digest: string): Promise<void>;
  readerAt(ctx: RequestContext, desc: Pick<Descriptor, 'digest'> & Partial<Descriptor>): Promise<ReaderAt>;
  status(ctx: RequestContext, ref: string): Promise<Status>;
  listStatuses(ctx: RequestContext, filters?: readonly string[]): Promise<Status[]>;
  abort(ctx: RequestContext, ref: string): Promise<void>;
  writer(ctx: RequestContext, options: WriterOptions): Promise<Writer>;
  /**
   * Calls `fn` with the ref of every ingest, cheaper than `listStatuses` (garbage
   * collection uses it to find ingests the metadata no longer knows). Optional.
   */
  walkStatusRefs?(ctx: RequestContext, fn: (ref: string) => void | Promise<void>): Promise<void>;
  /**
   * Calls `fn` with the digest of every blob, without reading its info (garbage
   * collection uses it to find blobs no record references). Optional.
   */
  walkDigests?(ctx: RequestContext, fn: (digest: string) => void | Promise<void>): Promise<void>;
  /**
   * A number that changes whenever a blob may have stopped being visible in some
   * namespace (a delete or a collection). A visibility check made while it stays the
   * same still holds, so readers kept open between calls need not check again. Optional.
   */
  removals?(): number;
}

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.content.v1': ContentStore;
  }
}
