// Content/Write as a gRPC call on a plain HTTP/2 stream of its own (node:http2), so a
// blob's bytes go from the registry's response to the daemon's socket without a copy:
// each WRITE request is written as a small header (gRPC's message prefix and the
// request's fields up to the data's length) followed by the data chunks themselves.
// grpc-js would copy every request's bytes twice (into the encoded request, then into its
// framed message) and allocate both. Everything else of the call is gRPC as grpc-js sends
// it: POST to the method's path, `application/grpc`, `te: trailers`, containerd's
// namespace and lease headers, `grpc-timeout`; answers are length-prefixed messages and
// the status comes in `grpc-status`/`grpc-message` (trailers, or the headers of a
// trailers-only answer).
import { type ClientHttp2Session, type ClientHttp2Stream, connect as http2Connect, constants } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { ContentService, type WriteContentRequest, type WriteContentResponse } from '@containerd-ts/api/services/content';
import { canceled, fromGrpcStatus, unavailable } from '@containerd-ts/errdefs';

/** The session factory of an address this module can dial itself; undefined for other targets (grpc-js's resolvers). */
export function rawSessionFactory(address: string): (() => ClientHttp2Session) | undefined {
  let path: string | undefined;
  if (address.startsWith('/')) path = address;
  else if (address.startsWith('unix://')) path = address.slice('unix://'.length);
  else if (address.startsWith('unix:')) path = address.slice('unix:'.length);
  if (path !== undefined) {
    const socketPath = path;
    return () => http2Connect('http://localhost', { createConnection: () => netConnect(socketPath) });
  }
  return undefined;
}

/** Bytes of `n` as a protobuf varint. */
export const varintLength = (n: number) => {
  let len = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 0x80)) len++;
  return len;
};

