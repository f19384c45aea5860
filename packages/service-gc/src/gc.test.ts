// The GC API over a real metadata database: Explain names what a collection would
// remove and what holds the rest (lease, label, root label, expiry), Collect removes
// exactly that, through the scheduler when there is one.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@containerd-ts/client';
import { digestOf } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { failure } from '@containerd-ts/errdefs/testing';
import { GCScheduler } from '@containerd-ts/gc-scheduler';
import { type GCStats, MetadataDB } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import { type MethodDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GCService } from './api.js';
import { type CollectionRequester, GCController } from './gc.js';
import { gcGrpcService } from './grpc.js';

let dir: string;
let backend: LocalContentStore;
let db: MetadataDB;
let server: Server | undefined;
let conn: Connection | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'service-gc-'));
  backend = await LocalContentStore.open(join(dir, 'content'));
  db = await MetadataDB.open({ path: join(dir, 'meta.leveldb'), content: backend, sync: false });
});
afterEach(async () => {
  conn?.close();
  server?.forceShutdown();
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

async function serve(scheduler?: CollectionRequester): Promise<Connection> {
  server = new Server();
  const { definition, implementation } = gcGrpcService(new GCController(db, scheduler));
  server.addService(definition, implementation);
  const socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server?.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  conn = new Connection(socket, { namespace: 'default' });
  return conn;
}

async function putBlob(ctx: RequestContext, data: string, labels?: Record<string, string>): Promise<string> {
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

const backendDigests = async () => {
  const out: string[] = [];
  await backend.walk({}, (info) => {
    out.push(info.digest);
  });
  return out.sort();
};

describe('gc service', () => {
  it('explains what would go and what holds the rest; collect removes exactly that', async () => {
    const ns = { namespace: 'default' };
    await db.leases.create(ns, { id: 'live' });
    const leased = await putBlob({ ...ns, lease: 'live' }, 'held by the live lease');
    const referenced = await putBlob(ns, 'referenced by a label');
    await db.contentStore().update(ns, { digest: leased, labels: { 'containerd.io/gc.ref.content.0': referenced } }, [
      'labels.containerd.io/gc.ref.content.0',
    ]);
    const root = await putBlob(ns, 'a root', { 'containerd.io/gc.root': '2024' });
    const loose = await putBlob(ns, 'nothing holds this');
    await db.leases.create(ns, { id: 'old', labels: { 'containerd.io/gc.expire': '2001-01-01T00:00:00Z' } });
    const expired = await putBlob(ns, 'held by an expired lease');
    await db.leases.addResource(ns, 'old', { type: 'content', id: expired });
    const other = await putBlob({ namespace: 'other' }, 'another namespace');

    const c = await serve();
    const report = await c.unary(GCService.explain, {});
    const content = (namespace: string, key: string) => ({ type: 'content', namespace, key });
    const lease = (key: string) => ({ type: 'lease', namespace: 'default', key });
    expect(report.remove).toEqual(
      [content('default', loose), content('default', expired), lease('old'), content('other', other)].sort((a, b) =>
        a.namespace === b.namespace ? (a.type === b.type ? a.key.localeCompare(b.key) : a.type === 'content' ? -1 : 1) : a.namespace.localeCompare(b.namespace),
      ),
    );
    const holds = Object.fromEntries(report.keep.map((k) => [`${k.object.type}:${k.object.key}`, k.holds]));
    expect(holds).toEqual({
      [`content:${leased}`]: [{ kind: 'lease', by: lease('live'), flat: false }],
      [`content:${referenced}`]: [{ kind: 'label', by: content('default', leased), label: 'containerd.io/gc.ref.content.0' }],
      [`content:${root}`]: [{ kind: 'root-label' }],
      'lease:live': [{ kind: 'unexpired-lease' }],
    });
    // Nothing is removed from the backends before the records go.
    expect(report.backend).toEqual({ blobs: [loose, expired, other].sort(), ingests: [], snapshots: {} });

    const scoped = await c.unary(GCService.explain, { namespace: 'other' });
    expect(scoped.remove).toEqual([content('other', other)]);
    expect(scoped.keep).toEqual([]);

    const stats = await c.unary(GCService.collect, {});
    expect(stats.removed).toEqual({ content: 3, ingests: 0, snapshots: 0, leases: 1 });
    expect(stats.backend).toEqual({ blobs: 3, ingests: 0, snapshots: 0 });
    expect(stats.pauseMs).toBeGreaterThan(0);
    expect(await backendDigests()).toEqual([leased, referenced, root].sort());
    const after = await c.unary(GCService.explain, {});
    expect(after.remove).toEqual([]);
    expect(after.backend.blobs).toEqual([]);
    expect(after.keep.map((k) => k.object.key).sort()).toEqual([leased, referenced, root, 'live'].sort());
  });

  it('collect goes through the scheduler when there is one', async () => {
    const scheduler = new GCScheduler<GCStats>(db, {
      pauseThreshold: 0.02,
      deletionThreshold: 0,
      mutationThreshold: 100,
      scheduleDelayMs: 0,
      startupDelayMs: 0,
    });
    scheduler.start();
    try {
      const c = await serve(scheduler);
      const loose = await putBlob({ namespace: 'default' }, 'loose');
      expect(await backendDigests()).toEqual([loose]);
      const before = scheduler.statistics.collections;
      await c.unary(GCService.collect, {});
      expect(scheduler.statistics.collections).toBe(before + 1);
      expect(await backendDigests()).toEqual([]);
    } finally {
      await scheduler.stop();
    }
  });

  it('refuses malformed requests', async () => {
    const c = await serve();
    // Sends `body` as is in place of the JSON the client would encode.
    const raw = <Req, Res>(m: MethodDefinition<Req, Res>, body: string) =>
      c.unary<Record<string, never>, Res>({ ...m, requestSerialize: () => Buffer.from(body) } as unknown as MethodDefinition<Record<string, never>, Res>, {});
    expect(await failure(raw(GCService.explain, '[1]'))).toEqual({ kind: 'invalid-argument', message: 'explain request must be a JSON object: invalid argument' });
    expect(await failure(raw(GCService.explain, '{"namespace":3}'))).toMatchObject({ kind: 'invalid-argument' });
    expect(await failure(raw(GCService.explain, '{"ns":"x"}'))).toEqual({
      kind: 'invalid-argument',
      message: 'explain request: unknown field "ns": invalid argument',
    });
    expect(await failure(raw(GCService.collect, '"x"'))).toMatchObject({ kind: 'invalid-argument' });
    expect(await failure(raw(GCService.collect, '{nope'))).toMatchObject({ kind: 'invalid-argument' });
    expect((await failure(raw(GCService.explain, '{nope'))).message).toMatch(/^explain request is not JSON: /);
    // An empty body is an empty request.
    expect((await raw(GCService.explain, '')).remove).toEqual([]);
  });
});
