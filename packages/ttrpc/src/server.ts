// The ttrpc server: services registered by name, each a table of unary handlers; one
// unix socket listener; every request handled concurrently, with its metadata and a
// signal aborted at its deadline (timeout_nano) or when its connection goes away.
import { type Server as NetServer, type Socket, createServer } from 'node:net';
import { GrpcCode } from '@containerd-ts/errdefs';
import { TtrpcStatusError, statusFromError } from './errors.js';
import {
  FrameParser,
  MESSAGE_LENGTH_MAX,
  MessageType,
  type TtrpcRequest,
  decodeRequest,
  encodeFrame,
  encodeResponse,
  oversizedMessage,
} from './wire.js';
import type { Status } from '@containerd-ts/api/types/status';

/** What a handler knows about its call. */
export interface TtrpcCallContext {
  readonly service: string;
  readonly method: string;
  /** Request metadata: every value sent for a key, in order. */
  readonly metadata: Readonly<Record<string, readonly string[]>>;
  /** Aborted at the call's deadline (reason: DeadlineExceeded) or when the client disconnects or the server closes (Canceled). */
  readonly signal: AbortSignal;
  /** Deadline as `Date.now()` milliseconds, when the client sent one. */
  readonly deadline: number | undefined;
}

/**
 * A unary handler: the encoded request in, the encoded response out. A thrown errdefs
 * error becomes its gRPC code (TtrpcStatusError: its code, message and details as they are).
 */
export type TtrpcHandler = (request: Uint8Array, ctx: TtrpcCallContext) => Uint8Array | Promise<Uint8Array>;

export interface TtrpcServerOptions {
  /** Called with errors that concern no call (a connection's socket error). */
  onError?: (err: Error) => void;
}

const serverClosed = () => new TtrpcStatusError(GrpcCode.CANCELLED, 'context canceled');
const deadlineExceeded = () => new TtrpcStatusError(GrpcCode.DEADLINE_EXCEEDED, 'context deadline exceeded');

/** A ttrpc server. Register services, then `listen` on a unix socket path. */
export class TtrpcServer {
  private readonly services = new Map<string, Readonly<Record<string, TtrpcHandler>>>();
  private readonly connections = new Set<ServerConnection>();
  private readonly listeners = new Set<NetServer>();
  private closed = false;
  private readonly options: TtrpcServerOptions;

  constructor(options: TtrpcServerOptions = {}) {
    this.options = options;
  }

  /** Adds a service; its methods are the table's keys (`State`, `Forward`, …). A name registers once. */
  register(service: string, methods: Readonly<Record<string, TtrpcHandler>>): void {
    if (this.services.has(service)) throw new Error(`duplicate service ${service} registered`);
    this.services.set(service, { ...methods });
  }

  /** Names of the registered services. */
  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /**
   * Starts serving on the unix socket `path` (which must not exist). The socket file is
   * removed by `close`.
   */
  listen(path: string): Promise<void> {
    if (this.closed) return Promise.reject(new Error('ttrpc: server closed'));
    const listener = createServer((socket) => this.accept(socket));
    return new Promise((resolve, reject) => {
      listener.once('error', (err) => reject(new Error(`ttrpc: failed to listen on ${path}: ${err.message}`)));
      listener.listen(path, () => {
        listener.removeAllListeners('error');
        listener.on('error', (err) => this.options.onError?.(err));
        this.listeners.add(listener);
        resolve();
      });
    });
  }

  /** Serves one already connected socket (for a socket pair or an inherited fd). */
  serveSocket(socket: Socket): void {
    this.accept(socket);
  }

