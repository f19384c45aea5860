// The content conformance suite through the metadata layer (shared and isolated
// policies, with the cross-namespace cases), plus lease and namespace behaviour.
import { contentSuite } from '@containerd-ts/content/testsuite';
import { join } from 'node:path';
import { LocalContentStore } from '@containerd-ts/content-local';
import { describe, expect, it } from 'vitest';
import { MetadataDB } from './db.js';
import { createEnv, putBlob } from './testing/env.js';

for (const policy of ['shared', 'isolated'] as const) {
  let counter = 0;
  contentSuite(
    `metadata (${policy})`,
    async ({ root }) => {
      const backend = await LocalContentStore.open(join(root, 'content'), { lockWaitMs: 20 });
      const db = await MetadataDB.open({ path: join(root, 'meta'), content: backend, contentSharingPolicy: policy });
      const id = ++counter;
      return {
        store: db.contentStore(),
        ctx: { namespace: `ns-${id}-a` },
        secondContext: () => ({ namespace: `ns-${id}-b-${++counter}` }),
        cleanup: () => db.close(),
      };
    },
    { sharingPolicy: policy },
  );
}

describe('metadata content store', () => {
  it('scopes blobs to namespaces and requires one', async () => {
    const env = await createEnv({ contentSharingPolicy: 'isolated' });
    try {
      const cs = env.db.contentStore();
      const digest = await putBlob(env.db, { namespace: 'a' }, 'hello');
      expect((await cs.info({ namespace: 'a' }, digest)).size).toBe(5);
      await expect(cs.info({ namespace: 'b' }, digest)).rejects.toThrow(`content digest ${digest}: not found`);
      await expect(cs.readerAt({ namespace: 'b' }, { digest })).rejects.toThrow('not found');
      await expect(cs.info({}, digest)).rejects.toThrow('namespace is required: failed precondition');
      // The namespace came into being with its first object, as in containerd.
      expect((await env.db.namespaces.list()).map((n) => n.name)).toEqual(['a']);
    } finally {
      await env.cleanup();
    }
  });

  it('shares a backend blob by digest under the shared policy without rewriting it', async () => {
    const env = await createEnv();
    try {
      const cs = env.db.contentStore();
      const digest = await putBlob(env.db, { namespace: 'a' }, 'shared bytes');
      const w = await cs.writer({ namespace: 'b' }, { ref: 'x', expected: digest });
      expect((await w.status()).offset).toBe(12);
      await w.commit(12, digest);
      await w.close();
      expect((await cs.info({ namespace: 'b' }, digest)).size).toBe(12);
      // A second writer for content the namespace has is refused as already existing.
      await expect(cs.writer({ namespace: 'b' }, { ref: 'y', expected: digest })).rejects.toThrow(
        `content ${digest}: already exists`,
      );
    } finally {
      await env.cleanup();
    }
  });

  it('unshares a shared writer on truncate, and aborts a shared ingest that has no backend data', async () => {
    const env = await createEnv();
    try {
      const cs = env.db.contentStore();
      const data = Buffer.from('shared then rewritten');
      const digest = await putBlob(env.db, { namespace: 'a' }, data);
      const w = await cs.writer({ namespace: 'b' }, { ref: 'rewrite', expected: digest });
      expect((await w.status()).offset).toBe(data.length);
      await w.truncate(0);
      expect((await w.status()).offset).toBe(0);
      await w.write(data);
      await w.commit(data.length, digest);
      await w.close();
      expect((await cs.info({ namespace: 'b' }, digest)).size).toBe(data.length);

      const idle = await cs.writer({ namespace: 'c' }, { ref: 'idle', expected: digest });
      await idle.close();
      expect((await cs.status({ namespace: 'c' }, 'idle').catch((e: Error) => e.message))).toContain('not found');
      await cs.abort({ namespace: 'c' }, 'idle');
      await expect(cs.abort({ namespace: 'c' }, 'idle')).rejects.toThrow('reference idle: not found');
    } finally {
      await env.cleanup();
    }
  });

  it('keeps the blob a shared ingest expects after its namespace deletes it, and lets it go with the abort', async () => {
    const env = await createEnv();
    try {
      const cs = env.db.contentStore();
      const digest = await putBlob(env.db, { namespace: 'a' }, 'held by an ingest');
      const idle = await cs.writer({ namespace: 'b' }, { ref: 'idle', expected: digest });
      await idle.close();
      await cs.delete({ namespace: 'a' }, digest);
      await env.db.garbageCollect();
      // As containerd: the open ingest keeps the blob it expects, though no record is left.
      expect((await env.backend.info({}, digest)).size).toBe(17);
      await cs.abort({ namespace: 'b' }, 'idle');
      await env.db.garbageCollect();
      await expect(env.backend.info({}, digest)).rejects.toThrow('not found');
      expect((await env.db.explain()).backend.blobs).toEqual([]);
    } finally {
      await env.cleanup();
    }
  });

  it('updates labels by field path and validates them', async () => {
    const env = await createEnv();
    try {
      const cs = env.db.contentStore();
      const ctx = { namespace: 'default' };
      const digest = await putBlob(env.db, ctx, 'labelled', { a: '1', b: '2' });
      const info = await cs.update(ctx, { digest, labels: { a: '', c: '3' } }, ['labels.a', 'labels.c']);
      expect(info.labels).toEqual({ b: '2', c: '3' });
      await expect(cs.update(ctx, { digest, labels: {} }, ['size'])).rejects.toThrow(
        `cannot update "size" field on content info "${digest}": invalid argument`,
      );
      await expect(cs.update(ctx, { digest, labels: { k: 'v'.repeat(5000) } })).rejects.toThrow(
        'info.Labels: label key and value greater than maximum size (4096 bytes), key: k: invalid argument',
      );
      const seen: string[] = [];
      await cs.walk(ctx, (i) => void seen.push(i.digest), ['labels.c==3']);
      expect(seen).toEqual([digest]);
      await expect(cs.walk(ctx, () => {}, ['labels.c=='])).rejects.toThrow('invalid argument');
    } finally {
      await env.cleanup();
    }
  });

  it('lists and aborts ingests per namespace; abort removes the backend ingest', async () => {
    const env = await createEnv();
    try {
      const cs = env.db.contentStore();
      const w = await cs.writer({ namespace: 'a' }, { ref: 'pull/layer', total: 10 });
      await w.write(Buffer.from('12345'));
      await w.close();
      expect((await cs.status({ namespace: 'a' }, 'pull/layer')).offset).toBe(5);
      expect((await cs.listStatuses({ namespace: 'a' })).map((s) => s.ref)).toEqual(['pull/layer']);
      expect(await cs.listStatuses({ namespace: 'b' })).toEqual([]);
      await expect(cs.status({ namespace: 'b' }, 'pull/layer')).rejects.toThrow('reference pull/layer: not found');
      expect(await env.backend.listStatuses({})).toHaveLength(1);
      await cs.abort({ namespace: 'a' }, 'pull/layer');
      expect(await env.backend.listStatuses({})).toHaveLength(0);
      await expect(cs.abort({ namespace: 'a' }, 'pull/layer')).rejects.toThrow('reference pull/layer: not found');
    } finally {
      await env.cleanup();
    }
  });

  it('puts what is written under a lease into that lease, and refuses an unknown lease', async () => {
    const env = await createEnv();
    try {
      const ctx = { namespace: 'default', lease: 'pull-1' };
      await expect(env.db.contentStore().writer(ctx, { ref: 'r' })).rejects.toThrow('lease does not exist: not found');
      await env.db.leases.create({ namespace: 'default' }, { id: 'pull-1' });
      const w = await env.db.contentStore().writer(ctx, { ref: 'r' });
      expect(await env.db.leases.listResources(ctx, 'pull-1')).toEqual([{ type: 'ingests', id: 'r' }]);
      await w.write(Buffer.from('leased'));
      await w.commit(0, '');
      await w.close();
      const digest = w.digest();
      expect(await env.db.leases.listResources(ctx, 'pull-1')).toEqual([{ type: 'content', id: digest }]);
    } finally {
      await env.cleanup();
    }
  });
});
