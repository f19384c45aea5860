// The Snapshots gRPC API over the metadata layer and the real native snapshotter:
// every call, containerd's error codes and messages, List batching, and the events.
import { unpackAny } from '@containerd-ts/api';
import { Kind, SnapshotsService as Api } from '@containerd-ts/api/services/snapshots';
import { failure } from '@containerd-ts/errdefs/testing';
import type { Envelope } from '@containerd-ts/events-exchange';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEnv, createEnv } from './testing/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createEnv();
});
afterEach(async () => env.cleanup());

const snapshotter = 'native';

describe('snapshots service', () => {
  it('prepares, views, commits, stats, updates, lists, measures and removes snapshots', async () => {
    const c = env.connect();
    const prepared = await c.unary(Api.prepare, { snapshotter, key: 'layer-tmp', parent: '', labels: { a: '1' } });
    expect(prepared.mounts).toEqual([
      { type: 'bind', source: `${env.dir}/native/snapshots/1`, target: '', options: ['rbind', 'rw'] },
    ]);
    expect((await c.unary(Api.mounts, { snapshotter, key: 'layer-tmp' })).mounts).toEqual(prepared.mounts);
    await c.unary(Api.commit, { snapshotter, name: 'layer', key: 'layer-tmp', labels: { b: '2' } });
    const view = await c.unary(Api.view, { snapshotter, key: 'v', parent: 'layer', labels: {} });
    expect(view.mounts[0]?.options).toEqual(['rbind', 'ro']);
    await c.unary(Api.prepare, { snapshotter, key: 'work', parent: 'layer', labels: {} });

    const info = (await c.unary(Api.stat, { snapshotter, key: 'layer' })).info;
    expect(info).toMatchObject({ name: 'layer', parent: '', kind: Kind.COMMITTED, labels: { b: '2' } });
    expect(info?.createdAt).toEqual({ seconds: expect.any(Number), nanos: expect.any(Number) });
    expect((await c.unary(Api.stat, { snapshotter, key: 'v' })).info?.kind).toBe(Kind.VIEW);
    expect((await c.unary(Api.stat, { snapshotter, key: 'work' })).info).toMatchObject({ kind: Kind.ACTIVE, parent: 'layer' });

    const updated = await c.unary(Api.update, {
      snapshotter,
      info: { name: 'layer', parent: '', kind: Kind.UNKNOWN, createdAt: undefined, updatedAt: undefined, labels: { c: '3' } },
      updateMask: ['labels.c'],
    });
    expect(updated.info?.labels).toEqual({ b: '2', c: '3' });

    const listed: string[] = [];
    for await (const msg of c.serverStream(Api.list, { snapshotter, filters: [] })) listed.push(...msg.info.map((i) => i.name));
    expect(listed).toEqual(['layer', 'v', 'work']);
    const filtered: string[] = [];
    for await (const msg of c.serverStream(Api.list, { snapshotter, filters: ['kind==active', 'labels.c==3'] })) {
      filtered.push(...msg.info.map((i) => i.name));
    }
    expect(filtered).toEqual(['layer', 'work']);

    const usage = await c.unary(Api.usage, { snapshotter, key: 'layer' });
    expect(usage.inodes).toBe(1);
    expect(usage.size).toBeGreaterThan(0);

    expect(await failure(c.unary(Api.remove, { snapshotter, key: 'layer' }))).toEqual({
      kind: 'failed-precondition',
      message: 'cannot remove snapshot with child: failed precondition',
    });
    await c.unary(Api.remove, { snapshotter, key: 'work' });
    await c.unary(Api.remove, { snapshotter, key: 'v' });
    await c.unary(Api.remove, { snapshotter, key: 'layer' });
    expect((await c.serverStream(Api.list, { snapshotter, filters: [] }).next()).done).toBe(true);
  });

  it('answers bad requests with containerd codes and messages', async () => {
    const c = env.connect();
    expect(await failure(c.unary(Api.stat, { snapshotter: '', key: 'k' }))).toEqual({
      kind: 'invalid-argument',
      message: 'snapshotter argument missing: invalid argument',
    });
    expect(await failure(c.unary(Api.prepare, { snapshotter: 'nope', key: 'k', parent: '', labels: {} }))).toEqual({
      kind: 'invalid-argument',
      message: 'snapshotter not loaded: nope: invalid argument',
    });
    expect(await failure(c.serverStream(Api.list, { snapshotter: 'nope', filters: [] }).next())).toEqual({
      kind: 'invalid-argument',
      message: 'snapshotter not loaded: nope: invalid argument',
    });
    expect(await failure(c.unary(Api.stat, { snapshotter, key: 'k' }))).toEqual({ kind: 'not-found', message: 'snapshot k does not exist: not found' });
    expect(await failure(c.unary(Api.usage, { snapshotter, key: 'k' }))).toMatchObject({ kind: 'not-found' });
    expect(await failure(c.unary(Api.prepare, { snapshotter, key: 'k', parent: 'missing', labels: {} }))).toEqual({
      kind: 'not-found',
      message: 'parent snapshot missing does not exist: not found',
    });
    await c.unary(Api.prepare, { snapshotter, key: 'k', parent: '', labels: {} });
    expect(await failure(c.unary(Api.prepare, { snapshotter, key: 'k', parent: '', labels: {} }))).toEqual({
      kind: 'already-exists',
      message: 'snapshot "k": already exists',
    });
    expect(await failure(c.unary(Api.prepare, { snapshotter, key: 'p', parent: 'k', labels: {} }))).toMatchObject({ kind: 'invalid-argument' });
    expect(
      await failure(
        c.unary(Api.update, {
          snapshotter,
          info: { name: 'k', parent: '', kind: Kind.UNKNOWN, createdAt: undefined, updatedAt: undefined, labels: {} },
          updateMask: ['kind'],
        }),
      ),
    ).toEqual({ kind: 'invalid-argument', message: 'cannot update "kind" field on snapshot "k": invalid argument' });
    expect(await failure(c.unary(Api.update, { snapshotter, info: undefined, updateMask: undefined }))).toEqual({
      kind: 'invalid-argument',
      message: 'invalid argument',
    });
    // A bad filter fails the stream; containerd sends the walk's error without a code.
    expect(await failure(c.serverStream(Api.list, { snapshotter, filters: ['name=='] }).next())).toMatchObject({ kind: 'unknown' });
    expect(await failure(c.unary(Api.cleanup, { snapshotter }))).toEqual({
      kind: 'not-implemented',
      message: 'snapshotter does not implement Cleanup method: not implemented',
    });
    expect(await failure(env.connect({}).unary(Api.stat, { snapshotter, key: 'k' }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace is required: failed precondition',
    });
    // The daemon still answers.
    expect((await c.unary(Api.stat, { snapshotter, key: 'k' })).info?.name).toBe('k');
  });

  it('lists in messages of at most 100 snapshots', async () => {
    const c = env.connect();
    await c.unary(Api.prepare, { snapshotter, key: 'base-tmp', parent: '', labels: {} });
    await c.unary(Api.commit, { snapshotter, name: 'base', key: 'base-tmp', labels: {} });
    // Views of one parent are cheap for native (no copy).
    await Promise.all(Array.from({ length: 100 }, (_, i) => c.unary(Api.view, { snapshotter, key: `v${i}`, parent: 'base', labels: {} })));
    const sizes: number[] = [];
    for await (const msg of c.serverStream(Api.list, { snapshotter, filters: [] })) sizes.push(msg.info.length);
    expect(sizes).toEqual([100, 1]);
  });

  it('publishes /snapshot/prepare, /snapshot/commit and /snapshot/remove (not views)', async () => {
    const sub = env.exchange.subscribe(['topic~="^/snapshot/"']);
    const c = env.connect({ namespace: 'ns1' });
    await c.unary(Api.prepare, { snapshotter, key: 'k', parent: '', labels: {} });
    await c.unary(Api.commit, { snapshotter, name: 'n', key: 'k', labels: {} });
    await c.unary(Api.view, { snapshotter, key: 'v', parent: 'n', labels: {} });
    await c.unary(Api.remove, { snapshotter, key: 'v' });
    await failure(c.unary(Api.remove, { snapshotter, key: 'v' }));
    const got: Envelope[] = [];
    for await (const e of sub) {
      got.push(e);
      if (got.length === 3) break;
    }
    sub.close();
    expect(got.map((e) => [e.namespace, e.topic, e.event.typeUrl, unpackAny(e.event).value])).toEqual([
      ['ns1', '/snapshot/prepare', 'containerd.events.SnapshotPrepare', { key: 'k', parent: '' }],
      ['ns1', '/snapshot/commit', 'containerd.events.SnapshotCommit', { key: 'k', name: 'n' }],
      ['ns1', '/snapshot/remove', 'containerd.events.SnapshotRemove', { key: 'v' }],
    ]);
  });
});
