// The daemon's content store through its gRPC API, as containerd's remote content store
// client: Info, label Update, Read into memory, and Write (a writer opened with the ref and
// the expected descriptor, retried while another writer holds the ref; `already exists`
// when the blob is there).
import { ContentService, type Info, WriteAction, type WriteContentRequest, type WriteContentResponse } from '@containerd-ts/api/services/content';
import { goErrorText, isAlreadyExists, isUnavailable } from '@containerd-ts/errdefs';
import type { MethodDefinition } from '@grpc/grpc-js';
import { type CallContext, type Connection, errorOf } from './connection.js';

export async function contentInfo(conn: Connection, digest: string, ctx?: CallContext): Promise<Info> {
  const res = await conn.unary(ContentService.info, { digest }, ctx);
  if (!res.info) throw new Error(`no info for ${digest}`);
  return res.info;
}

/** Sets (or, with '', removes) labels of a blob: one `labels.<key>` field path per key. */
export async function updateContentLabels(conn: Connection, digest: string, labels: Record<string, string>, ctx?: CallContext): Promise<Info | undefined> {
  const keys = Object.keys(labels);
  if (keys.length === 0) return undefined;
  const set = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
  const res = await conn.unary(
    ContentService.update,
    { info: { digest, size: 0, createdAt: undefined, updatedAt: undefined, labels: set }, updateMask: keys.map((k) => `labels.${k}`) },
    ctx,
  );
  return res.info;
}

export async function readContent(conn: Connection, digest: string, ctx?: CallContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const res of conn.serverStream(ContentService.read, { digest, offset: 0, size: 0 }, ctx)) chunks.push(Buffer.from(res.data));
  return Buffer.concat(chunks);
}

/** Streams a blob out of the store. */
export async function* readContentStream(conn: Connection, digest: string, ctx?: CallContext): AsyncGenerator<Buffer> {
  for await (const res of conn.serverStream(ContentService.read, { digest, offset: 0, size: 0 }, ctx)) yield Buffer.from(res.data);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Write requests sent before the first of them must be answered. */
const WRITE_WINDOW = 4;

/** How often a broken-off source is opened again. */
const MAX_RESUMES = 5;

/** A WRITE request already in its wire form (see ContentWriteStream.writeChunks). */
class EncodedWriteRequest {
  constructor(readonly bytes: Buffer) {}
}

/**
 * Content/Write, sending pre-encoded WRITE requests as they are. The generated serializer
 * copies a request's data three times (into the protobuf writer's buffer, out of it, into a
 * Buffer) and zero-fills two of them: for a blob that is most of a pull's work in the client.
 */
const writeMethod: MethodDefinition<WriteContentRequest | EncodedWriteRequest, WriteContentResponse> = {
  ...ContentService.write,
  requestSerialize: (req: WriteContentRequest | EncodedWriteRequest) =>
    req instanceof EncodedWriteRequest ? req.bytes : ContentService.write.requestSerialize(req),
};

/** Bytes of `n` as a protobuf varint. */
const varintLength = (n: number) => {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) len++;
  return len;
};

function putVarint(buf: Buffer, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/**
 * A WriteContentRequest {action: WRITE, offset, data: the chunks} in protobuf's wire form,
 * built in one buffer: fields 1 (action), 5 (offset) and 6 (data), as the generated encoder
 * writes them.
 */
export function encodeWriteRequest(offset: number, chunks: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const c of chunks) length += c.byteLength;
  const header = 1 + varintLength(WriteAction.WRITE) + (offset !== 0 ? 1 + varintLength(offset) : 0) + (length !== 0 ? 1 + varintLength(length) : 0);
  const buf = Buffer.allocUnsafe(header + length);
  let at = 0;
  buf[at++] = (1 << 3) | 0;
  at = putVarint(buf, at, WriteAction.WRITE);
  if (offset !== 0) {
    buf[at++] = (5 << 3) | 0;
    at = putVarint(buf, at, offset);
  }
  if (length !== 0) {
    buf[at++] = (6 << 3) | 2;
    at = putVarint(buf, at, length);
    for (const c of chunks) {
      buf.set(c, at);
      at += c.byteLength;
    }
  }
  return buf;
}

