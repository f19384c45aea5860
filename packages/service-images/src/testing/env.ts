// Test set-up: a real local content store, metadata database, event exchange and GC
// scheduler in a temporary directory, and the images gRPC service on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { digestOf } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { Exchange } from '@containerd-ts/events-exchange';
import { GCScheduler } from '@containerd-ts/gc-scheduler';
import { type GCStats, MetadataDB } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { imagesGrpcService } from '../grpc.js';
import { ImagesService } from '../images.js';

export interface TestEnv {
  db: MetadataDB;
  backend: LocalContentStore;
  exchange: Exchange;
  connect(options?: { namespace?: string }): Connection;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'service-images-'));
  const backend = await LocalContentStore.open(join(dir, 'content'));
  const exchange = new Exchange();
  const db = await MetadataDB.open({ path: join(dir, 'meta.leveldb'), content: backend, publisher: exchange, sync: false });
  // Thresholds that never start a collection on their own: only `sync` deletes collect.
  const scheduler = new GCScheduler<GCStats>(db, {
    pauseThreshold: 0.02,
    deletionThreshold: 0,
    mutationThreshold: 1_000_000,
    scheduleDelayMs: 0,
    startupDelayMs: 3_600_000,
  });
  db.setScheduler(scheduler);
  scheduler.start();
  const server = new Server();
  const { definition, implementation } = imagesGrpcService(new ImagesService(db.images, scheduler));
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const conns: Connection[] = [];
  return {
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
      await scheduler.stop();
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

/** Digests in the backend store (what survives a collection on disk). */
export async function backendDigests(backend: LocalContentStore): Promise<string[]> {
  const out: string[] = [];
  await backend.walk({}, (info) => {
    out.push(info.digest);
  });
  return out.sort();
}
