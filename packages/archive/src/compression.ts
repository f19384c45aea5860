// Compression of layer streams: detection by magic bytes (as containerd's
// compression.DecompressStream), gzip through node:zlib (inflate runs on the libuv
// thread pool) and zstd through the zstd-napi binding, both streaming.
import { Readable, type Transform, pipeline } from 'node:stream';
import { createRequire } from 'node:module';
import type { ZlibOptions } from 'node:zlib';

export type Compression = 'none' | 'gzip' | 'zstd';

const ZSTD_SKIPPABLE_MASK = 0xfffffff0;
const ZSTD_SKIPPABLE_START = 0x184d2a50;
/** Bytes looked at to detect the compression (containerd peeks 10). */
export const MAGIC_PEEK = 10;
// Output buffer of one inflate step. Node's default (16 KiB) means one thread-pool
// round trip per 16 KiB of tar; larger steps keep the pool busy with fewer hops.
const INFLATE_CHUNK = 256 * 1024;

/** The compression the first bytes of a stream announce. */
export function detectCompression(head: Uint8Array): Compression {
  if (head.length >= 3 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 0x08) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  if (head.length >= 8) {
    const magic = (head[0]! | (head[1]! << 8) | (head[2]! << 16) | (head[3]! << 24)) >>> 0;
    if (((magic & ZSTD_SKIPPABLE_MASK) >>> 0) === ZSTD_SKIPPABLE_START) return 'zstd';
  }
  return 'none';
}

/** A decompressed view of a stream, and the compression that was found. */
export interface Decompressed {
  readonly compression: Compression;
  readonly stream: Readable;
}

/**
 * Reads the first bytes of `source`, detects the compression from them and returns
 * the decompressed stream. Back-pressure flows from the returned stream to `source`.
 * With `detect: false` the source is returned unchanged (a media type that says
 * "plain tar" is not sniffed, as in containerd).
 */
export async function decompressStream(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: { detect?: boolean } = {},
): Promise<Decompressed> {
  const sniffed = await sniffCompression(source, options);
  return { compression: sniffed.compression, stream: decompressKnown(sniffed.stream, sniffed.compression) };
}

/** `stream` decompressed, its compression already known (from sniffCompression). */
export function decompressKnown(stream: Readable, compression: Compression): Readable {
  if (compression === 'none') return stream;
  const decoder: Transform =
    compression === 'gzip'
      ? // A readable buffer of several steps: push() keeps returning true, so the next
        // inflate step is queued at once and runs while the consumer works on this one.
        gzipModule().createGunzip({ chunkSize: INFLATE_CHUNK, readableHighWaterMark: 4 * INFLATE_CHUNK } as ZlibOptions)
      : createZstdDecompressor();
  // pipeline() destroys every stage when one fails and forwards the error to the last.
  return pipeline(stream, decoder, () => {}) as Transform;
}

/**
 * Detects the compression of `source` from its first bytes (unless `detect` is false)
 * without decompressing; the returned stream still yields every byte of the source.
 */
export async function sniffCompression(
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: { detect?: boolean } = {},
): Promise<Decompressed> {
  const input = toReadable(source);
  if (options.detect === false) return { compression: 'none', stream: input };
  const { head, stream } = await peek(input, MAGIC_PEEK);
  return { compression: detectCompression(head), stream };
}

let zstd: typeof import('zstd-napi') | undefined;

/** node:zlib, loaded on the first gzip stream, not on import: a daemon that has not pulled, pushed or diffed does not load it (~1 ms of its start). */
const gzipModule = () => process.getBuiltinModule('node:zlib');

/** A streaming zstd decoder; the native binding loads on first use, not on import. */
export function createZstdDecompressor(): Transform {
  zstd ??= createRequire(import.meta.url)('zstd-napi') as typeof import('zstd-napi');
  return new zstd.DecompressStream() as unknown as Transform;
}

/** A gzip compressor as containerd writes diffs (default level). */
export function createGzipCompressor(): Transform {
  const { constants, createGzip } = gzipModule();
  return createGzip({ level: constants.Z_DEFAULT_COMPRESSION, chunkSize: 64 * 1024 });
}

function toReadable(source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream): Readable {
  if (source instanceof Readable) return source;
  return Readable.from(source as AsyncIterable<Uint8Array>, { objectMode: false });
}

/**
 * Reads until at least `n` bytes arrived (or the stream ended) and returns them with a
 * stream that yields every byte again, the peeked ones first.
 */
async function peek(stream: Readable, n: number): Promise<{ head: Buffer; stream: Readable }> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const parts: Buffer[] = [];
  let have = 0;
  let ended = false;
  while (have < n) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    parts.push(next.value);
    have += next.value.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    let complete = ended;
    try {
      yield* parts;
      if (ended) return;
      for (;;) {
        const next = await iterator.next();
        if (next.done) {
          complete = true;
          return;
        }
        yield next.value;
      }
    } finally {
      // Stopped early (an error, an abort): release the source stream too.
      if (!complete) await iterator.return?.();
    }
  }
  return { head: Buffer.concat(parts), stream: Readable.from(replay(), { objectMode: false }) };
}
