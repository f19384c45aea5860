// The connection of one proxy plugin to its gRPC server. Unlike containerd, which dials
// once at start, it connects lazily: every call makes sure the socket is up, retrying
// with backoff for a bounded time, so a proxy started after the daemon (or restarted)
// just works from its next call on. Its state is kept for introspection.
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CallContext, type ChannelState, Connection, errorOf, targetOf } from '@containerd-ts/client/connection';
import { canceled, isKind, isUnavailable, unavailable } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';

/**
 * `connecting` while an attempt is under way (and before the first), `ready` once connected,
 * `unavailable` when the last attempt or call found the proxy down.
 */
export type ProxyState = 'connecting' | 'ready' | 'unavailable';

export interface ProxyStatus {
  state: ProxyState;
  /** Why the last connect (or call) failed; '' once connected. */
  lastError: string;
}

export interface ProxyConnectionOptions {
  /** The proxy plugin's name, used in error messages. */
  name: string;
  /** Unix socket path (or `unix://` URI) the proxy serves on. */
  address: string;
  /** How long one call keeps retrying to connect before it fails with `unavailable` (default 3 s). */
  connectTimeoutMs?: number;
  maxMessageSize?: number;
}

/** Default retry window of one call. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;
const FIRST_RETRY_MS = 25;
const MAX_RETRY_MS = 500;
/** How long one attempt waits for the HTTP/2 connection once the socket accepts. */
const ATTEMPT_TIMEOUT_MS = 1000;

// grpc-js reconnects a failed channel only after its own backoff (1 s and growing) and
// shares subchannels between channels; a proxy that comes back must be reachable at once.
const channelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1000,
  'grpc.use_local_subchannel_pool': 1,
};

/** Texts of the errno values a unix connect fails with, as Go prints them. */
const errnoText: Record<string, string> = {
  ENOENT: 'no such file or directory',
  ECONNREFUSED: 'connection refused',
  EACCES: 'permission denied',
  ENOTSOCK: 'socket operation on non-socket',
  ENOTDIR: 'not a directory',
  ETIMEDOUT: 'connection timed out',
  EAGAIN: 'resource temporarily unavailable',
};

/** The socket path of a unix address; undefined for other targets. */
function socketPath(address: string): string | undefined {
  if (address.startsWith('/')) return address;
  if (address.startsWith('unix://')) return address.slice('unix://'.length);
  return undefined;
}

/** Resolves once something accepts connections on `path`; rejects with the errno's text. */
function probe(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = connect({ path });
    sock.setTimeout(ATTEMPT_TIMEOUT_MS, () => {
      sock.destroy();
      reject(new Error(errnoText.ETIMEDOUT));
    });
    sock.once('connect', () => {
      sock.destroy();
      resolve();
    });
    sock.once('error', (err: NodeJS.ErrnoException) => {
      sock.destroy();
      reject(new Error((err.code && errnoText[err.code]) ?? err.message));
    });
  });
}

/** Rejects with `canceled` when `signal` aborts before `promise` settles. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(canceled());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(canceled());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** What a request forwards to the proxy: its namespace and lease headers, and its cancellation. */
export function callContext(ctx: RequestContext): CallContext {
  const out: CallContext = {};
  if (ctx.namespace) out.namespace = ctx.namespace;
  if (ctx.lease) out.lease = ctx.lease;
  if (ctx.signal) out.signal = ctx.signal;
  return out;
}

export class ProxyConnection {
  readonly name: string;
  readonly address: string;
  /** The gRPC target, as error messages name it (`unix:///run/x.sock`). */
  readonly target: string;
  private readonly connectTimeoutMs: number;
  private readonly maxMessageSize: number | undefined;
  private conn: Connection | undefined;
  private attempt: Promise<Connection> | undefined;
  private current: ProxyStatus = { state: 'connecting', lastError: '' };
  private readonly listeners = new Set<(status: ProxyStatus) => void>();
  private closed = false;

  constructor(options: ProxyConnectionOptions) {
    this.name = options.name;
    this.address = options.address;
    this.target = targetOf(options.address);
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.maxMessageSize = options.maxMessageSize;
  }

  get status(): ProxyStatus {
    return { ...this.current };
  }

  /** Calls `fn` on every state change (and once now); returns the function that stops it. */
  onStatus(fn: (status: ProxyStatus) => void): () => void {
    this.listeners.add(fn);
    fn(this.status);
    return () => this.listeners.delete(fn);
  }

