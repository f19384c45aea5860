// The Containers gRPC API over a real metadata database and event exchange: create, get,
// list and list-stream with filters, update by field path, delete, the events containerd
// publishes, and containerd's error codes and messages.
import { unpackFields } from '@containerd-ts/api';
import { ContainersService as Api, type Container } from '@containerd-ts/api/services/containers';
import { failure } from '@containerd-ts/errdefs/testing';
import type { Envelope } from '@containerd-ts/events-exchange';
import { compareTimestamps, toMillis } from '@containerd-ts/timestamp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEnv, createEnv } from './testing/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createEnv();
});
afterEach(async () => env.cleanup());

/** `x` with every byte array as a Buffer, so decoded bytes (Buffer views) compare with ours. */
function plain<T>(x: T): T {
  if (x instanceof Uint8Array) return Buffer.from(x) as T;
  if (Array.isArray(x)) return x.map(plain) as T;
  if (x && typeof x === 'object' && !(x instanceof Date)) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)])) as T;
  return x;
}

const specType = 'types.containerd.io/opencontainers/runtime-spec/1/Spec';
const spec = (json: unknown) => ({ typeUrl: specType, value: Buffer.from(JSON.stringify(json)) });
const ext = (s: string) => ({ typeUrl: 'example.com/Ext', value: Buffer.from(s) });

const container = (id: string, fields: Partial<Container> = {}): Container => ({
  id,
  labels: {},
  image: 'docker.io/library/busybox:latest',
  runtime: { name: 'io.containerd.runc.v2', options: undefined },
  spec: spec({ ociVersion: '1.0.2' }),
  snapshotter: 'overlayfs',
  snapshotKey: id,
  createdAt: undefined,
  updatedAt: undefined,
  extensions: {},
  ...fields,
});

