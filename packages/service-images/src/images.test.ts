// The Images gRPC API over a real metadata database, content store and GC scheduler:
// create, get, list with filters, update by field path, delete (sync waits for the
// collection), the events containerd publishes, and its error codes and messages.
import { unpackAny } from '@containerd-ts/api';
import { ImagesService as Api, type Image } from '@containerd-ts/api/services/images';
import { failure } from '@containerd-ts/errdefs/testing';
import type { Envelope } from '@containerd-ts/events-exchange';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEnv, backendDigests, createEnv, putBlob } from './testing/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createEnv();
});
afterEach(async () => env.cleanup());

const manifestType = 'application/vnd.oci.image.manifest.v1+json';
const image = (name: string, digest: string, labels: Record<string, string> = {}): Image => ({
  name,
  labels,
  target: { mediaType: manifestType, digest, size: 10, annotations: {} },
  createdAt: undefined,
  updatedAt: undefined,
});

describe('images service', () => {
  it('creates, gets, lists, updates and deletes images, publishing their events', async () => {
    const sub = env.exchange.subscribe(['topic~="^/images/"']);
    const c = env.connect();
    const digest = `sha256:${'a'.repeat(64)}`;
    const created = (await c.unary(Api.create, { image: image('example.com/app:1', digest, { team: 'x' }) })).image;
    expect(created).toMatchObject({ name: 'example.com/app:1', labels: { team: 'x' }, target: { digest, size: 10, mediaType: manifestType } });
    // A nanosecond time on the wire, not milliseconds.
    expect(created?.createdAt).toEqual({ seconds: expect.any(Number), nanos: expect.any(Number) });
    expect(Math.abs(created!.createdAt!.seconds * 1000 - Date.now())).toBeLessThan(60_000);
    expect(created?.updatedAt).toEqual(created?.createdAt);
    await c.unary(Api.create, { image: image('example.com/app:2', digest) });
    expect((await c.unary(Api.get, { name: 'example.com/app:1' })).image?.labels).toEqual({ team: 'x' });

    const names = async (filters: string[]) => (await c.unary(Api.list, { filters })).images.map((i) => i.name);
    expect(await names([])).toEqual(['example.com/app:1', 'example.com/app:2']);
    // A list sends the stored records as they are: the same images a get answers.
    const gets = await Promise.all(['example.com/app:1', 'example.com/app:2'].map(async (name) => (await c.unary(Api.get, { name })).image));
    expect((await c.unary(Api.list, { filters: [] })).images).toEqual(gets);
    expect(await names(['labels.team==x'])).toEqual(['example.com/app:1']);
    expect(await names(['name==example.com/app:2', 'labels.team==x'])).toEqual(['example.com/app:1', 'example.com/app:2']);
    expect(await names([`target.digest==${digest}`])).toHaveLength(2);

    const updated = (
      await c.unary(Api.update, { image: { ...image('example.com/app:1', digest), labels: { env: 'prod' } }, updateMask: ['labels.env'] })
    ).image;
    expect(updated?.labels).toEqual({ team: 'x', env: 'prod' });
    const retargeted = `sha256:${'b'.repeat(64)}`;
    const moved = (await c.unary(Api.update, { image: image('example.com/app:2', retargeted), updateMask: ['target'] })).image;
    expect(moved?.target?.digest).toBe(retargeted);

    await c.unary(Api.delete, { name: 'example.com/app:2', sync: false });
    expect(await names([])).toEqual(['example.com/app:1']);

    const got: Envelope[] = [];
    for await (const e of sub) {
      got.push(e);
      if (got.length === 5) break;
    }
    sub.close();
    expect(got.map((e) => [e.topic, e.event.typeUrl, unpackAny(e.event).value])).toEqual([
      ['/images/create', 'containerd.services.images.v1.ImageCreate', { name: 'example.com/app:1', labels: { team: 'x' } }],
      ['/images/create', 'containerd.services.images.v1.ImageCreate', { name: 'example.com/app:2', labels: {} }],
      ['/images/update', 'containerd.services.images.v1.ImageUpdate', { name: 'example.com/app:1', labels: { team: 'x', env: 'prod' } }],
      ['/images/update', 'containerd.services.images.v1.ImageUpdate', { name: 'example.com/app:2', labels: {} }],
      ['/images/delete', 'containerd.services.images.v1.ImageDelete', { name: 'example.com/app:2' }],
    ]);
  });

  it('answers bad requests with containerd codes and messages', async () => {
    const c = env.connect();
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(await failure(c.unary(Api.create, { image: undefined }))).toEqual({ kind: 'invalid-argument', message: 'Image.Name required' });
    expect(await failure(c.unary(Api.update, { image: image('', digest), updateMask: [] }))).toEqual({
      kind: 'invalid-argument',
      message: 'Image.Name required',
    });
    expect(await failure(c.unary(Api.create, { image: { ...image('x', digest), target: undefined } }))).toMatchObject({ kind: 'invalid-argument' });
    await c.unary(Api.create, { image: image('x', digest) });
    expect(await failure(c.unary(Api.create, { image: image('x', digest) }))).toEqual({ kind: 'already-exists', message: 'image "x": already exists' });
    expect(await failure(c.unary(Api.get, { name: 'nope' }))).toEqual({ kind: 'not-found', message: 'image "nope": not found' });
    expect(await failure(c.unary(Api.delete, { name: 'nope', sync: true }))).toEqual({ kind: 'not-found', message: 'image "nope": not found' });
    expect(await failure(c.unary(Api.update, { image: image('x', digest), updateMask: ['name'] }))).toEqual({
      kind: 'invalid-argument',
      message: 'cannot update "name" field on image "x": invalid argument',
    });
    expect(await failure(c.unary(Api.list, { filters: ['name=='] }))).toMatchObject({ kind: 'invalid-argument' });
    expect(await failure(env.connect({}).unary(Api.list, { filters: [] }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace is required: failed precondition',
    });
  });

  it('a sync delete returns once the content only the image held is collected', async () => {
    const c = env.connect();
    const ctx = { namespace: 'default' };
    const kept = await putBlob(env.db, ctx, 'manifest of a kept image');
    const dropped = await putBlob(env.db, ctx, 'manifest of a removed image');
    await c.unary(Api.create, { image: image('kept', kept) });
    await c.unary(Api.create, { image: image('dropped', dropped) });
    expect(await backendDigests(env.backend)).toEqual([kept, dropped].sort());
    await c.unary(Api.delete, { name: 'dropped', sync: true });
    // Nothing else ran a collection: the delete itself waited for one.
    expect(await backendDigests(env.backend)).toEqual([kept]);
  });
});
