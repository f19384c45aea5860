// Test set-up: a real grpc-js server for proxy services on a unix socket, which tests
// stop and start again to play a proxy that is down, comes up or restarts.
import { unlink } from 'node:fs/promises';
import type { GrpcServiceRegistration } from '@containerd-ts/grpc-server';
import type { Logger } from '@containerd-ts/plugin';
import { Server, ServerCredentials } from '@grpc/grpc-js';

export const quietLog: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => quietLog };

export interface TestServer {
  readonly socket: string;
  readonly running: boolean;
  start(): Promise<void>;
  /** Stops at once (open calls fail) and removes the socket, as `serve-proxy` does on SIGTERM. */
  stop(): Promise<void>;
}

/** A server for `services` on `socket`, not started. */
export function testServer(socket: string, services: () => GrpcServiceRegistration[]): TestServer {
  let server: Server | undefined;
  return {
    socket,
    get running() {
      return server !== undefined;
    },
    async start() {
      if (server) return;
      // A socket left by a killed server is replaced, as the daemon's prepareSocket does.
      await unlink(socket).catch(() => undefined);
      const srv = new Server();
      for (const s of services()) srv.addService(s.definition, s.implementation);
      await new Promise<void>((resolve, reject) =>
        srv.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
      );
      server = srv;
    },
    async stop() {
      const srv = server;
      server = undefined;
      srv?.forceShutdown();
      await unlink(socket).catch(() => undefined);
    },
  };
}
