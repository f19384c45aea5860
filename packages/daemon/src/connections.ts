// The gRPC unix socket listener: a net.Server with containerd's listen backlog whose
// connections are handed to grpc-js (Server.createConnectionInjector) as they are, so Node's
// HTTP/2 session reads and writes the socket natively. Two things Node does not do alone:
//
// - After a fatal protocol error Node's HTTP/2 session sends GOAWAY and then only stops
//   reading, leaving the socket (and its descriptor) open for ever. nghttp2 then wants
//   neither to read nor to write, which is its sign that the connection should be dropped:
//   each session is marked for a graceful close from the start (`setGracefulClose` on its
//   native handle), so Node calls the handle's `ongracefulclosecomplete` at that moment,
//   and the session is destroyed then.
// - A peer that stops in the middle of a frame looks the same as an idle one from outside
//   nghttp2. The server's keepalive finds both, as grpc-go's does in containerd: it pings a
//   connection at an interval and closes it when no answer comes in time (a PING's answer
//   from a peer stuck mid-frame is taken as the rest of that frame). The daemon sets the
//   interval (`KEEPALIVE` below) on its grpc-js Server.
//
// Before, the bytes passed through a JavaScript Duplex that followed the frame boundaries
// (Node's JSStreamSocket copying every chunk in and out of the session): 12–21 % of the
// daemon's CPU per small call and ~31 % of a `content get` (docs/benchmarks.md).
import { readFileSync } from 'node:fs';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Http2Server, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
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

/**
 * The server's keepalive (grpc-js Server options): every connection is pinged this often,
 * and closed when the answer takes longer than the timeout — a dead peer, or one stopped
 * in the middle of a frame. grpc-go's server, containerd's, does the same with a 2 h
 * interval and a 20 s timeout; a shorter interval bounds how long such a peer holds a
 * descriptor (an answered ping costs two 17-byte frames).
 */
export const KEEPALIVE = { 'grpc.keepalive_time_ms': 30_000, 'grpc.keepalive_timeout_ms': 20_000 } as const;

export interface ListenOptions {
  /**
   * Called when a call starts and when it ends. O(1); the daemon's idle-memory release
   * listens here (a grpc-js interceptor on every call cost far more).
   */
  onActivity?: () => void;
  log?: Logger;
}

export interface GrpcUnixListener {
  /** Calls in progress on this listener's connections (a long stream counts while it lasts). */
  activeCalls(): number;
  /** Stops accepting connections (the server's own shutdown closes the open ones). */
  close(): Promise<void>;
}

/** What this module uses of the native handle of Node's HTTP/2 session (Node 20.19+). */
interface SessionHandle {
  setGracefulClose(): void;
  ongracefulclosecomplete?: (this: unknown) => void;
}

function nativeHandle(session: ServerHttp2Session): SessionHandle | undefined {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === 'kHandle');
  const handle = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  if (typeof handle !== 'object' || handle === null) return undefined;
  return typeof (handle as Partial<SessionHandle>).setGracefulClose === 'function' ? (handle as SessionHandle) : undefined;
}

/** Destroys `session` once nghttp2 wants neither to read nor to write (after a GOAWAY either way). */
function closeWhenOver(session: ServerHttp2Session, log: Logger | undefined): void {
  const handle = nativeHandle(session);
  if (!handle) {
    log?.warn({}, "cannot watch HTTP/2 sessions: this node's session has no graceful-close hook");
    return;
  }
  const notify = handle.ongracefulclosecomplete;
  handle.setGracefulClose();
  handle.ongracefulclosecomplete = function (this: unknown) {
    notify?.call(this);
    if (session.destroyed) return;
    log?.debug({}, 'closing connection: its HTTP/2 session is over');
    session.destroy();
  };
}

/** The HTTP/2 server grpc-js made for the injector created last on `server`. */
function injectorHttp2Server(server: GrpcServer): Http2Server {
  const servers = (server as unknown as { http2Servers?: Map<Http2Server, unknown> }).http2Servers;
  const last = servers instanceof Map ? [...servers.keys()].at(-1) : undefined;
  if (!last || typeof last.on !== 'function') throw new Error('grpc-js does not expose the HTTP/2 server of a connection injector');
  return last;
}

/**
 * Serves `server` on the unix socket `path` with containerd's backlog; every HTTP/2 session
 * is closed once it is over. The socket file must not exist (see prepareSocket).
 */
export function listenGrpcUnix(server: GrpcServer, path: string, options: ListenOptions = {}): Promise<GrpcUnixListener> {
  const { log, onActivity } = options;
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  const http2Server = injectorHttp2Server(server);
  let calls = 0;
  http2Server.on('session', (session: ServerHttp2Session) => closeWhenOver(session, log));
  http2Server.on('stream', (stream: ServerHttp2Stream) => {
    calls++;
    onActivity?.();
    stream.once('close', () => {
      calls--;
      onActivity?.();
    });
  });
  const listener: NetServer = createServer((socket: Socket) => {
    // A reset or broken pipe is the end of the connection, not an error of the daemon.
    socket.on('error', () => {});
    injector.injectConnection(socket);
  });
  return new Promise((resolve, reject) => {
    listener.once('error', (err) => reject(new Error(`failed to serve on unix://${path}: ${err.message}`)));
    listener.listen({ path, backlog: listenBacklog() }, () => {
      listener.removeAllListeners('error');
      listener.on('error', (err) => options.log?.error({ error: err.message }, 'gRPC listener error'));
      resolve({
        activeCalls: () => calls,
        close: () =>
          new Promise<void>((done) => {
            listener.close(() => done());
          }),
      });
    });
  });
}
