// Test set-up: a real local content store, metadata database and event exchange in a
// temporary directory, and the containers gRPC service on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { LocalContentStore } from '@containerd-ts/content-local';
import { Exchange } from '@containerd-ts/events-exchange';
import { MetadataDB } from '@containerd-ts/metadata-level';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ContainersService } from '../containers.js';
import { containersGrpcService } from '../grpc.js';

export interface TestEnv {
  dir: string;
  db: MetadataDB;
  exchange: Exchange;
  connect(options?: { namespace?: string }): Connection;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'service-containers-'));
  const backend = await LocalContentStore.open(join(dir, 'content'));
  const exchange = new Exchange();
  const db = await MetadataDB.open({ path: join(dir, 'meta.leveldb'), content: backend, publisher: exchange, sync: false });
  const server = new Server();
  const { definition, implementation } = containersGrpcService(new ContainersService(db.containers));
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const conns: Connection[] = [];
  return {
    dir,
    db,
    exchange,
    connect(options = { namespace: 'default' }) {
      const c = new Connection(socket, options);
      conns.push(c);
      return c;
    },
    async cleanup() {
      for (const c of conns) c.close();
      server.forceShutdown();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
