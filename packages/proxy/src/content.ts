// A content store served by another process over containerd.services.content.v1.Content,
// as containerd's proxy content store: blobs are read with Read streams, ingests are
// driven over one Write stream per writer (stat, write, commit), and gRPC errors come
// back as errdefs errors.
import { Readable } from 'node:stream';
import {
  ContentService,
  type Info as ApiInfo,
  type Status as ApiStatus,
  WriteAction,
  type WriteContentRequest,
  type WriteContentResponse,
} from '@containerd-ts/api/services/content';
import type { CallContext, Connection } from '@containerd-ts/client/connection';
import type {
  CommitOptions,
  ContentStore,
  Descriptor,
  Info,
  ReaderAt,
  Status,
  WalkFn,
  Writer,
  WriterOptions,
} from '@containerd-ts/content';
import { failedPrecondition, invalidArgument, notImplemented } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Timestamp } from '@containerd-ts/timestamp';
import type { ClientDuplexStream } from '@grpc/grpc-js';
import { type ProxyConnection, callContext } from './connection.js';

const epoch = (): Timestamp => ({ seconds: 0, nanos: 0 });

const fromApiInfo = (info: ApiInfo | undefined): Info => ({
  digest: info?.digest ?? '',
  size: info?.size ?? 0,
  createdAt: info?.createdAt ?? epoch(),
  updatedAt: info?.updatedAt ?? epoch(),
  labels: { ...(info?.labels ?? {}) },
});

const fromApiStatus = (st: ApiStatus | undefined): Status => ({
  ref: st?.ref ?? '',
  offset: st?.offset ?? 0,
  total: st?.total ?? 0,
  expected: st?.expected ?? '',
  startedAt: st?.startedAt ?? epoch(),
  updatedAt: st?.updatedAt ?? epoch(),
});

const asBuffer = (data: Uint8Array): Buffer =>
  Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

export class RemoteContentStore implements ContentStore {
  constructor(private readonly conn: ProxyConnection) {}

  info(ctx: RequestContext, digest: string): Promise<Info> {
    return this.conn.call(ctx, async (c, call) => fromApiInfo((await c.unary(ContentService.info, { digest }, call)).info));
  }

  update(ctx: RequestContext, info: Pick<Info, 'digest' | 'labels'>, fieldpaths: readonly string[] = []): Promise<Info> {
    return this.conn.call(ctx, async (c, call) => {
      const req = {
        info: { digest: info.digest, size: 0, createdAt: undefined, updatedAt: undefined, labels: { ...info.labels } },
        updateMask: [...fieldpaths],
      };
      return fromApiInfo((await c.unary(ContentService.update, req, call)).info);
    });
  }

  async walk(ctx: RequestContext, fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    // A bad filter is refused here with its class: the List stream would report it as Unknown.
    parseAll(filters);
    const batches = this.conn.stream(ctx, (c, call) => c.serverStream(ContentService.list, { filters: [...filters] }, call));
    for await (const batch of batches) {
      for (const info of batch.info) await fn(fromApiInfo(info));
    }
  }

  delete(ctx: RequestContext, digest: string): Promise<void> {
    return this.conn.call(ctx, async (c, call) => {
      await c.unary(ContentService.delete, { digest }, call);
    });
  }

  /** As containerd's proxy: the size comes from Info, bytes from Read calls made as they are asked for. */
  async readerAt(ctx: RequestContext, desc: Pick<Descriptor, 'digest'> & Partial<Descriptor>): Promise<ReaderAt> {
    const { size } = await this.info(ctx, desc.digest);
    // A reader may outlive the request that opened it (readers are cached and shared), so
    // it keeps the request's namespace and lease but not its cancellation.
    const { signal: _signal, ...scope } = ctx;
    return new RemoteReaderAt(this.conn, scope, desc.digest, size);
  }

  status(ctx: RequestContext, ref: string): Promise<Status> {
    return this.conn.call(ctx, async (c, call) => fromApiStatus((await c.unary(ContentService.status, { ref }, call)).status));
  }

  listStatuses(ctx: RequestContext, filters: readonly string[] = []): Promise<Status[]> {
    return this.conn.call(ctx, async (c, call) =>
      (await c.unary(ContentService.listStatuses, { filters: [...filters] }, call)).statuses.map(fromApiStatus),
    );
  }

  abort(ctx: RequestContext, ref: string): Promise<void> {
    return this.conn.call(ctx, async (c, call) => {
      await c.unary(ContentService.abort, { ref }, call);
    });
  }

  async writer(ctx: RequestContext, options: WriterOptions): Promise<Writer> {
    if (!options.ref) throw invalidArgument('ref must not be empty');
    const c = await this.conn.connection(ctx.signal);
    const stream = new WriteStream(this.conn, c, callContext(ctx));
    try {
      // The first message opens (or resumes) the ingest and reports where it stands.
      const res = await stream.send(WriteAction.STAT, { ref: options.ref, total: options.total ?? 0, expected: options.expected ?? '' });
      return new RemoteWriter(stream, options, res);
    } catch (err) {
      stream.cancel();
      throw err;
    }
  }
}

/** Reads a remote blob with one Read stream per request. */
class RemoteReaderAt implements ReaderAt {
  constructor(
    private readonly conn: ProxyConnection,
    private readonly ctx: RequestContext,
    private readonly digest: string,
    readonly size: number,
  ) {}

