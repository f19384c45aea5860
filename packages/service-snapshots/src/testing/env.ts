// Test set-up: a real native snapshotter, metadata database and event exchange in a
// temporary directory, and the snapshots gRPC service served on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { LocalContentStore } from '@containerd-ts/content-local';
import { Exchange } from '@containerd-ts/events-exchange';
import { MetadataDB } from '@containerd-ts/metadata-level';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { snapshotsGrpcService } from '../grpc.js';
import { publishingSnapshotters } from '../publishing.js';

export interface TestEnv {
  dir: string;
  db: MetadataDB;
  backend: NativeSnapshotter;
  exchange: Exchange;
  connect(options?: { namespace?: string; lease?: string }): Connection;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'service-snapshots-'));
  const content = await LocalContentStore.open(join(dir, 'content'));
  const backend = await NativeSnapshotter.open(join(dir, 'native'));
  const exchange = new Exchange();
  const db = await MetadataDB.open({
    path: join(dir, 'meta.leveldb'),
    content,
    snapshotters: new Map([['native', backend]]),
    publisher: exchange,
    sync: false,
  });
  const server = new Server();
  const { definition, implementation } = snapshotsGrpcService(publishingSnapshotters(db.snapshotters(), exchange));
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const conns: Connection[] = [];
  return {
    dir,
    db,
    backend,
    exchange,
    connect(options = { namespace: 'default' }) {
      const c = new Connection(socket, options);
      conns.push(c);
      return c;
    },
    async cleanup() {
      for (const c of conns) c.close();
      server.forceShutdown();
      await backend.close();
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
