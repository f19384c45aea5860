// The garbage collector over real records and a real backend: roots, label reference
// chains, leases (expiry, flat), cross-namespace blobs, ingests, snapshots, explain.
import { digestOf } from '@containerd-ts/content';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataDB } from './db.js';
import type { GCNode } from './gc.js';
import { keys } from './index.js';
import type { IngestRecord } from './records.js';
import { type TestEnv, createEnv, putBlob } from './testing/env.js';

const ctx = { namespace: 'default' };
let env: TestEnv;
let db: MetadataDB;

beforeEach(async () => {
  env = await createEnv();
  db = env.db;
  // Start from a clean slate: the first collection after open reconciles the backend.
  await db.garbageCollect();
});
afterEach(() => env.cleanup());

const has = async (digest: string, c = ctx) =>
  db
    .contentStore()
    .info(c, digest)
    .then(
      () => true,
      () => false,
    );
const inBackend = (digest: string) =>
  env.backend.info({}, digest).then(
    () => true,
    () => false,
  );
const show = (n: GCNode) => `${n.type}:${n.namespace}/${n.key}`;

describe('garbage collection', () => {
  it('keeps lease-held content until the lease is deleted with sync', async () => {
    await db.leases.create(ctx, { id: 'pull' });
    const digest = await putBlob(db, { ...ctx, lease: 'pull' }, 'layer data');
    const loose = await putBlob(db, ctx, 'unreferenced');
    const stats = await db.garbageCollect();
    expect(stats.removed.content).toBe(1);
    expect(await has(digest)).toBe(true);
    expect(await has(loose)).toBe(false);
    expect(await inBackend(loose)).toBe(false);
    expect(await inBackend(digest)).toBe(true);

    await db.leases.delete(ctx, 'pull', { sync: true });
    expect(await has(digest)).toBe(false);
    expect(await inBackend(digest)).toBe(false);
  });

  it('follows gc.ref.content labels from roots, by any name, through chains', async () => {
    const d = await putBlob(db, ctx, 'd');
    const c = await putBlob(db, ctx, 'c', { 'containerd.io/gc.ref.content': d });
    const b = await putBlob(db, ctx, 'b');
    const unrelated = await putBlob(db, ctx, 'e', { 'containerd.io/gc.ref.contentx': b });
    const a = await putBlob(db, ctx, 'a', {
      'containerd.io/gc.root': '2024-01-01T00:00:00Z',
      'containerd.io/gc.ref.content.config': b,
      'containerd.io/gc.ref.content/l.0': c,
    });
    await db.garbageCollect();
    expect([await has(a), await has(b), await has(c), await has(d)]).toEqual([true, true, true, true]);
    expect(await has(unrelated)).toBe(false);

    await db.contentStore().update(ctx, { digest: a, labels: {} }, ['labels.containerd.io/gc.root']);
    await db.garbageCollect();
    expect([await has(a), await has(b), await has(c), await has(d)]).toEqual([false, false, false, false]);
  });

  it('keeps an image target and what it references; image delete with sync collects them', async () => {
    const config = await putBlob(db, ctx, '{"config":true}');
    const manifest = await putBlob(db, ctx, '{"manifest":true}', { 'containerd.io/gc.ref.content.config': config });
    await db.images.create(ctx, { name: 'example.com/img:1', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifest, size: 17 } });
    await db.garbageCollect();
    expect(await has(manifest)).toBe(true);
    expect(await has(config)).toBe(true);
    await db.images.delete(ctx, 'example.com/img:1', { sync: true });
    expect(await has(manifest)).toBe(false);
    expect(await has(config)).toBe(false);
  });

  it('collects an expired lease and what only it held; an invalid expiry is ignored', async () => {
    const past = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    await db.leases.create(ctx, { id: 'old', labels: { 'containerd.io/gc.expire': past } });
    await db.leases.create(ctx, { id: 'odd', labels: { 'containerd.io/gc.expire': 'tomorrow' } });
    const oldBlob = await putBlob(db, { ...ctx, lease: 'old' }, 'old');
    const oddBlob = await putBlob(db, { ...ctx, lease: 'odd' }, 'odd');
    const stats = await db.garbageCollect();
    expect(stats.removed.leases).toBe(1);
    expect((await db.leases.list(ctx)).map((l) => l.id)).toEqual(['odd']);
    expect(await has(oldBlob)).toBe(false);
    expect(await has(oddBlob)).toBe(true);
    // The resources of a collected lease go with it.
    await expect(db.leases.listResources(ctx, 'old')).rejects.toThrow('lease "old": not found');
  });

  it('holds but does not follow references from a flat lease', async () => {
    await db.leases.create(ctx, { id: 'flat', labels: { 'containerd.io/gc.flat': 'true' } });
    await db.leases.create(ctx, { id: 'deep' });
    const child = await putBlob(db, ctx, 'child');
    const parent = await putBlob(db, ctx, 'parent', { 'containerd.io/gc.ref.content.x': child });
    await db.leases.addResource(ctx, 'flat', { type: 'content', id: parent });
    await db.garbageCollect();
    expect(await has(parent)).toBe(true);
    expect(await has(child)).toBe(false);

    const child2 = await putBlob(db, ctx, 'child2');
    const parent2 = await putBlob(db, ctx, 'parent2', { 'containerd.io/gc.ref.content.x': child2 });
    await db.leases.addResource(ctx, 'deep', { type: 'content', id: parent2 });
    await db.garbageCollect();
    expect(await has(child2)).toBe(true);
  });

  it('removes a backend blob only when no namespace has it', async () => {
    const a = { namespace: 'ns-a' };
    const b = { namespace: 'ns-b' };
    const digest = await putBlob(db, a, 'shared between namespaces');
    await putBlob(db, b, 'shared between namespaces');
    await db.leases.create(a, { id: 'keep-a' });
    await db.leases.addResource(a, 'keep-a', { type: 'content', id: digest });
    await db.contentStore().delete(b, digest);
    await db.garbageCollect();
    expect(await has(digest, a)).toBe(true);
    expect(await has(digest, b)).toBe(false);
    expect(await inBackend(digest)).toBe(true);
    await db.leases.delete(a, 'keep-a', { sync: true });
    expect(await inBackend(digest)).toBe(false);
  });

  it('keeps unexpired ingests, collects expired ones with their backend data', async () => {
    const cs = db.contentStore();
    for (const ref of ['fresh', 'stale']) {
      const w = await cs.writer(ctx, { ref });
      await w.write(Buffer.from(ref));
      await w.close();
    }
    await db.store.write(async (tx) => {
      const rec = (await tx.getJSON<IngestRecord>(keys.ingestKey('default', 'stale')))!;
      tx.putJSON(keys.ingestKey('default', 'stale'), { ...rec, expireAt: new Date(Date.now() - 1000).toISOString() });
    });
    const stats = await db.garbageCollect();
    expect(stats.removed.ingests).toBe(1);
    expect(stats.backend.ingests).toBe(1);
    expect((await cs.listStatuses(ctx)).map((s) => s.ref)).toEqual(['fresh']);
    expect(await env.backend.listStatuses({})).toHaveLength(1);
  });

  it('keeps the blob a shared ingest expects even when its namespace deletes it', async () => {
    const digest = await putBlob(db, { namespace: 'a' }, 'expected by b');
    const w = await db.contentStore().writer({ namespace: 'b' }, { ref: 'x', expected: digest });
    await db.contentStore().delete({ namespace: 'a' }, digest);
    await db.garbageCollect();
    expect(await inBackend(digest)).toBe(true);
    await w.commit(0, digest);
    await w.close();
    expect(await has(digest, { namespace: 'b' })).toBe(true);
  });

  it('keeps blobs of a namespace that was deleted and used again', async () => {
    await db.namespaces.create({}, 'again');
    await db.namespaces.delete({}, 'again');
    const digest = await putBlob(db, { namespace: 'again' }, 'after re-creation', { 'containerd.io/gc.root': 'x' });
    expect((await db.namespaces.list()).map((n) => n.name)).toContain('again');
    // Even a record whose namespace record is missing keeps its blob.
    await db.store.write(async (tx) => tx.del(keys.namespaceKey('again')));
    await db.contentStore().delete(ctx, await putBlob(db, ctx, 'make content dirty'));
    await db.garbageCollect();
    expect(await has(digest, { namespace: 'again' })).toBe(true);
    expect(await inBackend(digest)).toBe(true);
  });

  it('removes a committed blob that has no record (left by a crash) at the first collection', async () => {
    const data = Buffer.from('orphan from a crash');
    const w = await env.backend.writer({}, { ref: 'direct' });
    await w.write(data);
    await w.commit(data.length, digestOf(data));
    await w.close();
    await env.reopen();
    db = env.db;
    const stats = await db.garbageCollect();
    expect(stats.backend.blobs).toBe(1);
    expect(await inBackend(digestOf(data))).toBe(false);
  });

  it('marks snapshots through containers, parents and labels, and explains what holds what', async () => {
    const put = (key: string, rec: Record<string, unknown>) =>
      db.store.write(async (tx) => tx.putJSON(keys.snapshotKey('default', 'native', key), { createdAt: '', updatedAt: '', ...rec }));
    await put('base', { name: 'default/1/base' });
    await put('mid', { name: 'default/2/mid', parent: 'base' });
    await put('top', { name: 'default/3/top', parent: 'mid' });
    await put('lonely', { name: 'default/4/lonely' });
    await put('labelled', { name: 'default/5/labelled' });
    await db.containers.create(ctx, {
      id: 'c1',
      runtime: { name: 'io.containerd.runc.v2' },
      spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([123, 125]) },
      snapshotter: 'native',
      snapshotKey: 'top',
      labels: { 'containerd.io/gc.ref.snapshot.native/extra': 'labelled' },
    });
    await db.leases.create(ctx, { id: 'hold' });
    const leased = await putBlob(db, { ...ctx, lease: 'hold' }, 'leased blob');
    const loose = await putBlob(db, ctx, 'loose blob');

    const report = await db.explain();
    expect(report.remove.map(show).sort()).toEqual([`content:default/${loose}`, 'snapshot:default/native/lonely']);
    const holds = Object.fromEntries(report.keep.map((k) => [show(k.node), k.holds]));
    expect(holds['snapshot:default/native/top']).toEqual([
      { kind: 'container-snapshot', by: { type: 'container', namespace: 'default', key: 'c1' } },
    ]);
    expect(holds['snapshot:default/native/base']).toEqual([
      { kind: 'parent', by: { type: 'snapshot', namespace: 'default', key: 'native/mid' } },
    ]);
    expect(holds['snapshot:default/native/labelled']).toEqual([
      {
        kind: 'label',
        label: 'containerd.io/gc.ref.snapshot.native/extra',
        by: { type: 'container', namespace: 'default', key: 'c1' },
      },
    ]);
    expect(holds[`content:default/${leased}`]).toEqual([
      { kind: 'lease', flat: false, by: { type: 'lease', namespace: 'default', key: 'hold' } },
    ]);
    expect(holds['lease:default/hold']).toEqual([{ kind: 'unexpired-lease' }]);
    expect(report.backend.blobs).toEqual([loose]);
    // explain changed nothing
    expect(await has(loose)).toBe(true);

    const stats = await db.garbageCollect();
    expect(stats.removed).toEqual({ content: 1, ingests: 0, snapshots: 1, leases: 0 });
    expect(await db.store.get(keys.snapshotKey('default', 'native', 'lonely'))).toBeUndefined();
    expect(await db.store.get(keys.snapshotKey('default', 'native', 'base'))).toBeDefined();
  });
});
