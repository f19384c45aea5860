// Test set-up: a real local content store, metadata database and event exchange in a
// temporary directory, and the namespaces gRPC service served on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { digestOf } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { Exchange } from '@containerd-ts/events-exchange';
import { MetadataDB } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { namespacesGrpcService } from '../grpc.js';
import { NamespacesService } from '../namespaces.js';

export interface TestEnv {
  db: MetadataDB;
  exchange: Exchange;
  local: NamespacesService;
  socket: string;
  connect(namespace?: string): Connection;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'service-namespaces-'));
  const exchange = new Exchange();
  const content = await LocalContentStore.open(join(dir, 'content'));
  const db = await MetadataDB.open({ path: join(dir, 'meta.leveldb'), content, publisher: exchange, sync: false });
  const local = new NamespacesService(db.namespaces);
  const server = new Server();
  const { definition, implementation } = namespacesGrpcService(local);
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const conns: Connection[] = [];
  return {
    db,
    exchange,
    local,
    socket,
    connect(namespace = 'default') {
      const c = new Connection(socket, { namespace });
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

/** Writes a blob through the namespaced content store; returns its digest. */
export async function putBlob(db: MetadataDB, ctx: RequestContext, data: string): Promise<string> {
  const bytes = Buffer.from(data);
  const digest = digestOf(bytes);
  const w = await db.contentStore().writer(ctx, { ref: `ref-${digest}`, total: bytes.length, expected: digest });
  try {
    await w.write(bytes);
    await w.commit(bytes.length, digest);
  } finally {
    await w.close();
  }
  return digest;
}