  private setStatus(state: ProxyState, lastError: string): void {
    if (this.current.state === state && this.current.lastError === lastError) return;
    this.current = { state, lastError };
    for (const fn of this.listeners) fn(this.status);
  }

  /**
   * One connection attempt, without waiting for the result: lets the state show whether the
   * proxy is up before any call is made. Never fails.
   */
  probe(): void {
    this.shared().catch(() => undefined);
  }

  /**
   * A ready connection. Connects (again) when needed, retrying with backoff until the
   * retry window ends, then fails with `unavailable`: `proxy plugin <name>: connect <target>: <why>`.
   */
  async connection(signal?: AbortSignal): Promise<Connection> {
    const ready = this.conn;
    if (ready && ready.state() === 'ready') return ready;
    const deadline = Date.now() + this.connectTimeoutMs;
    let delay = FIRST_RETRY_MS;
    for (;;) {
      if (this.closed) throw unavailable(`proxy plugin ${this.name}: connection closed`);
      try {
        return await abortable(this.shared(), signal);
      } catch (err) {
        if (signal?.aborted) throw canceled();
        const left = deadline - Date.now();
        if (left <= 0) throw unavailable(`proxy plugin ${this.name}: ${(err as Error).message}`);
        try {
          await sleep(Math.min(delay, left), undefined, signal ? { signal } : {});
        } catch {
          throw canceled();
        }
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
    }
  }

  /** The attempt under way, shared by every caller waiting for the connection. */
  private shared(): Promise<Connection> {
    this.attempt ??= this.connectOnce().finally(() => {
      this.attempt = undefined;
    });
    return this.attempt;
  }

  private async connectOnce(): Promise<Connection> {
    this.setStatus('connecting', this.current.lastError);
    try {
      const path = socketPath(this.address);
      if (path !== undefined) await probe(path);
      if (this.closed) throw new Error('connection closed');
      let conn = this.conn;
      // A channel in grpc-js's reconnect backoff would wait; a fresh one connects now.
      const state: ChannelState | undefined = conn?.state();
      if (!conn || state === 'transient-failure' || state === 'shutdown') {
        conn?.close();
        conn = new Connection(this.address, {
          channelOptions,
          ...(this.maxMessageSize ? { maxMessageSize: this.maxMessageSize } : {}),
        });
        this.conn = conn;
      }
      try {
        await conn.ready({ timeoutMs: ATTEMPT_TIMEOUT_MS });
      } catch (err) {
        if (this.conn === conn) this.conn = undefined;
        conn.close();
        throw err;
      }
      this.setStatus('ready', '');
      return conn;
    } catch (err) {
      const message = `connect ${this.target}: ${(err as Error).message}`;
      this.setStatus('unavailable', message);
      throw new Error(message);
    }
  }

  /**
   * The error a call on `conn` failed with, as the caller should see it: a failure of the
   * connection itself (the proxy went away mid-call) becomes `unavailable` naming the proxy.
   */
  failure(conn: Connection, err: unknown, signal?: AbortSignal): Error {
    const e = errorOf(err);
    if (signal?.aborted) return e;
    // A connection that dropped fails its calls with Unavailable (socket closed) or Cancelled
    // (server shut down its streams); the caller did not cancel, and the channel is not ready.
    if ((isUnavailable(e) || isKind(e, 'canceled')) && conn.state() !== 'ready') {
      const message = `${this.target}: ${e.message}`;
      this.setStatus('unavailable', message);
      return unavailable(`proxy plugin ${this.name}: ${message}`, e);
    }
    return e;
  }

  /** Runs one call on a ready connection. */
  async call<T>(ctx: RequestContext, fn: (conn: Connection, call: CallContext) => Promise<T>): Promise<T> {
    const conn = await this.connection(ctx.signal);
    try {
      return await fn(conn, callContext(ctx));
    } catch (err) {
      throw this.failure(conn, err, ctx.signal);
    }
  }

  /** Runs one server-streaming call on a ready connection, yielding its messages. */
  async *stream<T>(ctx: RequestContext, fn: (conn: Connection, call: CallContext) => AsyncIterable<T>): AsyncGenerator<T> {
    const conn = await this.connection(ctx.signal);
    try {
      yield* fn(conn, callContext(ctx));
    } catch (err) {
      throw this.failure(conn, err, ctx.signal);
    }
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }
}
