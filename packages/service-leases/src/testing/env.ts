// Test set-up: a real local content store, metadata database and GC scheduler in a
// temporary directory, and the leases gRPC service served on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { digestOf } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { GCScheduler } from '@containerd-ts/gc-scheduler';
import { type GCStats, MetadataDB } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { leasesGrpcService } from '../grpc.js';
import { LeasesService } from '../leases.js';

export interface TestEnv {
  db: MetadataDB;
  backend: LocalContentStore;
  scheduler: GCScheduler<GCStats>;
  connect(options?: { namespace?: string; lease?: string }): Connection;
  cleanup(): Promise<void>;
}

export async function createEnv(): Promise<TestEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'service-leases-'));
  const backend = await LocalContentStore.open(join(dir, 'content'));
  const db = await MetadataDB.open({ path: join(dir, 'meta.leveldb'), content: backend, sync: false });
  const scheduler = new GCScheduler<GCStats>(db, {
    pauseThreshold: 0.02,
    deletionThreshold: 0,
    mutationThreshold: 100,
    scheduleDelayMs: 0,
    startupDelayMs: 0,
  });
  db.setScheduler(scheduler);
  scheduler.start();
  const server = new Server();
  const { definition, implementation } = leasesGrpcService(new LeasesService(db.leases, scheduler));
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const conns: Connection[] = [];
  return {
    db,
    backend,
    scheduler,
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

/** Writes a blob through the namespaced content store (under the context's lease, if any). */
export async function putBlob(db: MetadataDB, ctx: RequestContext, data: string, labels?: Record<string, string>): Promise<string> {
  const bytes = Buffer.from(data);
  const digest = digestOf(bytes);
  const w = await db.contentStore().writer(ctx, { ref: `ref-${digest}`, total: bytes.length, expected: digest });
  try {
    await w.write(bytes);
    await w.commit(bytes.length, digest, labels ? { labels } : {});
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