/** One content Write stream, driven request by request, as containerd's remote writer. */
export class ContentWriteStream {
  private readonly call;
  private readonly responses: AsyncIterator<WriteContentResponse>;

  constructor(conn: Connection, ctx?: CallContext) {
    this.call = conn.bidiStream(writeMethod, ctx);
    this.responses = this.call[Symbol.asyncIterator]() as AsyncIterator<WriteContentResponse>;
  }

  /**
   * Sends WRITE of `chunks` (in this order) at `offset` without waiting for its answer,
   * copying their bytes once, straight into the request.
   */
  writeChunks(offset: number, chunks: readonly Uint8Array[]): void {
    this.call.write(new EncodedWriteRequest(encodeWriteRequest(offset, chunks)));
  }

  async send(req: Partial<WriteContentRequest> & { action: WriteAction }): Promise<WriteContentResponse> {
    this.write(req);
    return this.receive();
  }

  /** Sends a request without waiting for its answer (answers come in order). */
  write(req: Partial<WriteContentRequest> & { action: WriteAction }): void {
    this.call.write({ ref: '', total: 0, expected: '', offset: 0, data: new Uint8Array(), labels: {}, ...req });
  }

  /** The next answer. */
  async receive(): Promise<WriteContentResponse> {
    let next: IteratorResult<WriteContentResponse>;
    try {
      next = await this.responses.next();
    } catch (err) {
      throw errorOf(err);
    }
    if (next.done) throw new Error('content Write stream ended before answering');
    return next.value;
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

/**
 * Opens a content writer for `ref` (content.OpenWriter): the Write stream and the status the
 * daemon answered the first STAT with (`offset` is where a resumed write goes on). Retries
 * with a growing random wait while another writer holds the ref; undefined when the blob
 * already exists. The caller closes the stream.
 */
export async function openContentWriter(
  conn: Connection,
  ref: string,
  total: number,
  expected: string,
  ctx?: CallContext,
): Promise<{ stream: ContentWriteStream; status: WriteContentResponse } | undefined> {
  for (let retry = 16; ; retry = Math.min(retry * 2, 2048)) {
    const stream = new ContentWriteStream(conn, ctx);
    try {
      return { stream, status: await stream.send({ action: WriteAction.STAT, ref, total, expected }) };
    } catch (err) {
      stream.close();
      if (isAlreadyExists(err)) return undefined;
      if (!isUnavailable(err)) throw new Error(`failed to open writer: ${(err as Error).message}`, { cause: err });
      await sleep(Math.floor(Math.random() * retry));
    }
  }
}

export interface WriteBlobOptions {
  ref: string;
  expected: string;
  size: number;
  labels?: Record<string, string>;
  /** Called with the bytes written so far (for progress). */
  onProgress?: (offset: number) => void;
}

/**
 * content.WriteBlob through the Write API: opens the writer (retrying while the ref is
 * locked), resumes at the offset the daemon has, copies `open(offset)` and commits with
 * the expected digest. Resolves false when the blob already existed (nothing written).
 */
export async function writeBlob(
  conn: Connection,
  open: (offset: number) => Promise<AsyncIterable<Uint8Array>>,
  opts: WriteBlobOptions,
  ctx?: CallContext,
): Promise<boolean> {
  const opened = await openContentWriter(conn, opts.ref, opts.size, opts.expected, ctx);
  if (!opened) return false;
  const { stream, status } = opened;
  try {
    let offset = status.offset;
    if (offset > opts.size) offset = 0;
    if (offset < opts.size || opts.size === 0) {
      // A source that breaks off (the connection to the registry dropped) is opened again
      // at the offset the daemon has, a few times.
      for (let attempt = 0; ; attempt++) {
        const source = await open(offset);
        let pending: Buffer[] = [];
        let pendingLength = 0;
        // Writes in flight: the download goes on while the daemon stores what came before.
        const inflight: number[] = [];
        let sent = offset;
        const settle = async (keep: number) => {
          while (inflight.length > keep) {
            const end = inflight.shift()!;
            const res = await stream.receive();
            if (res.offset < end) throw new Error('failed to copy: short write');
            offset = res.offset;
            opts.onProgress?.(offset);
          }
        };
        const flush = async (keep = WRITE_WINDOW - 1) => {
          if (pendingLength > 0) {
            stream.writeChunks(sent, pending);
            sent += pendingLength;
            pending = [];
            pendingLength = 0;
            inflight.push(sent);
          }
          await settle(keep);
        };
        let broken: unknown;
        const it = source[Symbol.asyncIterator]();
        for (;;) {
          let next: IteratorResult<Uint8Array>;
          try {
            next = await it.next();
          } catch (err) {
            broken = err;
            break;
          }
          if (next.done) break;
          const chunk = next.value;
          pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
          pendingLength += chunk.byteLength;
          if (pendingLength >= 1 << 20) await flush();
        }
        await flush(0);
        if (broken === undefined) break;
        if (attempt >= MAX_RESUMES || (opts.size > 0 && offset >= opts.size)) {
          throw new Error(`failed to copy: ${(broken as Error).message}`, { cause: broken });
        }
      }
    }
    try {
      const res = await stream.send({ action: WriteAction.COMMIT, total: opts.size, offset, expected: opts.expected, labels: opts.labels ?? {} });
      if (opts.expected !== '' && res.digest !== opts.expected) throw new Error(`unexpected commit digest ${res.digest}, expected ${opts.expected}`);
    } catch (err) {
      if (isAlreadyExists(err)) return false;
      throw new Error(`failed commit on ref "${opts.ref}": ${(err as Error).message}`, { cause: err });
    }
    return true;
  } finally {
    stream.close();
  }
}

/**
 * cs.Writer, io.Copy and Commit(0, wr.Digest()) as `ctr content edit` does them: a writer
 * under `ref` (no expected size or digest; an error of the daemon's as it is), the bytes
 * written from the offset the daemon has on, committed under the digest the daemon's last
 * WRITE answer gave. Resolves with the committed digest. Errors read as a Go client's
 * (`failed to send write: …`, `commit failed: … exists: already exists`).
 */
export async function commitContent(conn: Connection, ref: string, data: AsyncIterable<Uint8Array>, ctx?: CallContext): Promise<string> {
  const stream = new ContentWriteStream(conn, ctx);
  try {
    let offset: number;
    try {
      offset = (await stream.send({ action: WriteAction.STAT, ref })).offset;
    } catch (err) {
      throw new Error(goErrorText(err), { cause: err });
    }
    let digest = '';
    for await (const chunk of data) {
      for (let at = 0; at < chunk.byteLength; at += 1 << 20) {
        const part = chunk.subarray(at, at + (1 << 20));
        let res: WriteContentResponse;
        try {
          res = await stream.send({ action: WriteAction.WRITE, offset, data: part });
        } catch (err) {
          throw new Error(`failed to send write: ${goErrorText(err)}`, { cause: err });
        }
        const n = res.offset - offset;
        offset += n;
        if (res.digest !== '') digest = res.digest;
        if (n < part.byteLength) throw new Error('short write');
      }
    }
    let res: WriteContentResponse;
    try {
      res = await stream.send({ action: WriteAction.COMMIT, total: 0, offset, expected: digest });
    } catch (err) {
      throw new Error(`commit failed: ${goErrorText(err)}`, { cause: err });
    }
    if (digest !== '' && res.digest !== digest) throw new Error(`unexpected digest: ${res.digest} != ${digest}`);
    return res.digest;
  } finally {
    stream.close();
  }
}
