// Test set-up shared by the metadata tests: a real local content store and a real
// metadata database in a temporary directory, publishing to the real event exchange.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, writeBlob } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { type Envelope, Exchange } from '@containerd-ts/events-exchange';
import type { RequestContext } from '@containerd-ts/namespaces';
import { MetadataDB, type MetadataDBOptions } from '../db.js';

export interface TestEnv {
  root: string;
  backend: LocalContentStore;
  db: MetadataDB;
  exchange: Exchange;
  reopen(): Promise<MetadataDB>;
  cleanup(): Promise<void>;
}

export async function createEnv(options: Partial<MetadataDBOptions> = {}, root?: string): Promise<TestEnv> {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'metadata-level-')));
  const backend = await LocalContentStore.open(join(dir, 'content'), { lockWaitMs: 20 });
  const exchange = new Exchange();
  const open = () =>
    MetadataDB.open({ path: join(dir, 'meta.leveldb'), content: backend, publisher: exchange, ...options });
  const env: TestEnv = {
    root: dir,
    backend,
    exchange,
    db: await open(),
    async reopen() {
      await env.db.close();
      env.db = await open();
      return env.db;
    },
    async cleanup() {
      await env.db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return env;
}

export async function take(sub: AsyncIterable<Envelope>, n: number): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const e of sub) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

/** Writes a blob through the namespaced store with content.writeBlob; returns its digest. */
export async function putBlob(
  db: MetadataDB,
  ctx: RequestContext,
  data: string | Buffer,
  labels?: Record<string, string>,
  ref = `ref-${Math.random().toString(36).slice(2)}`,
): Promise<string> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const digest = digestOf(bytes);
  await writeBlob(db.contentStore(), ctx, ref, [bytes], { digest, size: bytes.length }, labels ? { labels } : {});
  return digest;
}
