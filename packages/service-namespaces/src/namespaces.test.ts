// The Namespaces gRPC API over a real metadata database: create, get, list, label
// updates with field paths, delete refused while the namespace holds anything, events.
import { unpackFields } from '@containerd-ts/api';
import { NamespacesService as Api } from '@containerd-ts/api/services/namespaces';
import { failure } from '@containerd-ts/errdefs/testing';
import type { Envelope } from '@containerd-ts/events-exchange';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type TestEnv, createEnv, putBlob } from './testing/env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createEnv();
});
afterEach(async () => env.cleanup());

describe('namespaces service', () => {
  it('creates, gets and lists namespaces with labels', async () => {
    const c = env.connect();
    const created = await c.unary(Api.create, { namespace: { name: 'build', labels: { team: 'a' } } });
    expect(created.namespace).toEqual({ name: 'build', labels: { team: 'a' } });
    await c.unary(Api.create, { namespace: { name: 'Other_1', labels: {} } });
    expect(await failure(c.unary(Api.create, { namespace: { name: 'build', labels: {} } }))).toEqual({
      kind: 'already-exists',
      message: 'namespace "build": already exists',
    });
    expect(await failure(c.unary(Api.create, { namespace: undefined }))).toEqual({
      kind: 'invalid-argument',
      message: 'identifier must not be empty: invalid argument',
    });
    expect(await failure(c.unary(Api.create, { namespace: { name: 'a..b', labels: {} } }))).toMatchObject({ kind: 'invalid-argument' });
    expect((await c.unary(Api.get, { name: 'build' })).namespace).toEqual({ name: 'build', labels: { team: 'a' } });
    // An unknown namespace reads as one without labels, as containerd answers.
    expect((await c.unary(Api.get, { name: 'nothing' })).namespace).toEqual({ name: 'nothing', labels: {} });
    const list = await c.unary(Api.list, { filter: '' });
    expect(list.namespaces).toEqual([
      { name: 'Other_1', labels: {} },
      { name: 'build', labels: { team: 'a' } },
    ]);
  });

  it('updates labels by field path, replaces them without, and refuses other paths', async () => {
    const c = env.connect();
    await c.unary(Api.create, { namespace: { name: 'ns', labels: { a: '1', b: '2' } } });
    await c.unary(Api.update, { namespace: { name: 'ns', labels: { a: '', c: '3' } }, updateMask: ['labels.a', 'labels.c'] });
    expect((await c.unary(Api.get, { name: 'ns' })).namespace?.labels).toEqual({ b: '2', c: '3' });
    // A path naming a label absent from the request removes it.
    await c.unary(Api.update, { namespace: { name: 'ns', labels: {} }, updateMask: ['labels.b'] });
    expect((await c.unary(Api.get, { name: 'ns' })).namespace?.labels).toEqual({ c: '3' });
    await c.unary(Api.update, { namespace: { name: 'ns', labels: { x: 'y' } }, updateMask: undefined });
    expect((await c.unary(Api.get, { name: 'ns' })).namespace?.labels).toEqual({ x: 'y' });
    expect(await failure(c.unary(Api.update, { namespace: { name: 'ns', labels: {} }, updateMask: ['name'] }))).toEqual({
      kind: 'invalid-argument',
      message: 'cannot update "name" field: invalid argument',
    });
    // Setting a label on an unknown namespace creates it, as containerd's SetLabel does.
    await c.unary(Api.update, { namespace: { name: 'fresh', labels: { k: 'v' } }, updateMask: ['labels.k'] });
    expect((await c.unary(Api.list, { filter: '' })).namespaces.map((n) => n.name)).toEqual(['fresh', 'ns']);
  });

  it('deletes an empty namespace; refuses one holding content or a lease; unknown is not found', async () => {
    const c = env.connect();
    await c.unary(Api.create, { namespace: { name: 'empty', labels: {} } });
    await c.unary(Api.delete, { name: 'empty' });
    expect((await c.unary(Api.list, { filter: '' })).namespaces).toEqual([]);
    expect(await failure(c.unary(Api.delete, { name: 'empty' }))).toEqual({ kind: 'not-found', message: 'namespace "empty": not found' });

    await c.unary(Api.create, { namespace: { name: 'full', labels: {} } });
    const digest = await putBlob(env.db, { namespace: 'full' }, 'hello');
    expect(await failure(c.unary(Api.delete, { name: 'full' }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace "full" must be empty, but it still has blobs: failed precondition',
    });
    await env.db.leases.create({ namespace: 'full' }, { id: 'l' });
    expect((await failure(c.unary(Api.delete, { name: 'full' }))).message).toBe(
      'namespace "full" must be empty, but it still has blobs, leases: failed precondition',
    );
    await env.db.contentStore().delete({ namespace: 'full' }, digest);
    // Stricter than containerd 1.6, which lets a namespace holding only leases go.
    expect((await failure(c.unary(Api.delete, { name: 'full' }))).message).toBe(
      'namespace "full" must be empty, but it still has leases: failed precondition',
    );
    await env.db.leases.delete({ namespace: 'full' }, 'l');
    await c.unary(Api.delete, { name: 'full' });
    expect((await c.unary(Api.list, { filter: '' })).namespaces).toEqual([]);
  });

  it("publishes containerd's namespace events in the request's namespace (delete: the deleted one)", async () => {
    const events: Envelope[] = [];
    const controller = new AbortController();
    const sub = env.exchange.subscribe(['topic~="^/namespaces/"'], controller.signal);
    const collecting = (async () => {
      for await (const e of sub) events.push(e);
    })();
    const c = env.connect({ namespace: 'admin' });
    await c.unary(Api.create, { namespace: { name: 'n1', labels: { a: 'b' } } });
    await c.unary(Api.update, { namespace: { name: 'n1', labels: { a: '' } }, updateMask: ['labels.a'] });
    await c.unary(Api.delete, { name: 'n1' });
    // Failed calls publish nothing.
    await c.unary(Api.delete, { name: 'n1' }).catch(() => {});
    await c.unary(Api.create, { namespace: { name: 'n2', labels: {} } });
    await c.unary(Api.create, { namespace: { name: 'n2', labels: {} } }).catch(() => {});
    controller.abort();
    await collecting;
    expect(events.map((e) => [e.namespace, e.topic, e.event.typeUrl, unpackFields(e.event).fields])).toEqual([
      ['admin', '/namespaces/create', 'containerd.events.NamespaceCreate', { name: 'n1', labels: { a: 'b' } }],
      ['admin', '/namespaces/update', 'containerd.events.NamespaceUpdate', { name: 'n1', labels: { a: '' } }],
      ['n1', '/namespaces/delete', 'containerd.events.NamespaceDelete', { name: 'n1' }],
      ['admin', '/namespaces/create', 'containerd.events.NamespaceCreate', { name: 'n2', labels: {} }],
    ]);
  });
});