  private async *chunks(offset: number, length: number): AsyncGenerator<Buffer> {
    const stream = this.conn.stream(this.ctx, (c, call) =>
      c.serverStream(ContentService.read, { digest: this.digest, offset, size: length }, call),
    );
    for await (const msg of stream) if (msg.data.length > 0) yield asBuffer(msg.data);
  }

  async readAt(offset: number, length: number): Promise<Buffer> {
    const n = Math.min(length, this.size - offset);
    if (n <= 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for await (const chunk of this.chunks(offset, n)) parts.push(chunk);
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  stream(offset = 0, length?: number): NodeJS.ReadableStream & AsyncIterable<Buffer> {
    const n = Math.min(length ?? this.size - offset, this.size - offset);
    if (n <= 0) return Readable.from([]);
    return Readable.from(this.chunks(offset, n));
  }

  async close(): Promise<void> {}
}

/** One Write stream driven request by request: each message is answered before the next is sent. */
class WriteStream {
  private readonly call: ClientDuplexStream<WriteContentRequest, WriteContentResponse>;
  private readonly responses: AsyncIterator<WriteContentResponse>;
  private failed: Error | undefined;
  private ended = false;

  constructor(
    private readonly proxy: ProxyConnection,
    private readonly conn: Connection,
    private readonly ctx: CallContext,
  ) {
    this.call = conn.bidiStream(ContentService.write, ctx);
    this.responses = this.call[Symbol.asyncIterator]() as AsyncIterator<WriteContentResponse>;
  }

  get done(): boolean {
    return this.ended || this.failed !== undefined;
  }

  private fail(err: unknown): Error {
    this.failed ??= this.proxy.failure(this.conn, err, this.ctx.signal);
    return this.failed;
  }

  /** Sends one request of `action` (fields not given are empty, as the API's defaults) and waits for its reply. */
  send(action: WriteAction, fields: Partial<Omit<WriteContentRequest, 'action'>> = {}): Promise<WriteContentResponse> {
    return this.exchange({ action, ref: '', total: 0, expected: '', offset: 0, data: new Uint8Array(0), labels: {}, ...fields });
  }

  async exchange(req: WriteContentRequest): Promise<WriteContentResponse> {
    if (this.failed) throw this.failed;
    if (this.ended) throw failedPrecondition('writer is closed');
    this.call.write(req);
    let next: IteratorResult<WriteContentResponse>;
    try {
      next = await this.responses.next();
    } catch (err) {
      throw this.fail(err);
    }
    if (next.done) {
      this.ended = true;
      throw this.fail(new Error('content Write stream ended before answering'));
    }
    return next.value;
  }

  /** Half-closes and waits until the server has ended the stream (and released the ref). */
  async close(): Promise<void> {
    if (this.done) return;
    this.ended = true;
    this.call.end();
    try {
      for (;;) if ((await this.responses.next()).done) return;
    } catch (err) {
      throw this.fail(err);
    }
  }

  cancel(): void {
    this.ended = true;
    this.call.cancel();
  }
}

class RemoteWriter implements Writer {
  readonly ref: string;
  private readonly expected: string;
  private offset: number;
  private total: number;
  private currentDigest: string;
  private startedAt: Timestamp;
  private updatedAt: Timestamp;

  constructor(
    private readonly stream: WriteStream,
    options: WriterOptions,
    first: WriteContentResponse,
  ) {
    this.ref = options.ref;
    this.expected = options.expected ?? '';
    this.offset = first.offset;
    this.total = first.total;
    this.currentDigest = first.digest;
    this.startedAt = first.startedAt ?? epoch();
    this.updatedAt = first.updatedAt ?? epoch();
  }

  private note(res: WriteContentResponse): void {
    this.offset = res.offset;
    if (res.digest) this.currentDigest = res.digest;
  }

  digest(): string {
    return this.currentDigest;
  }

  async status(): Promise<Status> {
    const res = await this.stream.send(WriteAction.STAT);
    this.note(res);
    this.total = res.total;
    this.startedAt = res.startedAt ?? this.startedAt;
    this.updatedAt = res.updatedAt ?? this.updatedAt;
    return {
      ref: this.ref,
      offset: res.offset,
      total: res.total,
      expected: this.expected,
      startedAt: this.startedAt,
      updatedAt: this.updatedAt,
    };
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.length === 0) return;
    const at = this.offset;
    const res = await this.stream.send(WriteAction.WRITE, { offset: at, data: chunk });
    this.note(res);
    if (res.offset - at < chunk.length) throw new Error(`short write: ${res.offset - at} of ${chunk.length} bytes`);
  }

  /**
   * Truncation to 0 is done at once (a write of nothing at offset 0 restarts the ingest on
   * the server), so status and digest reflect it; other sizes are not supported.
   */
  async truncate(size: number): Promise<void> {
    if (size === this.offset) return;
    if (size !== 0) throw notImplemented(`truncate to ${size} bytes`);
    const res = await this.stream.send(WriteAction.WRITE);
    this.note(res);
    this.currentDigest = res.digest;
  }

  async commit(size: number, expected: string, options: CommitOptions = {}): Promise<void> {
    const res = await this.stream.send(WriteAction.COMMIT, { total: size, expected, offset: this.offset, labels: { ...(options.labels ?? {}) } });
    this.note(res);
    await this.stream.close();
    if (size !== 0 && res.offset !== size) throw failedPrecondition(`unexpected commit size ${res.offset}, expected ${size}`);
    if (expected && res.digest !== expected) throw failedPrecondition(`unexpected commit digest ${res.digest}, expected ${expected}`);
  }

  async close(): Promise<void> {
    await this.stream.close().catch(() => undefined);
  }
}
