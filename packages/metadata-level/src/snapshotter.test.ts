// The namespaced snapshots of the metadata layer over the real native snapshotter: the
// conformance suite run through this layer (as containerd runs it through metadata), and
// what the layer adds: namespaces, backend keys, inherited labels, leases and collection.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalContentStore } from '@containerd-ts/content-local';
import { failure } from '@containerd-ts/errdefs/testing';
import { type Info, Kind, type Snapshotter } from '@containerd-ts/snapshots';
import { snapshotterSuite } from '@containerd-ts/snapshots/testsuite';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import { compareTimestamps } from '@containerd-ts/timestamp';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MetadataDB } from './db.js';
import * as keys from './keys.js';
import { WALK_BATCH } from './snapshotter.js';

/** A snapshotter as one without the optional `statMany` (a proxy's) presents it. */
const withoutStatMany = (sn: Snapshotter): Snapshotter =>
  new Proxy(sn, {
    get: (target, prop) => {
      if (prop === 'statMany') return undefined;
      const value = Reflect.get(target, prop);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });

async function openLayer(
  root: string,
  options: { perKeyStat?: boolean } = {},
): Promise<{ db: MetadataDB; backend: NativeSnapshotter; sn: Snapshotter; close(): Promise<void> }> {
  const content = await LocalContentStore.open(join(root, 'content'));
  const backend = await NativeSnapshotter.open(join(root, 'native'));
  const seen = options.perKeyStat ? withoutStatMany(backend) : backend;
  const db = await MetadataDB.open({ path: join(root, 'meta.leveldb'), content, snapshotters: new Map([['native', seen]]), sync: false });
  const sn = db.snapshotter('native');
  if (!sn) throw new Error('native snapshotter not added');
  return {
    db,
    backend,
    sn,
    async close() {
      await sn.close();
      await db.close();
    },
  };
}

// The suite's 128-layer case copies ~16,000 files through native: on a tmpfs it takes seconds.
describe('metadata snapshotter on tmpfs', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'metadata-snapshots-'));
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1g,mode=0755');
  });
  afterAll(async () => {
    umount2(dir, MNT_DETACH);
    await rm(dir, { recursive: true, force: true });
  });

  snapshotterSuite(
    'MetadataNative',
    async ({ root }) => {
      const layer = await openLayer(root);
      return { snapshotter: layer.sn, ctx: { namespace: 'testsuite' }, cleanup: () => layer.close() };
    },
    { tmpDir: () => dir },
  );
});

const names = async (sn: Snapshotter, ns: string, filters: string[] = []) => {
  const out: string[] = [];
  await sn.walk({ namespace: ns }, (i) => {
    out.push(i.name);
  }, filters);
  return out;
};

const backendInfos = async (backend: NativeSnapshotter) => {
  const out: Info[] = [];
  await backend.walk({}, (i) => {
    out.push(i);
  });
  return out.sort((a, b) => a.name.localeCompare(b.name));
};