describe('containers service', () => {
  it('creates, gets, lists, updates and deletes containers, publishing their events', async () => {
    const sub = env.exchange.subscribe(['topic~="^/containers/"']);
    const c = env.connect();
    const options = { typeUrl: 'containerd.runc.v1.Options', value: Buffer.from([0x0a, 0x01, 0x78]) };
    const before = Date.now();
    const created = plain(
      (
        await c.unary(Api.create, {
          container: container('web', { labels: { app: 'web', empty: '' }, runtime: { name: 'io.containerd.runc.v2', options }, extensions: { a: ext('1') } }),
        })
      ).container,
    );
    expect(created).toMatchObject({
      id: 'web',
      labels: { app: 'web' },
      image: 'docker.io/library/busybox:latest',
      runtime: { name: 'io.containerd.runc.v2', options },
      spec: spec({ ociVersion: '1.0.2' }),
      snapshotter: 'overlayfs',
      snapshotKey: 'web',
      extensions: { a: ext('1') },
    });
    expect(toMillis(created!.createdAt!)).toBeGreaterThanOrEqual(before - 1);
    // Nanoseconds on the wire, below the millisecond.
    expect(created?.createdAt?.nanos).toBeGreaterThan(0);
    expect(created?.updatedAt).toEqual(created?.createdAt);
    await c.unary(Api.create, { container: container('db', { image: '', runtime: { name: 'io.containerd.runc.v1', options: undefined }, labels: { app: 'db' } }) });
    expect(plain((await c.unary(Api.get, { id: 'web' })).container)).toEqual(created);

    const ids = async (filters: string[]) => (await c.unary(Api.list, { filters })).containers.map((x) => x.id);
    expect(await ids([])).toEqual(['db', 'web']);
    expect(await ids(['labels.app==db'])).toEqual(['db']);
    expect(await ids(['runtime.name==io.containerd.runc.v2'])).toEqual(['web']);
    expect(await ids(['image~=busybox'])).toEqual(['web']);
    // An empty image is absent for filters, as containerd's adaptor says.
    expect(await ids(['image'])).toEqual(['web']);
    expect(await ids(['id==db', 'labels.app==web'])).toEqual(['db', 'web']);
    expect(await ids(['labels.app==web,id==db'])).toEqual([]);
    const streamed: string[] = [];
    for await (const m of c.serverStream(Api.listStream, { filters: ['labels.app'] })) streamed.push(m.container?.id ?? '');
    expect(streamed).toEqual(['db', 'web']);
    // Containers are namespaced.
    expect((await env.connect({ namespace: 'other' }).unary(Api.list, { filters: [] })).containers).toEqual([]);

    const labelled = (
      await c.unary(Api.update, { container: container('web', { labels: { tier: 'front' } }), updateMask: ['labels.tier', 'labels.app'] })
    ).container;
    expect(labelled?.labels).toEqual({ tier: 'front' });
    expect(compareTimestamps(labelled!.updatedAt!, labelled!.createdAt!)).toBeGreaterThan(0);
    expect(labelled?.createdAt).toEqual(created?.createdAt);
    const imaged = (await c.unary(Api.update, { container: container('web', { image: 'other:1', snapshotKey: 'k2' }), updateMask: ['image', 'snapshotkey'] }))
      .container;
    expect(imaged).toMatchObject({ image: 'other:1', snapshotKey: 'k2', labels: { tier: 'front' } });
    const respecced = (await c.unary(Api.update, { container: container('web', { spec: spec({ ociVersion: '1.1.0' }) }), updateMask: ['spec'] })).container;
    expect(plain(respecced?.spec)).toEqual(spec({ ociVersion: '1.1.0' }));
    // A full update (no mask) replaces labels, spec, extensions, image and snapshot key.
    const replaced = (await c.unary(Api.update, { container: container('web', { labels: { only: 'this' } }), updateMask: [] })).container;
    expect(plain(replaced)).toMatchObject({ labels: { only: 'this' }, image: 'docker.io/library/busybox:latest', snapshotKey: 'web', extensions: {} });
    // … but containerd writes extensions over the stored ones: the old key is still there.
    expect(plain((await c.unary(Api.get, { id: 'web' })).container?.extensions)).toEqual({ a: ext('1') });
    const extended = (
      await c.unary(Api.update, { container: container('web', { extensions: { b: ext('2') } }), updateMask: ['extensions.b', 'extensions.gone'] })
    ).container;
    // An extension named in the mask but missing from the request becomes an empty Any.
    expect(plain(extended?.extensions)).toEqual({ a: ext('1'), b: ext('2'), gone: { typeUrl: '', value: Buffer.alloc(0) } });

    await c.unary(Api.delete, { id: 'db' });
    expect(await ids([])).toEqual(['web']);

    const got: Envelope[] = [];
    for await (const e of sub) {
      got.push(e);
      if (got.length === 8) break;
    }
    sub.close();
    expect(plain(got.map((e) => [e.topic, e.namespace, unpackFields(e.event)]))).toEqual([
      [
        '/containers/create',
        'default',
        {
          typeName: 'containerd.events.ContainerCreate',
          fields: { id: 'web', image: 'docker.io/library/busybox:latest', runtime: { name: 'io.containerd.runc.v2', options: { type_url: options.typeUrl, value: options.value } } },
        },
      ],
      [
        '/containers/create',
        'default',
        { typeName: 'containerd.events.ContainerCreate', fields: { id: 'db', image: '', runtime: { name: 'io.containerd.runc.v1', options: undefined } } },
      ],
      ...[
        [{ tier: 'front' }, 'docker.io/library/busybox:latest', 'web'],
        [{ tier: 'front' }, 'other:1', 'k2'],
        [{ tier: 'front' }, 'other:1', 'k2'],
        [{ only: 'this' }, 'docker.io/library/busybox:latest', 'web'],
        [{ only: 'this' }, 'docker.io/library/busybox:latest', 'web'],
      ].map(([labels, image, key]) => [
        '/containers/update',
        'default',
        { typeName: 'containerd.events.ContainerUpdate', fields: { id: 'web', image, labels, snapshot_key: key } },
      ]),
      ['/containers/delete', 'default', { typeName: 'containerd.events.ContainerDelete', fields: { id: 'db' } }],
    ]);
  });

  it('answers bad requests with containerd codes and messages', async () => {
    const c = env.connect();
    // Before the namespace has had a container, update and delete say so (containerd's
    // missing bucket).
    expect(await failure(c.unary(Api.update, { container: container('x'), updateMask: [] }))).toEqual({
      kind: 'not-found',
      message: 'cannot update container "x" in namespace "default": not found',
    });
    expect(await failure(c.unary(Api.delete, { id: 'x' }))).toEqual({
      kind: 'not-found',
      message: 'cannot delete container "x" in namespace "default": not found',
    });
    expect(await failure(c.unary(Api.create, { container: undefined }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: container.ID: identifier must not be empty: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { container: container('a b') }))).toMatchObject({
      kind: 'invalid-argument',
      message: expect.stringMatching(/^create container failed validation: container\.ID: identifier "a b" must match/),
    });
    expect(await failure(c.unary(Api.create, { container: container('x', { runtime: undefined }) }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: container.Runtime.Name must be set: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { container: container('x', { spec: undefined }) }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: container.Spec must be set: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { container: container('x', { snapshotter: '' }) }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { container: container('x', { extensions: { '': ext('') } }) }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: container.Extension keys must not be zero-length: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { container: container('x', { labels: { k: 'v'.repeat(4096) } }) }))).toEqual({
      kind: 'invalid-argument',
      message: 'create container failed validation: containers.Labels: label key and value greater than maximum size (4096 bytes), key: k: invalid argument',
    });

    await c.unary(Api.create, { container: container('x') });
    expect(await failure(c.unary(Api.create, { container: container('x') }))).toEqual({ kind: 'already-exists', message: 'container "x": already exists' });
    expect(await failure(c.unary(Api.get, { id: 'nope' }))).toEqual({ kind: 'not-found', message: 'container "nope" in namespace "default": not found' });
    expect(await failure(c.unary(Api.update, { container: container('nope'), updateMask: [] }))).toEqual({
      kind: 'not-found',
      message: 'container "nope": not found',
    });
    expect(await failure(c.unary(Api.delete, { id: 'nope' }))).toEqual({ kind: 'not-found', message: 'container nope: not found' });
    expect(await failure(c.unary(Api.update, { container: container(''), updateMask: [] }))).toEqual({
      kind: 'invalid-argument',
      message: 'Container.ID required',
    });
    expect(await failure(c.unary(Api.update, { container: undefined, updateMask: ['labels'] }))).toEqual({
      kind: 'invalid-argument',
      message: 'Container.ID required',
    });
    // Runtime and snapshotter are immutable on a full update; a mask naming them is refused.
    expect(await failure(c.unary(Api.update, { container: container('x', { runtime: { name: 'io.containerd.runc.v1', options: undefined } }), updateMask: [] }))).toEqual({
      kind: 'invalid-argument',
      message: 'container.Runtime.Name field is immutable: invalid argument',
    });
    expect(await failure(c.unary(Api.update, { container: container('x', { snapshotter: 'native' }), updateMask: [] }))).toEqual({
      kind: 'invalid-argument',
      message: 'container.Snapshotter field is immutable: invalid argument',
    });
    expect(await failure(c.unary(Api.update, { container: container('x', { runtime: { name: 'other', options: undefined } }), updateMask: ['runtime'] }))).toEqual({
      kind: 'invalid-argument',
      message: 'cannot update "runtime" field on "x": invalid argument',
    });
    expect(await failure(c.unary(Api.update, { container: container('x', { spec: undefined }), updateMask: ['spec'] }))).toEqual({
      kind: 'invalid-argument',
      message: 'update failed validation: container.Spec must be set: invalid argument',
    });
    expect(await failure(c.unary(Api.list, { filters: ['id=='] }))).toEqual({
      kind: 'invalid-argument',
      message: 'filters: parse error: [id==]: expected value or quoted: invalid argument: invalid argument',
    });
    expect(await failure(env.connect({}).unary(Api.list, { filters: [] }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace is required: failed precondition',
    });
    // Once the namespace has had containers, an unknown one is just not found.
    await c.unary(Api.delete, { id: 'x' });
    expect(await failure(c.unary(Api.delete, { id: 'x' }))).toEqual({ kind: 'not-found', message: 'container x: not found' });
    expect((await c.unary(Api.list, { filters: [] })).containers).toEqual([]);
  });
});