export function putVarint(buf: Buffer, at: number, n: number): number {
  let v = n;
  while (v >= 0x80) {
    buf[at++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  buf[at++] = v;
  return at;
}

/** WriteAction.WRITE's number (containerd's content.proto). */
const WRITE = 1;

/**
 * The bytes before the data of a WriteContentRequest {action: WRITE, offset, data of
 * `length` bytes}, with gRPC's 5-byte message prefix: fields 1 (action), 5 (offset) and 6
 * (data: tag and length), as the generated encoder writes them.
 */
export function writeRequestHead(offset: number, length: number, prefix = true): Buffer {
  const fields = 1 + varintLength(WRITE) + (offset !== 0 ? 1 + varintLength(offset) : 0) + (length !== 0 ? 1 + varintLength(length) : 0);
  const p = prefix ? 5 : 0;
  const buf = Buffer.allocUnsafe(p + fields);
  if (prefix) {
    buf[0] = 0;
    buf.writeUInt32BE(fields + length, 1);
  }
  let at = p;
  buf[at++] = (1 << 3) | 0;
  at = putVarint(buf, at, WRITE);
  if (offset !== 0) {
    buf[at++] = (5 << 3) | 0;
    at = putVarint(buf, at, offset);
  }
  if (length !== 0) {
    buf[at++] = (6 << 3) | 2;
    at = putVarint(buf, at, length);
  }
  return buf;
}

/** A message with gRPC's 5-byte prefix (uncompressed). */
function framed(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/** grpc-message is percent-encoded. */
function grpcMessage(value: unknown): string {
  const text = typeof value === 'string' ? value : '';
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export interface RawCallOptions {
  namespace?: string;
  lease?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One Content/Write call on `session`, driven request by request (see ContentWriteStream). */
export class RawWriteStream {
  private readonly stream: ClientHttp2Stream;
  private readonly answers: WriteContentResponse[] = [];
  private pending: Buffer[] = [];
  private pendingLength = 0;
  private failure: Error | undefined;
  private ended = false;
  private wake: (() => void) | undefined;
  private readonly stopAbort: () => void;

  constructor(session: ClientHttp2Session, opts: RawCallOptions, onClose: () => void) {
    const headers: Record<string, string> = {
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: ContentService.write.path,
      [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      te: 'trailers',
      'user-agent': 'containerd-ts-client',
    };
    if (opts.namespace) headers['containerd-namespace'] = opts.namespace;
    if (opts.lease) headers['containerd-lease'] = opts.lease;
    // At most 8 digits (gRPC's limit): milliseconds, else seconds.
    if (opts.timeoutMs) {
      const ms = Math.max(1, Math.ceil(opts.timeoutMs));
      headers['grpc-timeout'] = ms < 1e8 ? `${ms}m` : `${Math.min(99_999_999, Math.ceil(ms / 1000))}S`;
    }
    this.stream = session.request(headers);
    const status = (h: Record<string, unknown>) => {
      const code = h['grpc-status'];
      if (code === undefined) return;
      if (Number(code) !== 0) this.fail(fromGrpcStatus(Number(code), grpcMessage(h['grpc-message'])));
      this.ended = true;
      this.notify();
    };
    this.stream.on('response', (h) => {
      const code = Number(h[constants.HTTP2_HEADER_STATUS]);
      if (code !== 200) this.fail(unavailable(`unexpected HTTP status code ${code} on the content Write stream`));
      status(h as Record<string, unknown>);
    });
    this.stream.on('trailers', (h) => status(h as Record<string, unknown>));
    this.stream.on('data', (chunk: Buffer) => this.take(chunk));
    this.stream.on('end', () => {
      this.ended = true;
      this.notify();
    });
    this.stream.on('error', (err: Error) => this.fail(unavailable(err.message)));
    this.stream.on('close', () => {
      this.ended = true;
      if (this.stream.rstCode !== undefined && this.stream.rstCode !== constants.NGHTTP2_NO_ERROR && !this.failure) {
        this.fail(unavailable(`stream closed with code ${this.stream.rstCode}`));
      }
      this.notify();
      onClose();
    });
    const signal = opts.signal;
    const abort = () => {
      this.fail(canceled());
      this.stream.close(constants.NGHTTP2_CANCEL);
    };
    signal?.addEventListener('abort', abort, { once: true });
    this.stopAbort = () => signal?.removeEventListener('abort', abort);
    if (signal?.aborted) abort();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Splits the answer bytes into messages. */
  private take(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    while (this.pendingLength >= 5) {
      const head = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      const size = head.readUInt32BE(1);
      if (head.length < 5 + size) {
        this.pending = [head];
        return;
      }
      if (head[0] !== 0) {
        this.fail(new Error('compressed answer on the content Write stream'));
        this.stream.close(constants.NGHTTP2_CANCEL);
        return;
      }
      this.answers.push(ContentService.write.responseDeserialize(head.subarray(5, 5 + size)));
      const rest = head.subarray(5 + size);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingLength = rest.length;
      this.notify();
    }
  }

  /** Sends WRITE of `chunks` (in this order) at `offset` without waiting for its answer; the chunks are sent as they are. */
  writeChunks(offset: number, chunks: readonly Uint8Array[]): void {
    let length = 0;
    for (const c of chunks) length += c.byteLength;
    this.stream.cork();
    this.stream.write(writeRequestHead(offset, length));
    for (const c of chunks) this.stream.write(c);
    this.stream.uncork();
  }

  /** Sends a request without waiting for its answer (answers come in order). */
  write(req: Partial<WriteContentRequest> & { action: number }): void {
    const full = { ref: '', total: 0, expected: '', offset: 0, data: new Uint8Array(), labels: {}, ...req } as WriteContentRequest;
    this.stream.write(framed(ContentService.write.requestSerialize(full)));
  }

  async send(req: Partial<WriteContentRequest> & { action: number }): Promise<WriteContentResponse> {
    this.write(req);
    return this.receive();
  }

  /** The next answer; the call's error once it failed. */
  async receive(): Promise<WriteContentResponse> {
    for (;;) {
      const next = this.answers.shift();
      if (next) return next;
      if (this.failure) throw this.failure;
      if (this.ended) throw new Error('content Write stream ended before answering');
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  close(): void {
    this.stopAbort();
    if (!this.stream.closed) {
      this.stream.end();
      this.stream.close(constants.NGHTTP2_CANCEL);
    }
  }
}
