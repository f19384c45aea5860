// The gRPC unix socket listener: a net.Server with containerd's listen backlog whose
// connections are handed to grpc-js (Server.createConnectionInjector), each through a
// guard that follows the HTTP/2 frame boundaries in both directions. Node's HTTP/2 layer
// answers a fatal protocol error with GOAWAY and then only stops reading, leaving the
// socket (and its descriptor) open for ever; the guard closes the connection once a
// GOAWAY with an error code has gone out, and closes a connection whose peer stopped in
// the middle of a frame. Idle connections and long streams are left alone.
// The bytes pass through JavaScript (one Duplex over the socket) instead of Node's native
// socket path: the price of seeing the frames Node sends. Each batch of frames the session
// writes leaves in one writev(2). A Duplex that acknowledged each write only once the
// kernel took it made Node's HTTP/2 session send GOAWAY(INTERNAL_ERROR) under load
// (grpc-go clients saw "transport is closing"): writes are acknowledged at once while the
// socket holds less than PIPE_BUFFER.
// Handing Node the socket itself (its native path) was measured and left out (2026-12-05,
// docs/benchmarks.md, "The connection guard's cost"): it saves CPU, and the fatal GOAWAY
// stays visible (after `setGracefulClose()` on the session's native handle, Node 20.20 calls
// its `ongracefulclosecomplete` once nghttp2 wants neither to read nor to write), but a peer
// stopped inside a frame does not: nghttp2's frame state is not exposed, and such a peer
// produces the same events and timings as an idle one. A leaner JavaScript pipe (one Duplex,
// or the socket behind a proxy) saved nothing measurable: Node's JSStreamSocket, which
// copies every chunk in and out of the session, is most of the cost.
import { readFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Logger } from '@containerd-ts/plugin';
import { type Server as GrpcServer, ServerCredentials } from '@grpc/grpc-js';

/**
 * containerd's listen backlog: Go's net.Listen passes the kernel's somaxconn (4096 on
 * current kernels); Node would pass 511.
 */
export function listenBacklog(): number {
  try {
    const n = Number.parseInt(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'), 10);
    if (n > 0) return Math.min(n, 0xffff);
  } catch {
    // not Linux: containerd's value on current kernels
  }
  return 4096;
}
/** How long a peer may leave a frame half sent before the connection is closed. */
export const DEFAULT_STALL_MS = 30_000;
/** How long a connection lives after the daemon sent a GOAWAY with an error code. */
export const DEFAULT_GOAWAY_CLOSE_MS = 500;

const CLIENT_PREFACE_LENGTH = 24;
/** Bytes the connection holds in each direction before pushing back (Node's 16 KiB default costs throughput on blob writes). */
const PIPE_BUFFER = 256 * 1024;
const FRAME_HEADER_LENGTH = 9;
const FRAME_GOAWAY = 0x7;
/** DATA, HEADERS and RST_STREAM: a call starts, moves a message, ends or is cancelled. */
const CALL_FRAMES = (1 << 0x0) | (1 << 0x1) | (1 << 0x3);

/**
 * Follows frame boundaries in one direction of an HTTP/2 connection without copying
 * payloads: where the current frame is, the error code of each GOAWAY that passes, and
 * (`onCallFrame`) each frame of a call, not the connection's own (SETTINGS, PING,
 * WINDOW_UPDATE).
 */
export class FrameTracker {
  private prefaceLeft: number;
  private readonly header = Buffer.alloc(FRAME_HEADER_LENGTH);
  private headerHave = 0;
  private payloadLeft = 0;
  /** GOAWAY payload bytes 0–7 (last stream ID, error code) while one passes. */
  private goaway: Buffer | undefined;
  private goawayHave = 0;

  constructor(
    prefaceLength: number,
    private readonly onGoaway: (errorCode: number) => void = () => {},
    private readonly onCallFrame: (() => void) | undefined = undefined,
  ) {
    this.prefaceLeft = prefaceLength;
  }

  /** True when the bytes seen so far end inside a frame (or inside the preface). */
  get midFrame(): boolean {
    return (this.prefaceLeft > 0 && this.prefaceLeft < CLIENT_PREFACE_LENGTH) || this.headerHave > 0 || this.payloadLeft > 0;
  }

  push(chunk: Buffer): void {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.prefaceLeft > 0) {
        const n = Math.min(this.prefaceLeft, end - at);
        this.prefaceLeft -= n;
        at += n;
      } else if (this.payloadLeft > 0) {
        const n = Math.min(this.payloadLeft, end - at);
        if (this.goaway && this.goawayHave < 8) {
          const take = Math.min(8 - this.goawayHave, n);
          chunk.copy(this.goaway, this.goawayHave, at, at + take);
          this.goawayHave += take;
          if (this.goawayHave === 8) this.onGoaway(this.goaway.readUInt32BE(4));
        }
        this.payloadLeft -= n;
        at += n;
        if (this.payloadLeft === 0) this.goaway = undefined;
      } else {
        const n = Math.min(FRAME_HEADER_LENGTH - this.headerHave, end - at);
        chunk.copy(this.header, this.headerHave, at, at + n);
        this.headerHave += n;
        at += n;
        if (this.headerHave === FRAME_HEADER_LENGTH) {
          this.headerHave = 0;
          this.payloadLeft = this.header.readUIntBE(0, 3);
          const type = this.header[3]!;
          if (this.onCallFrame !== undefined && type < 32 && (CALL_FRAMES & (1 << type)) !== 0) this.onCallFrame();
          if (type === FRAME_GOAWAY) {
            this.goaway = Buffer.alloc(8);
            this.goawayHave = 0;
            // a GOAWAY shorter than its fixed part is the peer's problem; nothing to read
            if (this.payloadLeft < 8) this.goaway = undefined;
          }
        }
      }
    }
  }
}

