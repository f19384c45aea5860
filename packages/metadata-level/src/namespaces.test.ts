// Namespaces: create, get, list, label updates by field path, and delete refused while
// anything is left in the namespace. Events go through the real exchange.
import { unpackFields } from '@containerd-ts/api';
import type { Envelope } from '@containerd-ts/events-exchange';
import { describe, expect, it } from 'vitest';
import { keys } from './index.js';
import { createEnv, putBlob, take } from './testing/env.js';

const decode = (e: Envelope) => unpackFields(e.event).fields;

describe('namespaces', () => {
  it('creates, lists, labels and deletes, publishing containerd topics', async () => {
    const env = await createEnv();
    try {
      const sub = env.exchange.subscribe(['topic~="^/namespaces/"']);
      const ns = env.db.namespaces;
      const req = { namespace: 'default' }; // what ctr sends
      await ns.create(req, 'test-ns', { a: '1' });
      await expect(ns.create({}, 'test-ns')).rejects.toThrow('namespace "test-ns": already exists');
      await expect(ns.create({}, 'bad name')).rejects.toThrow('invalid argument');
      await ns.create(req, 'other');
      expect(await ns.list()).toEqual([
        { name: 'other', labels: {} },
        { name: 'test-ns', labels: { a: '1' } },
      ]);
      await ns.update(req, { name: 'test-ns', labels: { b: '2', a: '' } }, ['labels.b', 'labels.a']);
      expect(await ns.get('test-ns')).toEqual({ name: 'test-ns', labels: { b: '2' } });
      await ns.update(req, { name: 'test-ns', labels: { c: '3' } });
      expect((await ns.get('test-ns')).labels).toEqual({ c: '3' });
      await expect(ns.update({}, { name: 'test-ns', labels: {} }, ['name'])).rejects.toThrow(
        'cannot update "name" field: invalid argument',
      );
      // As containerd: an unknown namespace reads as one without labels.
      expect(await ns.get('nope')).toEqual({ name: 'nope', labels: {} });
      expect(await ns.exists('nope')).toBe(false);
      await ns.delete(req, 'other');
      await expect(ns.delete(req, 'other')).rejects.toThrow('namespace "other": not found');
      expect((await ns.list()).map((n) => n.name)).toEqual(['test-ns']);

      const events = await take(sub, 5);
      expect(events.map((e) => [e.topic, e.namespace, e.event.typeUrl])).toEqual([
        // as containerd: create and update in the request's namespace, delete in the deleted one
        ['/namespaces/create', 'default', 'containerd.events.NamespaceCreate'],
        ['/namespaces/create', 'default', 'containerd.events.NamespaceCreate'],
        ['/namespaces/update', 'default', 'containerd.events.NamespaceUpdate'],
        ['/namespaces/update', 'default', 'containerd.events.NamespaceUpdate'],
        ['/namespaces/delete', 'other', 'containerd.events.NamespaceDelete'],
      ]);
      expect(decode(events[0]!)).toEqual({ name: 'test-ns', labels: { a: '1' } });
      // containerd's update event carries the labels of the request
      expect(decode(events[2]!)).toEqual({ name: 'test-ns', labels: { b: '2', a: '' } });
      expect(decode(events[4]!)).toEqual({ name: 'other' });
      sub.close();
    } finally {
      await env.cleanup();
    }
  });

  it('lists namespaces whose names sort between a namespace and its records', async () => {
    const env = await createEnv();
    try {
      // 'a-b' and 'a.b' sort between 'v1/a' and 'v1/a/…'; '_' after.
      for (const name of ['a', 'a-b', 'a.b', 'a_b', 'b']) await putBlob(env.db, { namespace: name }, `blob in ${name}`);
      expect((await env.db.namespaces.list()).map((n) => n.name)).toEqual(['a', 'a-b', 'a.b', 'a_b', 'b']);
    } finally {
      await env.cleanup();
    }
  });

  it('refuses to delete a namespace that still holds images, blobs, containers, leases or snapshots', async () => {
    const env = await createEnv();
    try {
      const ctx = { namespace: 'busy' };
      const db = env.db;
      const digest = await putBlob(db, ctx, 'content');
      await db.images.create(ctx, { name: 'docker.io/library/x:1', target: { mediaType: 'application/json', digest, size: 7 } });
      await db.containers.create(ctx, {
        id: 'c1',
        runtime: { name: 'io.containerd.runc.v2' },
        spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([123, 125]) },
      });
      await db.leases.create(ctx, { id: 'l1' });
      // Snapshot records come from the snapshot metadata layer (a later package); write one as it will.
      await db.store.write(async (tx) => {
        tx.putJSON(keys.snapshotKey('busy', 'native', 'k1'), { name: 'busy/1/k1', createdAt: '', updatedAt: '' });
      });
      const refuse = (what: string) =>
        expect(db.namespaces.delete({}, 'busy')).rejects.toThrow(
          `namespace "busy" must be empty, but it still has ${what}: failed precondition`,
        );
      await refuse('images, blobs, containers, leases, snapshots on "native" snapshotter');
      await db.images.delete(ctx, 'docker.io/library/x:1');
      await db.contentStore().delete(ctx, digest);
      await refuse('containers, leases, snapshots on "native" snapshotter');
      await db.containers.delete(ctx, 'c1');
      await db.leases.delete(ctx, 'l1');
      await refuse('snapshots on "native" snapshotter');
      await db.store.write(async (tx) => tx.del(keys.snapshotKey('busy', 'native', 'k1')));
      // An ingest does not keep a namespace.
      const w = await db.contentStore().writer(ctx, { ref: 'left-behind' });
      await w.write(Buffer.from('partial'));
      await w.close();
      await db.namespaces.delete({}, 'busy');
      expect(await db.namespaces.list()).toEqual([]);
      // The backend ingest goes with the next collection.
      expect(await env.backend.listStatuses({})).toHaveLength(1);
      const stats = await db.garbageCollect();
      expect(stats.backend.ingests).toBe(1);
      expect(await env.backend.listStatuses({})).toHaveLength(0);
    } finally {
      await env.cleanup();
    }
  });

  it('keeps a namespace that a write recreates while its deletion is still being written', async () => {
    const env = await createEnv();
    try {
      const ns = env.db.namespaces;
      for (let round = 0; round < 20; round++) {
        await ns.create({}, 'racy');
        // The deletion's batch is still being written when the lease's transaction runs.
        const [, lease] = await Promise.all([ns.delete({}, 'racy'), env.db.leases.create({ namespace: 'racy' }, { id: `l${round}` })]);
        expect(lease.id).toBe(`l${round}`);
        expect((await ns.list()).map((n) => n.name)).toEqual(['racy']);
        await expect(ns.delete({}, 'racy')).rejects.toThrow('namespace "racy" must be empty, but it still has leases');
        await env.db.leases.delete({ namespace: 'racy' }, `l${round}`);
        await ns.delete({}, 'racy');
        expect(await ns.list()).toEqual([]);
      }
    } finally {
      await env.cleanup();
    }
  });
});
