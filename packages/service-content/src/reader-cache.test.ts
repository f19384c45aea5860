import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ContentStore, digestOf, writeBlob } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { MetadataDB } from '@containerd-ts/metadata-level';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ReaderCache } from './reader-cache.js';

/** Waits (up to withinMs) until reads from the reader fail, as they do once it is closed. */
async function closed(reader: { readAt(offset: number, length: number): Promise<unknown> }, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    const failed = await reader.readAt(0, 1).then(
      () => false,
      () => true,
    );
    if (failed) return;
    if (Date.now() > until) throw new Error(`reader still open after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('ReaderCache', () => {
  let dir: string;
  let db: MetadataDB;
  let store: ContentStore;
  let opened: number;
  let lookups: number;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'reader-cache-'));
    const backend = await LocalContentStore.open(join(dir, 'content'));
    db = await MetadataDB.open({ path: join(dir, 'meta'), content: backend });
    const real = db.contentStore();
    opened = 0;
    lookups = 0;
    // The real namespaced store, counting how often a blob file is opened and how often
    // a record is looked up.
    store = Object.assign(Object.create(real) as ContentStore, {
      readerAt: (...args: Parameters<ContentStore['readerAt']>) => {
        opened++;
        return real.readerAt(...args);
      },
      info: (...args: Parameters<ContentStore['info']>) => {
        lookups++;
        return real.info(...args);
      },
    });
  });
  afterEach(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const put = async (text: string, namespace = 'a') => {
    const digest = digestOf(text);
    await writeBlob(store, { namespace }, `ref-${text}`, [Buffer.from(text)], { digest, size: text.length });
    return digest;
  };

  it('reuses an open reader across calls and still checks the namespace', async () => {
    const cache = new ReaderCache(store, { idleMs: 10_000 });
    const digest = await put('hello');
    for (let i = 0; i < 5; i++) {
      const { reader, release } = await cache.acquire({ namespace: 'a' }, digest);
      expect((await reader.readAt(0, 5)).toString()).toBe('hello');
      release();
    }
    // One open and one record lookup (by readerAt) for the whole run of calls.
    expect(opened).toBe(1);
    expect(lookups).toBe(0);
    await expect(cache.acquire({ namespace: 'b' }, digest)).rejects.toThrow(`content digest ${digest}: not found`);
    await store.delete({ namespace: 'a' }, digest);
    await expect(cache.acquire({ namespace: 'a' }, digest)).rejects.toThrow('not found');
    await cache.close();
  });

  it('checks again after a collection removed the record', async () => {
    const cache = new ReaderCache(store, { idleMs: 10_000 });
    const lease = await db.leases.create({ namespace: 'a' }, { id: 'hold' });
    const digest = digestOf('held');
    await writeBlob(store, { namespace: 'a', lease: lease.id }, 'ref-held', [Buffer.from('held')], { digest, size: 4 });
    const first = await cache.acquire({ namespace: 'a' }, digest);
    first.release();
    await db.leases.delete({ namespace: 'a' }, lease.id);
    await db.garbageCollect();
    await expect(cache.acquire({ namespace: 'a' }, digest)).rejects.toThrow(`content digest ${digest}: not found`);
    await cache.close();
  });

  it('closes readers that stay unused, and keeps at most maxIdle open', async () => {
    const cache = new ReaderCache(store, { idleMs: 1500, maxIdle: 2 });
    const digests = [await put('one'), await put('two'), await put('three')];
    const held = await Promise.all(digests.map((d) => cache.acquire({ namespace: 'a' }, d)));
    for (const h of held) h.release();
    // The oldest of three unused readers is closed at once (well before idleMs).
    await closed(held[0]!.reader, 700);
    expect((await held[2]!.reader.readAt(0, 5)).toString()).toBe('three');
    // The others once they stay unused for idleMs.
    await closed(held[2]!.reader, 5000);
    const again = await cache.acquire({ namespace: 'a' }, digests[2]!);
    expect(opened).toBe(4);
    again.release();
    await cache.close();
  });

  it('a reader in use stays open through close and closes when released', async () => {
    const cache = new ReaderCache(store);
    const digest = await put('busy');
    const h = await cache.acquire({ namespace: 'a' }, digest);
    await cache.close();
    expect((await h.reader.readAt(0, 4)).toString()).toBe('busy');
    h.release();
    await closed(h.reader, 2000);
  });
});
