// The namespaced content store: per-namespace records (labels, times) over one shared
// backend store. A blob is visible in a namespace only through its record there.
//
// Crash safety: a blob is committed to the backend before its record is written, and a
// record is deleted before its blob (the blob goes with the next garbage collection).
// So a crash can leave a blob without a record (collected later), never a record
// without its blob.
import {
  adaptInfo,
  adaptStatus,
  type CommitOptions,
  type ContentStore,
  type Descriptor,
  type Info,
  type ReaderAt,
  type Status,
  type WalkFn,
  type Writer,
  type WriterOptions,
} from '@containerd-ts/content';
import { alreadyExists, failedPrecondition, invalidArgument, isAlreadyExists, isNotFound, notFound } from '@containerd-ts/errdefs';
import { always, parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import type { DBCore } from './core.js';
import { contentDeleteEvent } from './events.js';
import { blobKey, blobsPrefix, ingestKey, ingestsPrefix, SEQUENCE_KEY } from './keys.js';
import { storedLabels, updatedLabels, validateLabels } from './labels.js';
import { addLeaseResource, removeLeaseResource } from './leases.js';
import { type BlobRecord, type IngestRecord, readRecordTime, recordTime } from './records.js';
import type { Txn } from './store.js';
import { now } from '@containerd-ts/timestamp';

/** How long an ingest outside any lease stays a GC root after its writer was last opened. */
export const INGEST_EXPIRY_MS = 24 * 60 * 60 * 1000;

const toInfo = (digest: string, rec: BlobRecord): Info => ({
  digest,
  size: rec.size,
  createdAt: readRecordTime(rec.createdAt),
  updatedAt: readRecordTime(rec.updatedAt),
  labels: { ...(rec.labels ?? {}) },
});

/** Records read per native iterator call in a walk (a List's responses hold 100 infos). */
const WALK_BATCH = 200;

const backendContext = (ctx: RequestContext): RequestContext => (ctx.signal ? { signal: ctx.signal } : {});

export class MetadataContentStore implements ContentStore {
  constructor(
    private readonly core: DBCore,
    private readonly backend: ContentStore,
  ) {}

  removals(): number {
    return this.core.contentRemovals();
  }

  async info(ctx: RequestContext, digest: string): Promise<Info> {
    const ns = namespaceRequired(ctx);
    const rec = await this.core.store.getJSON<BlobRecord>(blobKey(ns, digest));
    if (!rec) throw notFound(`content digest ${digest}`);
    return toInfo(digest, rec);
  }

  async update(ctx: RequestContext, info: Pick<Info, 'digest' | 'labels'>, fieldpaths: readonly string[] = []): Promise<Info> {
    const ns = namespaceRequired(ctx);
    return this.core.contentLock.withShared(() =>
      this.core.update(async (tx) => {
        const rec = await tx.getJSON<BlobRecord>(blobKey(ns, info.digest));
        if (!rec) throw notFound(`content digest ${info.digest}`);
        const labels = updatedLabels(rec.labels, info.labels, fieldpaths, `content info ${JSON.stringify(info.digest)}`);
        validateLabels(labels, 'info.Labels');
        const updated: BlobRecord = { ...rec, labels: storedLabels(labels), updatedAt: recordTime(now()) };
        tx.putJSON(blobKey(ns, info.digest), updated);
        return toInfo(info.digest, updated);
      }),
    );
  }

  async walk(ctx: RequestContext, fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    const ns = namespaceRequired(ctx);
    const filter = parseAll(filters);
    const prefix = blobsPrefix(ns);
    const everything = filter === always;
    // A batch of records at a time from one consistent snapshot, each handed on before the
    // next is read: a List sends its first response without decoding every record first.
    for await (const batch of this.core.store.batches(prefix, WALK_BATCH)) {
      for (const [key, value] of batch) {
        const info = toInfo(key.slice(prefix.length), JSON.parse(value) as BlobRecord);
        if (everything || filter.match(adaptInfo(info))) await fn(info);
      }
    }
  }

  /** Removes the blob from the request's namespace; the data goes with the next collection. */
  async delete(ctx: RequestContext, digest: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.contentLock.withShared(() =>
      this.core.update(async (tx) => {
        if ((await tx.get(blobKey(ns, digest))) === undefined) throw notFound(`content digest ${digest}`);
        tx.del(blobKey(ns, digest));
        removeLeaseResource(tx, ctx, ns, 'content', digest);
        this.core.markDirty(tx, { content: true });
      }),
    );
    await this.core.publish(ctx, '/content/delete', contentDeleteEvent(digest));
  }

  async readerAt(ctx: RequestContext, desc: Pick<Descriptor, 'digest'> & Partial<Descriptor>): Promise<ReaderAt> {
    const ns = namespaceRequired(ctx);
    if ((await this.core.store.get(blobKey(ns, desc.digest))) === undefined) throw notFound(`content digest ${desc.digest}`);
    return this.backend.readerAt(backendContext(ctx), desc);
  }

  async status(ctx: RequestContext, ref: string): Promise<Status> {
    const ns = namespaceRequired(ctx);
    const rec = await this.core.store.getJSON<IngestRecord>(ingestKey(ns, ref));
    if (!rec?.ref) throw notFound(`reference ${ref}`);
    const st = await this.backend.status(backendContext(ctx), rec.ref);
    return { ...st, ref };
  }

  async listStatuses(ctx: RequestContext, filters: readonly string[] = []): Promise<Status[]> {
    const ns = namespaceRequired(ctx);
    const filter = parseAll(filters);
    const prefix = ingestsPrefix(ns);
    const refs: Array<[string, string]> = [];
    for await (const [key, value] of this.core.store.entries(prefix)) {
      const rec = JSON.parse(value) as IngestRecord;
      if (rec.ref) refs.push([key.slice(prefix.length), rec.ref]);
    }
    const out: Status[] = [];
    for (const [ref, bref] of refs) {
      let st: Status;
      try {
        st = await this.backend.status(backendContext(ctx), bref);
      } catch (err) {
        if (isNotFound(err)) continue;
        throw err;
      }
      const status = { ...st, ref };
      if (filter.match(adaptStatus(status))) out.push(status);
    }
    return out;
  }

  async abort(ctx: RequestContext, ref: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.contentLock.withShared(() =>
      this.core.update(async (tx) => {
        const rec = await tx.getJSON<IngestRecord>(ingestKey(ns, ref));
        if (!rec?.ref) throw notFound(`reference ${ref}`);
        tx.del(ingestKey(ns, ref));
        removeLeaseResource(tx, ctx, ns, 'ingests', ref);
        // A shared ingest held the blob it expects, which may be referenced nowhere else now.
        if (rec.expected) this.core.markDirty(tx, { content: true });
        // A shared ingest may have no backend data yet; either way nothing is left behind.
        try {
          await this.backend.abort(backendContext(ctx), rec.ref);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }),
    );
  }

  async writer(ctx: RequestContext, options: WriterOptions): Promise<Writer> {
    const { ref } = options;
    if (!ref) throw invalidArgument('ref must not be empty');
    const ns = namespaceRequired(ctx);
    const expected = options.expected ?? '';
    let total = options.total ?? 0;
    return this.core.contentLock.withShared(async () => {
      let exists = false;
      let bref = '';
      let sharedSize = -1;
      // The record first (so a crash never leaves backend data nothing points at for long),
      // then the backend writer, outside the writer mutex: it may wait for a locked ref.
      await this.core.update(async (tx) => {
        await this.core.touchNamespace(tx, ns);
        if (expected) {
          if ((await tx.get(blobKey(ns, expected))) !== undefined) {
            // Held by the request's lease even though nothing is written: the caller
            // is about to reference it.
            await addLeaseResource(tx, ctx, ns, 'content', expected);
            exists = true;
            return;
          }
          if (this.core.sharedContent) {
            try {
              const backendInfo = await this.backend.info(backendContext(ctx), expected);
              if (total === 0 || total === backendInfo.size) {
                sharedSize = backendInfo.size;
                total = backendInfo.size;
              }
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          }
        }
        const previous = await tx.getJSON<IngestRecord>(ingestKey(ns, ref));
        const leased = await addLeaseResource(tx, ctx, ns, 'ingests', ref);
        bref = previous?.ref || createBackendRef(await nextSequence(tx), ns, ref);
        const rec: IngestRecord = { ref: bref };
        if (!leased) {
          const expireAt = new Date(Date.now() + INGEST_EXPIRY_MS);
          rec.expireAt = expireAt.toISOString();
          tx.onCommit(() => this.core.noteExpiry(expireAt));
        } else if (previous?.expireAt) {
          rec.expireAt = previous.expireAt;
        }
        if (sharedSize >= 0) rec.expected = expected;
        tx.putJSON(ingestKey(ns, ref), rec);
      });
      if (exists) throw alreadyExists(`content ${expected}`);
      // The expected digest is checked at commit; the backend must not resolve it against
      // content this namespace has not proven it has.
      const backendWriter =
        sharedSize >= 0 ? undefined : await this.backend.writer(backendContext(ctx), { ref: bref, total });
      return new NamespacedWriter(this.core, this.backend, ctx, ns, ref, bref, backendWriter, {
        digest: sharedSize >= 0 ? expected : '',
        size: sharedSize >= 0 ? sharedSize : total,
      });
    });
  }
}

/** Backend ingest reference, unique per namespace and open: `<ns>/<sequence>/<ref>`. */
const createBackendRef = (seq: number, ns: string, ref: string) => `${ns}/${seq}/${ref}`;

async function nextSequence(tx: Txn): Promise<number> {
  const next = Number((await tx.get(SEQUENCE_KEY)) ?? '0') + 1;
  tx.put(SEQUENCE_KEY, String(next));
  return next;
}

/**
 * A writer in one namespace. Under the shared policy it starts without backend data
 * when the expected blob is already in the backend: committing then only adds the
 * record; writing or truncating first copies the shared blob into a private ingest.
 */
class NamespacedWriter implements Writer {
  private readonly started = now();

  constructor(
    private readonly core: DBCore,
    private readonly backend: ContentStore,
    private readonly ctx: RequestContext,
    private readonly ns: string,
    readonly ref: string,
    private readonly bref: string,
    private w: Writer | undefined,
    private readonly desc: { digest: string; size: number },
  ) {}

  digest(): string {
    return this.w ? this.w.digest() : this.desc.digest;
  }

  async status(): Promise<Status> {
    if (this.w) return { ...(await this.w.status()), ref: this.ref };
    return {
      ref: this.ref,
      offset: this.desc.size,
      total: this.desc.size,
      expected: this.desc.digest,
      startedAt: this.started,
      updatedAt: this.started,
    };
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!this.w) {
      if (chunk.length === 0) return;
      this.w = await this.copyShared(this.desc.size);
    }
    await this.w.write(chunk);
  }

  async truncate(size: number): Promise<void> {
    if (this.w) return this.w.truncate(size);
    this.w = await this.copyShared(size);
  }

  /** A private backend ingest holding the first `size` bytes of the shared blob. */
  private async copyShared(size: number): Promise<Writer> {
    const bctx = backendContext(this.ctx);
    const w = await this.backend.writer(bctx, { ref: this.bref, total: this.desc.size });
    try {
      const st = await w.status();
      if (st.offset !== 0) await w.truncate(0);
      if (size > 0) {
        const ra = await this.backend.readerAt(bctx, { digest: this.desc.digest, size: this.desc.size });
        try {
          for await (const chunk of ra.stream(0, size)) await w.write(chunk);
        } finally {
          await ra.close();
        }
      }
      return w;
    } catch (err) {
      await w.close();
      throw err;
    }
  }

  async commit(size: number, expected: string, options: CommitOptions = {}): Promise<void> {
    const labels = storedLabels(options.labels);
    try {
      validateLabels(labels, 'info.Labels');
    } catch (err) {
      await this.w?.close();
      throw err;
    }
    const ctx = this.ctx;
    const ns = this.ns;
    let existed = false;
    await this.core.contentLock.withShared(async () => {
      let actual: string;
      if (!this.w) {
        if (size !== 0 && size !== this.desc.size) {
          throw failedPrecondition(`${JSON.stringify(this.ref)} failed size validation: ${this.desc.size} != ${size}`);
        }
        if (expected && expected !== this.desc.digest) throw failedPrecondition(`${JSON.stringify(this.ref)} unexpected digest`);
        size = this.desc.size;
        actual = this.desc.digest;
      } else {
        const w = this.w;
        const st = await w.status();
        if (size !== 0 && size !== st.offset) {
          await w.close();
          throw failedPrecondition(`${JSON.stringify(this.ref)} failed size validation: ${st.offset} != ${size}`);
        }
        size = st.offset;
        try {
          await w.commit(size, expected);
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
        actual = w.digest();
      }
      // The blob is in the backend now; the record makes it visible in this namespace.
      await this.core.update(async (tx) => {
        await this.core.touchNamespace(tx, ns);
        if ((await tx.get(blobKey(ns, actual))) !== undefined) {
          existed = true;
        } else {
          const t = recordTime(now());
          tx.putJSON(blobKey(ns, actual), { size, createdAt: t, updatedAt: t, labels } satisfies BlobRecord);
        }
        tx.del(ingestKey(ns, this.ref));
        removeLeaseResource(tx, ctx, ns, 'ingests', this.ref);
        await addLeaseResource(tx, ctx, ns, 'content', actual);
      });
      if (existed) throw alreadyExists(`content ${actual}`);
    });
  }

  async close(): Promise<void> {
    await this.w?.close();
  }
}