  /**
   * Stops listening (removing the socket file), cancels running handlers and closes
   * every connection; calls in flight get nothing more (their clients see the close).
   */
  async close(): Promise<void> {
    this.closed = true;
    const listening = [...this.listeners].map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
    this.listeners.clear();
    for (const conn of this.connections) conn.destroy();
    this.connections.clear();
    await Promise.all(listening);
  }

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const conn = new ServerConnection(socket, this, this.options);
    this.connections.add(conn);
    socket.once('close', () => this.connections.delete(conn));
  }

  /** @internal Runs one request to its response. */
  async dispatch(req: TtrpcRequest, ctx: TtrpcCallContext): Promise<{ status: Status | undefined; payload: Uint8Array }> {
    const methods = this.services.get(req.service);
    if (!methods) return { status: { code: GrpcCode.UNIMPLEMENTED, message: `service ${req.service}`, details: [] }, payload: new Uint8Array(0) };
    const handler = Object.hasOwn(methods, req.method) ? methods[req.method] : undefined;
    if (!handler) return { status: { code: GrpcCode.UNIMPLEMENTED, message: `method ${req.method}`, details: [] }, payload: new Uint8Array(0) };
    try {
      const payload = await handler(req.payload, ctx);
      return { status: undefined, payload };
    } catch (err) {
      return { status: statusFromError(err), payload: new Uint8Array(0) };
    }
  }
}

class ServerConnection {
  private readonly parser = new FrameParser();
  private readonly active = new Set<AbortController>();
  private gone = false;

  constructor(
    private readonly socket: Socket,
    private readonly server: TtrpcServer,
    private readonly options: TtrpcServerOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') this.options.onError?.(err);
    });
    socket.on('close', () => this.cancelAll());
  }

  destroy(): void {
    this.cancelAll();
    this.socket.destroy();
  }

  private cancelAll(): void {
    this.gone = true;
    for (const c of this.active) c.abort(serverClosed());
    this.active.clear();
  }

  private send(streamId: number, status: Status | undefined, payload: Uint8Array): void {
    if (this.gone) return;
    let body = encodeResponse({ status, payload });
    if (body.length > MESSAGE_LENGTH_MAX) {
      body = encodeResponse({ status: { code: GrpcCode.RESOURCE_EXHAUSTED, message: oversizedMessage(body.length), details: [] }, payload: new Uint8Array(0) });
    }
    this.socket.write(encodeFrame(streamId, MessageType.response, body));
  }

  private sendStatus(streamId: number, code: GrpcCode, message: string): void {
    this.send(streamId, { code, message, details: [] }, new Uint8Array(0));
  }

  private onData(chunk: Buffer): void {
    let events: ReturnType<FrameParser['push']>;
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      this.options.onError?.(err as Error);
      this.destroy();
      return;
    }
    for (const ev of events) {
      const id = ev.header.streamId;
      if (ev.kind === 'oversized') {
        // Answered on the same stream so the client knows which call was refused.
        this.sendStatus(id, GrpcCode.RESOURCE_EXHAUSTED, oversizedMessage(ev.header.length));
        continue;
      }
      // Other message types (stream data of newer ttrpc) are ignored, as ttrpc 1.1 does.
      if (ev.header.type !== MessageType.request) continue;
      let req: TtrpcRequest;
      try {
        req = decodeRequest(ev.body);
      } catch (err) {
        this.sendStatus(id, GrpcCode.INVALID_ARGUMENT, `unmarshal request error: ${(err as Error).message}`);
        continue;
      }
      if (id % 2 !== 1) {
        this.sendStatus(id, GrpcCode.INVALID_ARGUMENT, 'StreamID must be odd for client initiated streams');
        continue;
      }
      this.run(id, req);
    }
  }

  private run(id: number, req: TtrpcRequest): void {
    const controller = new AbortController();
    this.active.add(controller);
    // no prototype: a key such as `__proto__` from the wire stays a plain key
    const metadata: Record<string, string[]> = Object.create(null);
    for (const { key, value } of req.metadata) {
      const values = metadata[key];
      if (values) values.push(value);
      else metadata[key] = [value];
    }
    let timer: NodeJS.Timeout | undefined;
    let deadline: number | undefined;
    if (req.timeoutNano !== 0n) {
      const ms = Number(req.timeoutNano) / 1e6;
      deadline = Date.now() + ms;
      if (ms <= 0) controller.abort(deadlineExceeded());
      else timer = setTimeout(() => controller.abort(deadlineExceeded()), Math.min(Math.ceil(ms), 0x7fffffff));
    }
    const ctx: TtrpcCallContext = { service: req.service, method: req.method, metadata, signal: controller.signal, deadline };
    void this.server.dispatch(req, ctx).then(({ status, payload }) => {
      if (timer) clearTimeout(timer);
      this.active.delete(controller);
      this.send(id, status, payload);
    });
  }
}
