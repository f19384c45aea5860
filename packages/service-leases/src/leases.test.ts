// The Leases gRPC API over a real metadata database and GC scheduler: create (ID,
// labels, random IDs), list with filters, delete (sync waits for the collection),
// resources, expiry, and containerd's error classes and messages.
import { LeasesService as Api } from '@containerd-ts/api/services/leases';
import { failure } from '@containerd-ts/errdefs/testing';
import { toMillis } from '@containerd-ts/timestamp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEnv, backendDigests, createEnv, putBlob } from './testing/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createEnv();
});
afterEach(async () => env.cleanup());

describe('leases service', () => {
  it('creates leases with an ID or a random one, and lists them with filters', async () => {
    const c = env.connect();
    const before = Date.now();
    const l1 = (await c.unary(Api.create, { id: 'l1', labels: { app: 'web', 'containerd.io/gc.expire': '2100-01-01T00:00:00Z' } })).lease;
    expect(l1?.id).toBe('l1');
    expect(l1?.labels).toEqual({ app: 'web', 'containerd.io/gc.expire': '2100-01-01T00:00:00Z' });
    expect(toMillis(l1!.createdAt!)).toBeGreaterThanOrEqual(before - 1);
    // Nanoseconds on the wire: a Go client sees the time it was created to the nanosecond.
    expect(l1?.createdAt?.nanos).toBeGreaterThan(0);
    const random = (await c.unary(Api.create, { id: '', labels: {} })).lease;
    expect(random?.id).toMatch(/^\d{1,9}-[A-Za-z0-9_-]{4}$/);
    expect(await failure(c.unary(Api.create, { id: 'l1', labels: {} }))).toEqual({ kind: 'already-exists', message: 'lease "l1": already exists' });

    const ids = async (filters: string[]) => (await c.unary(Api.list, { filters })).leases.map((l) => l.id).sort();
    expect(await ids([])).toEqual(['l1', random?.id].sort());
    expect(await ids(['labels.app==web'])).toEqual(['l1']);
    // A list sends the stored records as they are: the leases as they were created.
    expect((await c.unary(Api.list, { filters: ['id==l1'] })).leases).toEqual([l1]);
    expect(await ids(['id==nope', `id==${random?.id}`])).toEqual([random?.id]);
    expect(await failure(c.unary(Api.list, { filters: ['id=='] }))).toEqual({
      kind: 'invalid-argument',
      message: 'filters: parse error: [id==]: expected value or quoted: invalid argument: invalid argument',
    });
    // Leases are namespaced.
    expect((await env.connect({ namespace: 'other' }).unary(Api.list, { filters: [] })).leases).toEqual([]);
    expect(await failure(env.connect({}).unary(Api.list, { filters: [] }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace is required: failed precondition',
    });
  });

  it('adds, lists and deletes resources', async () => {
    const c = env.connect();
    await c.unary(Api.create, { id: 'l', labels: {} });
    const digest = `sha256:${'b'.repeat(64)}`;
    await c.unary(Api.addResource, { id: 'l', resource: { id: 'key-1', type: 'snapshots/overlayfs' } });
    await c.unary(Api.addResource, { id: 'l', resource: { id: digest, type: 'content' } });
    await c.unary(Api.addResource, { id: 'l', resource: { id: 'ingest-ref', type: 'ingests' } });
    expect((await c.unary(Api.listResources, { id: 'l' })).resources).toEqual([
      { id: digest, type: 'content' },
      { id: 'ingest-ref', type: 'ingests' },
      { id: 'key-1', type: 'snapshots/overlayfs' },
    ]);
    await c.unary(Api.deleteResource, { id: 'l', resource: { id: digest, type: 'content' } });
    expect((await c.unary(Api.listResources, { id: 'l' })).resources.map((r) => r.type)).toEqual(['ingests', 'snapshots/overlayfs']);
    expect(await failure(c.unary(Api.addResource, { id: 'l', resource: { id: 'x', type: 'images' } }))).toEqual({
      kind: 'not-implemented',
      message: 'resource type images not supported yet: not implemented',
    });
    expect(await failure(c.unary(Api.addResource, { id: 'l', resource: undefined }))).toMatchObject({ kind: 'not-implemented' });
    expect(await failure(c.unary(Api.addResource, { id: 'nope', resource: { id: digest, type: 'content' } }))).toEqual({
      kind: 'not-found',
      message: 'lease "nope": not found',
    });
    expect(await failure(c.unary(Api.listResources, { id: 'nope' }))).toMatchObject({ kind: 'not-found' });
  });

  it('a sync delete returns once what only the lease held is collected', async () => {
    const c = env.connect();
    await c.unary(Api.create, { id: 'keep', labels: {} });
    await c.unary(Api.create, { id: 'drop', labels: {} });
    const kept = await putBlob(env.db, { namespace: 'default', lease: 'keep' }, 'kept by a lease');
    const dropped = await putBlob(env.db, { namespace: 'default', lease: 'drop' }, 'held only by drop');
    const rooted = await putBlob(env.db, { namespace: 'default', lease: 'drop' }, 'a root', { 'containerd.io/gc.root': 'x' });
    await env.scheduler.scheduleAndWait();
    expect(await backendDigests(env.backend)).toEqual([kept, dropped, rooted].sort());

    await c.unary(Api.delete, { id: 'drop', sync: true });
    // Nothing else was needed for the collection to have happened.
    expect(await backendDigests(env.backend)).toEqual([kept, rooted].sort());
    await expect(env.db.contentStore().info({ namespace: 'default' }, dropped)).rejects.toThrow('not found');
    expect(await failure(c.unary(Api.delete, { id: 'drop', sync: false }))).toEqual({ kind: 'not-found', message: 'lease "drop": not found' });
  });

  it('a lease holds nothing once its gc.expire time passes, and is collected then', async () => {
    const c = env.connect();
    // Long enough that a loaded machine stores the blob and collects once before it expires.
    const expire = new Date(Date.now() + 3000).toISOString();
    await c.unary(Api.create, { id: 'short', labels: { 'containerd.io/gc.expire': expire } });
    const digest = await putBlob(env.db, { namespace: 'default', lease: 'short' }, 'expiring');
    await env.scheduler.scheduleAndWait();
    expect(await backendDigests(env.backend)).toContain(digest);
    // No further request: the scheduler collects at the expiry time.
    for (let i = 0; i < 200 && (await backendDigests(env.backend)).includes(digest); i++) await new Promise((r) => setTimeout(r, 50));
    expect(await backendDigests(env.backend)).not.toContain(digest);
    expect((await c.unary(Api.list, { filters: [] })).leases).toEqual([]);
  });
});
