// Helpers every content store user needs: read a whole (small) blob, open a writer
// while a ref is briefly busy, and copy a source into a writer, resuming at the
// offset the writer reports (seeking, reading at an offset, or discarding a prefix).
import { isAlreadyExists, isUnavailable } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { CommitOptions, ContentStore, Descriptor, Writer, WriterOptions } from './types.js';

/** Reads a whole blob into memory. Meant for manifests and configs, not layers. */
export async function readBlob(
  store: Pick<ContentStore, 'readerAt'>,
  ctx: RequestContext,
  desc: Pick<Descriptor, 'digest'> & Partial<Descriptor>,
): Promise<Buffer> {
  const ra = await store.readerAt(ctx, desc);
  try {
    const data = await ra.readAt(0, ra.size);
    if (data.length !== ra.size) throw new Error(`short read of ${desc.digest}: ${data.length} of ${ra.size} bytes`);
    return data;
  } finally {
    await ra.close();
  }
}

/**
 * Opens a writer, retrying with a growing random back-off while the ref is locked by
 * another writer. Gives up with the last `unavailable` error when `ctx.signal` aborts
 * or, without a signal, after `timeoutMs`.
 */
export async function openWriter(
  store: Pick<ContentStore, 'writer'>,
  ctx: RequestContext,
  options: WriterOptions,
  timeoutMs = 10_000,
): Promise<Writer> {
  const deadline = Date.now() + timeoutMs;
  let backoff = 16;
  for (;;) {
    try {
      return await store.writer(ctx, options);
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      if (ctx.signal?.aborted || (!ctx.signal && Date.now() >= deadline)) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * backoff)));
      if (backoff < 2048) backoff *= 2;
    }
  }
}

/** A source that can move its read position; iteration continues from there. */
export interface SeekableSource extends AsyncIterable<Uint8Array> {
  seek(offset: number): void | Promise<void>;
}

/** A source readable at any offset. */
export interface RandomAccessSource {
  readAt(offset: number, length: number): Promise<Uint8Array>;
}

/** Where `copyToWriter` reads from. Plain iterables are consumed from their start. */
export type CopySource = AsyncIterable<Uint8Array> | Iterable<Uint8Array> | SeekableSource | RandomAccessSource;

const copyChunk = 1 << 20;

const isRandomAccess = (s: CopySource): s is RandomAccessSource =>
  typeof (s as Partial<RandomAccessSource>).readAt === 'function';
const isSeekable = (s: CopySource): s is SeekableSource => typeof (s as Partial<SeekableSource>).seek === 'function';

async function* fromRandomAccess(source: RandomAccessSource, offset: number, end: number): AsyncGenerator<Uint8Array> {
  for (let pos = offset; pos < end; ) {
    const chunk = await source.readAt(pos, Math.min(copyChunk, end - pos));
    if (chunk.length === 0) return;
    pos += chunk.length;
    yield chunk;
  }
}

// Drops the first `offset` bytes of an iterable source.
async function* skipping(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, offset: number) {
  let toSkip = offset;
  for await (const chunk of source) {
    if (toSkip >= chunk.length) {
      toSkip -= chunk.length;
      continue;
    }
    yield toSkip > 0 ? chunk.subarray(toSkip) : chunk;
    toSkip = 0;
  }
  if (toSkip > 0) throw new Error(`unable to discard to offset: source ended ${toSkip} bytes early`);
}

/** The rest of `source` after `offset` bytes, by the cheapest means the source offers. */
async function positioned(source: CopySource, offset: number, size: number): Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>> {
  if (isSeekable(source)) {
    await source.seek(offset);
    return source;
  }
  // Without a known size, a random-access source is read until it returns nothing.
  if (isRandomAccess(source)) return fromRandomAccess(source, offset, size > 0 ? size : Number.POSITIVE_INFINITY);
  return offset > 0 ? skipping(source, offset) : source;
}

/**
 * Copies `source` into `writer` from the writer's current offset and commits with
 * `size` and `expected` (0/'' when unknown). A blob that already exists is success.
 * Does not close the writer.
 */
export async function copyToWriter(
  writer: Writer,
  source: CopySource,
  size: number,
  expected: string,
  options?: CommitOptions,
): Promise<void> {
  const { offset, ref } = await writer.status();
  const rest = await positioned(source, offset, size).catch((err: unknown) => {
    throw new Error(`unable to resume write to ${ref}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  let copied = 0;
  for await (const chunk of rest) {
    if (chunk.length === 0) continue;
    await writer.write(chunk);
    copied += chunk.length;
  }
  if (size !== 0 && copied < size - offset) {
    throw new Error(`failed to read expected number of bytes: unexpected EOF (${offset + copied} of ${size})`);
  }
  try {
    await writer.commit(size, expected, options);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
  }
}

/**
 * Writes a blob under `ref` unless it already exists: opens a writer (waiting for a
 * busy ref), copies from where an earlier attempt stopped, commits and closes.
 */
export async function writeBlob(
  store: Pick<ContentStore, 'writer'>,
  ctx: RequestContext,
  ref: string,
  source: CopySource,
  desc: Pick<Descriptor, 'digest' | 'size'>,
  options?: CommitOptions,
): Promise<void> {
  let writer: Writer;
  try {
    writer = await openWriter(store, ctx, { ref, total: desc.size, expected: desc.digest });
  } catch (err) {
    if (isAlreadyExists(err)) return;
    throw err;
  }
  try {
    await copyToWriter(writer, source, desc.size, desc.digest, options);
  } finally {
    await writer.close();
  }
}
