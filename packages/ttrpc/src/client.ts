// The ttrpc client: unary calls over one unix socket connection, many in flight at once
// (odd, increasing stream ids), deadlines sent as timeout_nano and enforced locally,
// every pending call rejected when the connection closes.
import { EventEmitter } from 'node:events';
import { type Socket, connect as netConnect } from 'node:net';
import { GrpcCode } from '@containerd-ts/errdefs';
import { TtrpcClosedError, TtrpcStatusError } from './errors.js';
import {
  FrameParser,
  MESSAGE_LENGTH_MAX,
  MessageType,
  decodeResponse,
  encodeFrame,
  encodeRequest,
  oversizedMessage,
} from './wire.js';

/** Request metadata: a key with one value or several (sent as repeated KeyValue pairs). */
export type TtrpcMetadata = Record<string, string | readonly string[]>;

export interface CallOptions {
  /** Deadline from now; sent to the server as timeout_nano. On expiry the call rejects with DeadlineExceeded. */
  timeoutMs?: number;
  metadata?: TtrpcMetadata;
  /** Aborting rejects the call with Canceled (the server is not told: ttrpc has no cancel message). */
  signal?: AbortSignal;
}

/** A ts-proto message codec (`Foo.encode(msg).finish()`, `Foo.decode(bytes)`). */
export interface MessageCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

export interface ConnectOptions {
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number;
}

interface PendingCall {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

const deadlineExceeded = () => new TtrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, 'context deadline exceeded');
const canceled = () => new TtrpcStatusError(GrpcCode.CANCELLED, 'context canceled');

/** `unix:///run/x.sock` or `/run/x.sock` → the socket path. */
export function socketPathOf(address: string): string {
  return address.startsWith('unix://') ? address.slice('unix://'.length) : address;
}

/**
 * One ttrpc connection. Emits `close` (with the error that broke it, if any) once, when
 * the connection is gone; every call then rejects with TtrpcClosedError. The socket does
 * not keep the process alive while no call is in flight.
 */
export class TtrpcClient extends EventEmitter<{ close: [error: Error | undefined] }> {
  private readonly socket: Socket;
  private readonly parser = new FrameParser();
  private readonly pending = new Map<number, PendingCall>();
  private nextStreamId = 1;
  private closedWith: TtrpcClosedError | undefined;
  private readonly closedPromise: Promise<void>;