export interface GuardOptions {
  /** Close a connection whose peer leaves a frame half sent this long (ms). */
  stallMs?: number;
  /** Close a connection this long (ms) after a GOAWAY with an error code went out. */
  goawayCloseMs?: number;
  /**
   * Called for each frame of a call in either direction (HEADERS, DATA, RST_STREAM): calls
   * start, move messages and finish. O(1); the daemon's idle-memory release listens here,
   * where a grpc-js interceptor on every call cost a quarter of the daemon's CPU in a run of
   * small server-streaming calls.
   */
  onActivity?: () => void;
  log?: Logger;
}

/**
 * What the HTTP/2 session reads and writes: the peer's bytes as they arrive, and its own
 * bytes written to the socket, watched on the way out. Node's session hands each batch of
 * frames (a response's HEADERS, DATA frame headers and payloads, trailers) over as one
 * corked run of writes; they leave in one `writev(2)` instead of one `write(2)` each (nine
 * for a 32 KiB Read answer), and the peer is woken once. Writes are acknowledged at once
 * while the socket holds less than PIPE_BUFFER (as the pipe before did): a session whose
 * writes wait for the kernel sent GOAWAY(INTERNAL_ERROR) under load.
 */
class GuardedConnection extends Duplex {
  private waiting: (() => void) | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly outgoing: FrameTracker,
  ) {
    super({ readableHighWaterMark: PIPE_BUFFER, writableHighWaterMark: PIPE_BUFFER });
    socket.on('drain', () => {
      const done = this.waiting;
      this.waiting = undefined;
      done?.();
    });
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.outgoing.push(chunk);
    this.socket.write(chunk);
    this.acknowledge(callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const socket = this.socket;
    socket.cork();
    for (const { chunk } of chunks) {
      this.outgoing.push(chunk);
      socket.write(chunk);
    }
    socket.uncork();
    this.acknowledge(callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const done = this.waiting;
    this.waiting = undefined;
    done?.();
    this.socket.destroy();
    callback(error);
  }

  private acknowledge(callback: () => void): void {
    if (this.socket.writableLength < PIPE_BUFFER || this.socket.destroyed) callback();
    else this.waiting = callback;
  }
}

/**
 * The stream handed to the HTTP/2 server for `socket`: bytes pass unchanged through two
 * pipes, watched on the way, and the connection is closed after a fatal GOAWAY from the
 * server or a frame the peer stopped sending half way.
 */
export function guardConnection(socket: Socket, options: GuardOptions = {}): Duplex {
  const stallMs = options.stallMs ?? DEFAULT_STALL_MS;
  const goawayCloseMs = options.goawayCloseMs ?? DEFAULT_GOAWAY_CLOSE_MS;
  const log = options.log;
  let stallTimer: NodeJS.Timeout | undefined;
  let closing = false;

  const clearStall = () => {
    if (stallTimer) clearTimeout(stallTimer);
    stallTimer = undefined;
  };
  const onStall = () => {
    stallTimer = undefined;
    // Not the peer's fault while we hold its bytes back (the session is not reading).
    if (socket.isPaused()) {
      armStall();
      return;
    }
    log?.debug({ ms: stallMs }, 'closing connection: peer stopped in the middle of an HTTP/2 frame');
    socket.destroy();
  };
  const armStall = () => {
    if (stallTimer) stallTimer.refresh();
    else {
      stallTimer = setTimeout(onStall, stallMs);
      stallTimer.unref();
    }
  };

  const incoming = new FrameTracker(CLIENT_PREFACE_LENGTH, undefined, options.onActivity);
  const outgoing = new FrameTracker(0, (code) => {
    if (code === 0 || closing) return;
    closing = true;
    log?.debug({ code }, 'closing connection after sending GOAWAY with an error');
    // let the GOAWAY reach the peer, then close whatever it does
    setTimeout(() => socket.end(), Math.min(100, goawayCloseMs)).unref();
    setTimeout(() => socket.destroy(), goawayCloseMs).unref();
  }, options.onActivity);

  const connection = new GuardedConnection(socket, outgoing);
  socket.on('data', (chunk: Buffer) => {
    incoming.push(chunk);
    if (incoming.midFrame) armStall();
    else clearStall();
    if (!connection.push(chunk)) socket.pause();
  });
  socket.on('end', () => connection.push(null));
  // A reset or broken pipe is the end of the connection, not an error of the daemon.
  socket.on('error', () => {});
  connection.on('error', () => {});
  socket.on('close', () => {
    clearStall();
    connection.destroy();
  });
  connection.on('close', () => {
    clearStall();
    socket.destroy();
  });
  return connection;
}

export interface GrpcUnixListener {
  /** Stops accepting connections (the server's own shutdown closes the open ones). */
  close(): Promise<void>;
}

/**
 * Serves `server` on the unix socket `path` with containerd's backlog, every connection
 * guarded. The socket file must not exist (see prepareSocket).
 */
export function listenGrpcUnix(server: GrpcServer, path: string, options: GuardOptions = {}): Promise<GrpcUnixListener> {
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const listener: NetServer = createServer((socket) => {
    injector.injectConnection(guardConnection(socket, options));
  });
  return new Promise((resolve, reject) => {
    listener.once('error', (err) => reject(new Error(`failed to serve on unix://${path}: ${err.message}`)));
    listener.listen({ path, backlog: listenBacklog() }, () => {
      listener.removeAllListeners('error');
      listener.on('error', (err) => options.log?.error({ error: err.message }, 'gRPC listener error'));
      resolve({
        close: () =>
          new Promise<void>((done) => {
            listener.close(() => done());
          }),
      });
    });
  });
}
