// Leases: create (given or random ID, labels), list with filters, delete, resources.
import { describe, expect, it } from 'vitest';
import { createEnv, putBlob } from './testing/env.js';

const ctx = { namespace: 'default' };
const digest = `sha256:${'a'.repeat(64)}`;

describe('leases', () => {
  it('creates, lists with filters and deletes', async () => {
    const env = await createEnv();
    try {
      const leases = env.db.leases;
      const l1 = await leases.create(ctx, { id: 'l1', labels: { app: 'x', 'containerd.io/gc.expire': '2100-01-01T00:00:00Z' } });
      expect(l1.id).toBe('l1');
      expect(l1.createdAt).toEqual({ seconds: expect.any(Number), nanos: expect.any(Number) });
      const random = await leases.create(ctx);
      expect(random.id).toMatch(/^\d+-[A-Za-z0-9_-]{4}$/);
      await expect(leases.create(ctx, { id: 'l1' })).rejects.toThrow('lease "l1": already exists');
      await expect(leases.create({}, { id: 'x' })).rejects.toThrow('namespace is required');
      expect((await leases.list(ctx)).map((l) => l.id).sort()).toEqual(['l1', random.id].sort());
      expect((await leases.list(ctx, ['labels.app==x'])).map((l) => l.id)).toEqual(['l1']);
      expect((await leases.list(ctx, ['id==nothing', `id==${random.id}`])).map((l) => l.id)).toEqual([random.id]);
      expect((await leases.list(ctx, ['labels."containerd.io/gc.expire"'])).map((l) => l.id)).toEqual(['l1']);
      expect((await leases.list(ctx, ['labels.app!=x'])).map((l) => l.id)).toEqual([random.id]);
      expect((await leases.list(ctx, ['id~=^l,labels.app==x'])).map((l) => l.id)).toEqual(['l1']);
      expect(await leases.list(ctx, ['labels.app==x'])).toEqual([l1]);
      await expect(leases.list(ctx, ['id=='])).rejects.toThrow('invalid argument');
      expect(await leases.list({ namespace: 'other' })).toEqual([]);
      await leases.delete(ctx, 'l1');
      await expect(leases.delete(ctx, 'l1')).rejects.toThrow('lease "l1": not found');
      // The expiry of a lease is known to the database for the expiry timer.
      expect(env.db.nextExpiry()?.toISOString()).toBe('2100-01-01T00:00:00.000Z');
    } finally {
      await env.cleanup();
    }
  });

  it('adds, lists and deletes resources, validating their types', async () => {
    const env = await createEnv();
    try {
      const leases = env.db.leases;
      await leases.create(ctx, { id: 'l' });
      await leases.addResource(ctx, 'l', { type: 'snapshots/overlayfs', id: 'sha256:abc/with/slash' });
      await leases.addResource(ctx, 'l', { type: 'content', id: digest });
      await leases.addResource(ctx, 'l', { type: 'ingests', id: 'ref/1' });
      expect(await leases.listResources(ctx, 'l')).toEqual([
        { type: 'content', id: digest },
        { type: 'ingests', id: 'ref/1' },
        { type: 'snapshots/overlayfs', id: 'sha256:abc/with/slash' },
      ]);
      await expect(leases.addResource(ctx, 'l', { type: 'content', id: 'sha256:zz' })).rejects.toThrow(
        'invalid content resource id sha256:zz: invalid checksum digest length: invalid argument',
      );
      await expect(leases.addResource(ctx, 'l', { type: 'snapshots', id: 'x' })).rejects.toThrow(
        'invalid snapshot resource type snapshots: invalid argument',
      );
      await expect(leases.addResource(ctx, 'l', { type: 'content/x', id: digest })).rejects.toThrow(
        'invalid resource type content/x: invalid argument',
      );
      await expect(leases.addResource(ctx, 'l', { type: 'images', id: 'x' })).rejects.toThrow(
        'resource type images not supported yet: not implemented',
      );
      await expect(leases.addResource(ctx, 'nope', { type: 'content', id: digest })).rejects.toThrow('lease "nope": not found');
      await leases.deleteResource(ctx, 'l', { type: 'content', id: digest });
      await leases.deleteResource(ctx, 'l', { type: 'content', id: digest });
      expect((await leases.listResources(ctx, 'l')).map((r) => r.type)).toEqual(['ingests', 'snapshots/overlayfs']);
      await leases.delete(ctx, 'l');
      await expect(leases.listResources(ctx, 'l')).rejects.toThrow('lease "l": not found');
      // A new lease with the same ID starts empty.
      await leases.create(ctx, { id: 'l' });
      expect(await leases.listResources(ctx, 'l')).toEqual([]);
    } finally {
      await env.cleanup();
    }
  });

  it('keeps the resources of leases whose IDs contain "/" apart (ctr images mount uses the target path)', async () => {
    const env = await createEnv();
    try {
      const leases = env.db.leases;
      const blob = await putBlob(env.db, ctx, 'held by /tmp/a/b');
      await leases.create(ctx, { id: '/tmp/a' });
      await leases.create(ctx, { id: '/tmp/a/b' });
      await leases.create(ctx, { id: '100%/x' });
      await leases.addResource(ctx, '/tmp/a/b', { type: 'content', id: blob });
      await leases.addResource(ctx, '100%/x', { type: 'ingests', id: 'ref' });
      expect(await leases.listResources(ctx, '/tmp/a')).toEqual([]);
      expect(await leases.listResources(ctx, '/tmp/a/b')).toEqual([{ type: 'content', id: blob }]);
      expect(await leases.listResources(ctx, '100%/x')).toEqual([{ type: 'ingests', id: 'ref' }]);
      // Deleting the shorter ID leaves the longer one's resources, and they hold their blob.
      await leases.delete(ctx, '/tmp/a');
      expect(await leases.listResources(ctx, '/tmp/a/b')).toEqual([{ type: 'content', id: blob }]);
      await env.db.garbageCollect();
      expect(await env.db.contentStore().info(ctx, blob)).toMatchObject({ digest: blob });
      await leases.delete(ctx, '/tmp/a/b');
      await env.db.garbageCollect();
      await expect(env.db.contentStore().info(ctx, blob)).rejects.toThrow('not found');
    } finally {
      await env.cleanup();
    }
  });

  it('adds existing content to the request lease when a writer finds it present', async () => {
    const env = await createEnv();
    try {
      const blob = await putBlob(env.db, ctx, 'present');
      await env.db.leases.create(ctx, { id: 'l' });
      await expect(env.db.contentStore().writer({ ...ctx, lease: 'l' }, { ref: 'r', expected: blob })).rejects.toThrow(
        'already exists',
      );
      expect(await env.db.leases.listResources(ctx, 'l')).toEqual([{ type: 'content', id: blob }]);
    } finally {
      await env.cleanup();
    }
  });
});