  /** Connects to the ttrpc server at `address` (a path or `unix://path`). */
  static connect(address: string, options: ConnectOptions = {}): Promise<TtrpcClient> {
    const path = socketPathOf(address);
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = netConnect({ path });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TtrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, `ttrpc: dial ${path}: timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new TtrpcStatusError(GrpcCode.UNAVAILABLE, `ttrpc: dial ${path}: ${err.message}`));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TtrpcClient(socket));
      });
    });
  }

  /** Wraps an already connected socket. */
  constructor(socket: Socket) {
    super();
    this.socket = socket;
    socket.setNoDelay?.(true);
    socket.unref();
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.shutdown(err));
    socket.on('close', () => this.shutdown(this.parser.midFrame ? new Error('ttrpc: connection closed in the middle of a message') : undefined));
  }

  /** True once the connection is gone (closed by either side). */
  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * Calls `service`/`method` with an encoded request; resolves with the encoded response.
   * Rejects with TtrpcStatusError for a non-OK status (code, message, details as the peer
   * sent them), DeadlineExceeded/Canceled for `timeoutMs`/`signal`, ResourceExhausted for
   * a request over 4 MiB, TtrpcClosedError when the connection closes first.
   */
  call(service: string, method: string, request: Uint8Array, options: CallOptions = {}): Promise<Uint8Array> {
    if (this.closedWith) return Promise.reject(new TtrpcClosedError());
    const { timeoutMs, signal } = options;
    if (signal?.aborted) return Promise.reject(canceled());
    if (timeoutMs !== undefined && !(timeoutMs > 0)) return Promise.reject(deadlineExceeded());
    const metadata: Array<{ key: string; value: string }> = [];
    for (const [key, value] of Object.entries(options.metadata ?? {})) {
      for (const v of typeof value === 'string' ? [value] : value) metadata.push({ key, value: v });
    }
    const body = encodeRequest({
      service,
      method,
      payload: request,
      timeoutNano: timeoutMs === undefined ? 0n : BigInt(Math.round(timeoutMs * 1e6)),
      metadata,
    });
    if (body.length > MESSAGE_LENGTH_MAX) {
      return Promise.reject(new TtrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, oversizedMessage(body.length)));
    }
    const id = this.nextStreamId;
    if (id > 0xffffffff) return Promise.reject(new TtrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, 'ttrpc: stream ids exhausted on this connection'));
    this.nextStreamId += 2;

    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => finish(() => reject(canceled()));
      const finish = (settle: () => void) => {
        if (!this.pending.delete(id)) return;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (this.pending.size === 0) this.socket.unref();
        settle();
      };
      this.pending.set(id, {
        resolve: (payload) => finish(() => resolve(payload)),
        reject: (err) => finish(() => reject(err)),
      });
      if (this.pending.size === 1) this.socket.ref();
      // setTimeout fires at once beyond 2^31-1 ms; such a deadline is as good as none locally
      if (timeoutMs !== undefined && timeoutMs <= 0x7fffffff) timer = setTimeout(() => finish(() => reject(deadlineExceeded())), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.write(encodeFrame(id, MessageType.request, body));
    });
  }

  /** `call` with ts-proto codecs: encodes `request` with `types.request`, decodes the answer with `types.response`. */
  async callMessage<Req, Res>(
    service: string,
    method: string,
    request: Req,
    types: { request: MessageCodec<Req>; response: MessageCodec<Res> },
    options?: CallOptions,
  ): Promise<Res> {
    const payload = await this.call(service, method, types.request.encode(request).finish(), options);
    try {
      return types.response.decode(payload);
    } catch (err) {
      throw new TtrpcStatusError(GrpcCode.INTERNAL, `ttrpc: error unmarshalling response of ${service}/${method}: ${(err as Error).message}`);
    }
  }

  /** Closes the connection; pending calls reject with TtrpcClosedError. Resolves once the socket is closed. */
  close(): Promise<void> {
    this.shutdown(undefined);
    this.socket.destroy();
    return this.closedPromise;
  }

  private onData(chunk: Buffer): void {
    let events: ReturnType<FrameParser['push']>;
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      this.shutdown(err as Error);
      this.socket.destroy();
      return;
    }
    for (const ev of events) {
      const call = this.pending.get(ev.header.streamId);
      // An answer for a call that already timed out or was cancelled: dropped, as ttrpc does.
      if (!call) continue;
      if (ev.kind === 'oversized') {
        call.reject(new TtrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, oversizedMessage(ev.header.length)));
        continue;
      }
      if (ev.header.type !== MessageType.response) {
        call.reject(new TtrpcStatusError(GrpcCode.INTERNAL, `ttrpc: unknown message type ${ev.header.type} received`));
        continue;
      }
      let response: ReturnType<typeof decodeResponse>;
      try {
        response = decodeResponse(ev.body);
      } catch (err) {
        call.reject(new TtrpcStatusError(GrpcCode.INTERNAL, `ttrpc: error unmarshalling response: ${(err as Error).message}`));
        continue;
      }
      const status = response.status;
      if (status && status.code !== GrpcCode.OK) call.reject(new TtrpcStatusError(status.code, status.message, status.details));
      else call.resolve(response.payload);
    }
  }

  private shutdown(cause: Error | undefined): void {
    if (this.closedWith) return;
    this.closedWith = new TtrpcClosedError(cause);
    for (const call of [...this.pending.values()]) call.reject(new TtrpcClosedError(cause));
    this.emit('close', cause);
  }
}