describe('namespaced snapshots', () => {
  let root = '';
  let layer: Awaited<ReturnType<typeof openLayer>>;
  const a = { namespace: 'a' };
  const b = { namespace: 'b' };
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'metadata-snapshots-'));
    layer = await openLayer(root);
  });
  afterEach(async () => {
    await layer.close();
    await rm(root, { recursive: true, force: true });
  });

  it('keeps namespaces apart, under backend keys <ns>/<sequence>/<key>', async () => {
    const { sn, backend } = layer;
    await sn.prepare(a, 'k1', '', { labels: { team: 'a' } });
    await sn.commit(a, 'base', 'k1', { labels: { 'containerd.io/snapshot/x': 'inherited', plain: 'only-here' } });
    await sn.prepare(a, 'child', 'base');
    await sn.prepare(b, 'k1');
    expect(await names(sn, 'a')).toEqual(['base', 'child']);
    expect(await names(sn, 'b')).toEqual(['k1']);
    expect(await failure(sn.stat(b, 'base'))).toEqual({ kind: 'not-found', message: 'snapshot base does not exist: not found' });
    // The same key in two namespaces is two snapshots.
    expect((await sn.stat(b, 'k1')).kind).toBe('Active');
    expect(await failure(sn.prepare(a, 'child'))).toEqual({ kind: 'already-exists', message: 'snapshot "child": already exists' });
    expect(await failure(sn.prepare(b, 'x', 'base'))).toEqual({ kind: 'not-found', message: 'parent snapshot base does not exist: not found' });
    expect(await failure(sn.stat({}, 'k1'))).toEqual({ kind: 'failed-precondition', message: 'namespace is required: failed precondition' });

    const backendNames = (await backendInfos(backend)).map((i) => `${i.name}<-${i.parent}`);
    // Prepare takes sequence 1, commit 2, the child 3; namespace b counts on its own.
    expect(backendNames).toEqual(['a/2/base<-', 'a/3/child<-a/2/base', 'b/1/k1<-']);
    // Only inherited labels reach the backend; the namespace sees all of them.
    const backendBase = (await backendInfos(backend)).find((i) => i.name === 'a/2/base');
    expect(backendBase?.labels).toEqual({ 'containerd.io/snapshot/x': 'inherited' });
    const base = await sn.stat(a, 'base');
    expect(base).toMatchObject({ kind: 'Committed', name: 'base', parent: '', labels: { 'containerd.io/snapshot/x': 'inherited', plain: 'only-here' } });
    expect((await sn.stat(a, 'child')).parent).toBe('base');
    // native's own IDs: the committed snapshot keeps its active one's.
    expect((await sn.mounts(a, 'child'))[0]?.source).toBe(join(root, 'native', 'snapshots', '2'));
    expect(await failure(sn.mounts(a, 'nope'))).toEqual({ kind: 'not-found', message: 'snapshot nope does not exist: not found' });
    expect((await sn.usage(a, 'base')).inodes).toBeGreaterThanOrEqual(1);

    expect(await failure(sn.remove(a, 'base'))).toEqual({ kind: 'failed-precondition', message: 'cannot remove snapshot with child: failed precondition' });
    expect(await failure(sn.commit(a, 'base', 'child'))).toEqual({ kind: 'already-exists', message: 'snapshot "base": already exists' });
    expect(await failure(sn.commit(a, 'n', 'missing'))).toEqual({ kind: 'not-found', message: 'snapshot missing does not exist: not found' });
    await sn.view(a, 'v', 'base');
    // The backend refuses to commit a view, naming its backend key as containerd's does.
    expect(await failure(sn.commit(a, 'from-view', 'v'))).toMatchObject({ kind: 'failed-precondition' });
    expect(await names(sn, 'a')).toEqual(['base', 'child', 'v']);
  });

  it('updates labels by field path, inherited ones in the backend too', async () => {
    const { sn, backend } = layer;
    await sn.prepare(a, 'k', '', { labels: { keep: '1', drop: '2' } });
    const before = await sn.stat(a, 'k');
    const updated = await sn.update(a, { name: 'k', labels: { 'containerd.io/snapshot/y': 'v', drop: '' } }, [
      'labels.containerd.io/snapshot/y',
      'labels.drop',
    ]);
    expect(updated.labels).toEqual({ keep: '1', 'containerd.io/snapshot/y': 'v' });
    expect(compareTimestamps(updated.updated, before.updated)).toBeGreaterThan(0);
    expect(updated.created).toEqual(before.created);
    expect((await backendInfos(backend))[0]?.labels).toEqual({ 'containerd.io/snapshot/y': 'v' });
    expect(await names(sn, 'a', ['labels.keep==1'])).toEqual(['k']);
    expect(await names(sn, 'a', ['labels.drop'])).toEqual([]);
    expect(await failure(sn.update(a, { name: 'k', parent: 'x' }, ['parent']))).toEqual({
      kind: 'invalid-argument',
      message: 'cannot update "parent" field on snapshot "k": invalid argument',
    });
    expect(await failure(sn.update(a, { name: '' }))).toEqual({ kind: 'invalid-argument', message: 'invalid argument' });
    expect(await failure(sn.update(a, { name: 'nope', labels: {} }))).toEqual({ kind: 'not-found', message: 'snapshot nope does not exist: not found' });
    expect(await failure(sn.prepare(a, 'big', '', { labels: { k: 'x'.repeat(5000) } }))).toMatchObject({ kind: 'invalid-argument' });
    // Replacing all labels.
    expect((await sn.update(a, { name: 'k', labels: { only: 'this' } })).labels).toEqual({ only: 'this' });
  });

  it('records snapshots in the request lease, and the collector removes what nothing holds', async () => {
    const { sn, db, backend } = layer;
    await db.leases.create(a, { id: 'l' });
    const leased = { ...a, lease: 'l' };
    await sn.prepare(leased, 'tmp');
    await sn.commit(leased, 'layer', 'tmp');
    expect(await db.leases.listResources(a, 'l')).toEqual([{ type: 'snapshots/native', id: 'layer' }]);
    expect(await failure(sn.prepare({ ...a, lease: 'nope' }, 'x'))).toEqual({ kind: 'not-found', message: 'lease does not exist: not found' });
    // The failed prepare left nothing in the backend.
    expect((await backendInfos(backend)).map((i) => i.name)).toEqual(['a/2/layer']);

    await sn.prepare(a, 'unheld', 'layer');
    await sn.prepare(a, 'rooted', '', { labels: { 'containerd.io/gc.root': 'yes' } });
    await sn.prepare(a, 'referenced');
    await db.containers.create(a, {
      id: 'c',
      runtime: { name: 'io.containerd.runc.v2' },
      spec: { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: new Uint8Array([123, 125]) },
      snapshotter: 'native',
      snapshotKey: 'unheld',
      labels: { 'containerd.io/gc.ref.snapshot.native': 'referenced' },
    });
    await sn.prepare(a, 'loose');
    await db.garbageCollect();
    expect(await names(sn, 'a')).toEqual(['layer', 'referenced', 'rooted', 'unheld']);
    expect((await backendInfos(backend)).map((i) => i.name).sort()).toEqual(['a/2/layer', 'a/4/unheld', 'a/5/rooted', 'a/6/referenced']);

    // Removing records leaves the backend snapshots to the collector, children first.
    await db.containers.delete(a, 'c');
    await db.leases.delete(a, 'l');
    const stats = await db.garbageCollect();
    expect(stats.removed.snapshots).toBe(3);
    expect(await names(sn, 'a')).toEqual(['rooted']);
    expect((await backendInfos(backend)).map((i) => i.name)).toEqual(['a/5/rooted']);
    await sn.remove(a, 'rooted');
    await db.garbageCollect();
    expect(await backendInfos(backend)).toEqual([]);
    // A namespace without snapshots can go; the sequence survives it.
    await db.namespaces.delete(a, 'a');
    await sn.prepare(a, 'again');
    expect((await backendInfos(backend)).map((i) => i.name)).toEqual(['a/8/again']);
  });

  it('removes backend snapshots without a record at the first collection (left by a crash)', async () => {
    const { db, backend } = layer;
    await backend.prepare({}, 'a/99/orphan', '');
    await layer.sn.prepare(a, 'kept', '', { labels: { 'containerd.io/gc.root': '1' } });
    const stats = await db.garbageCollect();
    expect(stats.backend.snapshots).toBe(1);
    expect((await backendInfos(backend)).map((i) => i.name)).toEqual(['a/1/kept']);
    expect(await db.store.get(keys.snapshotKey('a', 'native', 'kept'))).toBeDefined();
  });

  it('walks in batches past the first thousand snapshots', async () => {
    const { sn } = layer;
    const count = WALK_BATCH + 20;
    for (let i = 0; i < count; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, count - i) }, (_, j) => sn.prepare(a, `k${String(i + j).padStart(4, '0')}`)));
    }
    const all = await names(sn, 'a');
    expect(all.length).toBe(count);
    expect(all[0]).toBe('k0000');
    expect(all[count - 1]).toBe(`k${count - 1}`);
    expect(await names(sn, 'a', ['name~=k10[0-9]5$'])).toEqual(['k1005', 'k1015']);
  });

  it('walks the same whether the backend answers a batch at once or key by key, leaving out what it lost', async () => {
    const { sn, backend } = layer;
    await sn.prepare(a, 'base-a', '', { labels: { l: 'a' } });
    await sn.commit(a, 'base', 'base-a', { labels: { l: 'base' } });
    await sn.prepare(a, 'active', 'base');
    await sn.view(a, 'view', 'base', { labels: { v: '1' } });
    await sn.prepare(a, 'lost', '');
    await sn.prepare(b, 'other', '');
    // The backend loses one snapshot behind the metadata layer's back.
    const lost = (await backendInfos(backend)).find((i) => i.name.endsWith('/lost'));
    await backend.remove({}, lost!.name);
    const walked = async (s: Snapshotter) => {
      const out: Info[] = [];
      await s.walk(a, (i) => {
        out.push(i);
      });
      return out;
    };
    const batched = await walked(sn);
    expect(batched.map((i) => [i.name, i.kind, i.parent])).toEqual([
      ['active', Kind.Active, 'base'],
      ['base', Kind.Committed, ''],
      ['view', Kind.View, 'base'],
    ]);
    expect(batched.map((i) => i.labels)).toEqual([{}, { l: 'base' }, { v: '1' }]);
    await layer.close();
    layer = await openLayer(root, { perKeyStat: true });
    expect(await walked(layer.sn)).toEqual(batched);
    for (const info of batched) expect(await layer.sn.stat(a, info.name)).toEqual(info);
  });

  it('walks every snapshot when a batch of records is larger than one read returns', async () => {
    const { sn } = layer;
    // 3.5 KiB of labels each: one native read (up to SCAN_READ_AHEAD_BYTES) returns ~300
    for (let i = 0; i < 400; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) => sn.prepare(a, `big${String(i + j).padStart(3, '0')}`, '', { labels: { big: 'x'.repeat(3500) } })),
      );
    }
    const all = await names(sn, 'a');
    expect(all.length).toBe(400);
    expect(all[0]).toBe('big000');
    expect(all[399]).toBe('big399');
  });
});
