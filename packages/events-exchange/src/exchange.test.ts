// The exchange with containerd's event messages: publish/forward validation with
// containerd's messages, filtered subscriptions (topic, namespace, event fields),
// ordering, and unsubscribing.
import { packFields, unpackFields } from '@containerd-ts/api';
import { now, toMillis } from '@containerd-ts/timestamp';
import { describe, expect, it } from 'vitest';
import { type Envelope, Exchange } from './exchange.js';

const taskExit = (fields: Record<string, unknown>) => ({ type: 'containerd.events.TaskExit', fields });

async function collect(sub: AsyncIterable<Envelope>, n: number): Promise<Envelope[]> {
  const out: Envelope[] = [];
  for await (const e of sub) {
    out.push(e);
    if (out.length === n) break;
  }
  return out;
}

describe('exchange', () => {
  it('validates topics, namespaces and event types as containerd', async () => {
    const ex = new Exchange();
    const ctx = { namespace: 'default' };
    const ev = taskExit({});
    await expect(ex.publish({}, '/a', ev)).rejects.toThrow('failed publishing event: namespace is required: failed precondition');
    await expect(ex.publish(ctx, '', ev)).rejects.toThrow('envelope topic "": must not be empty: invalid argument');
    await expect(ex.publish(ctx, 'tasks/exit', ev)).rejects.toThrow(
      `envelope topic "tasks/exit": must start with '/': invalid argument`,
    );
    await expect(ex.publish(ctx, '/', ev)).rejects.toThrow('envelope topic "/": must have at least one component: invalid argument');
    await expect(ex.publish(ctx, '/tasks/ex it', ev)).rejects.toThrow(
      'envelope topic "/tasks/ex it": failed validation on component "ex it": identifier "ex it" must match',
    );
    await expect(ex.publish(ctx, '/x', { type: 'example.Unknown', fields: {} })).rejects.toThrow(
      'type with url example.Unknown: not found',
    );
    const env: Envelope = { timestamp: now(), namespace: 'default', topic: '/tasks/exit', event: packFields(ev.type, ev.fields) };
    await expect(ex.forward({}, { ...env, namespace: '' })).rejects.toThrow(
      'event envelope has invalid namespace: identifier must not be empty: invalid argument',
    );
    await expect(ex.forward({}, { ...env, topic: 'x' })).rejects.toThrow(`envelope topic "x": must start with '/'`);
    await expect(ex.forward({}, { ...env, timestamp: { seconds: 0, nanos: 0 } })).rejects.toThrow(
      'timestamp must be set on forwarded event: invalid argument',
    );
    expect(() => ex.subscribe(['topic=='])).toThrow('failed parsing subscription filters: filters: parse error');
  });

  it('packs events with containerd type URLs and delivers them in order to every matching subscriber', async () => {
    const ex = new Exchange();
    const all = ex.subscribe();
    const byTopic = ex.subscribe(['topic=="/tasks/exit"']);
    const byNamespace = ex.subscribe(['namespace==k8s.io']);
    const byField = ex.subscribe(['event.container_id==c2', 'event.labels.app==web']);
    const before = Date.now();
    await ex.publish({ namespace: 'default' }, '/tasks/exit', taskExit({ container_id: 'c1', pid: 7 }));
    await ex.publish({ namespace: 'k8s.io' }, '/tasks/start', { type: 'containerd.events.TaskStart', fields: { container_id: 'c2', pid: 8 } });
    await ex.publish({ namespace: 'default' }, '/containers/update', {
      type: 'containerd.events.ContainerUpdate',
      fields: { id: 'x', labels: { app: 'web' } },
    });
    // An Any from a client's Publish or a shim's Forward passes through as is.
    const forwarded: Envelope = {
      timestamp: { seconds: 1714521600, nanos: 123 },
      namespace: 'default',
      topic: '/tasks/exit',
      event: packFields('containerd.events.TaskExit', { container_id: 'c3' }),
    };
    await ex.forward({}, forwarded);

    const got = await collect(all, 4);
    expect(got.map((e) => e.topic)).toEqual(['/tasks/exit', '/tasks/start', '/containers/update', '/tasks/exit']);
    expect(got.map((e) => e.event.typeUrl)).toEqual([
      'containerd.events.TaskExit',
      'containerd.events.TaskStart',
      'containerd.events.ContainerUpdate',
      'containerd.events.TaskExit',
    ]);
    expect(unpackFields(got[0]!.event).fields).toMatchObject({ container_id: 'c1', pid: 7 });
    expect(toMillis(got[0]!.timestamp)).toBeGreaterThanOrEqual(before);
    expect(got[3]).toBe(forwarded);
    expect((await collect(byTopic, 2)).map((e) => e.namespace)).toEqual(['default', 'default']);
    expect((await collect(byNamespace, 1)).map((e) => e.topic)).toEqual(['/tasks/start']);
    expect((await collect(byField, 2)).map((e) => e.topic)).toEqual(['/tasks/start', '/containers/update']);
    for (const s of [all, byTopic, byNamespace, byField]) s.close();
    expect(ex.subscriberCount).toBe(0);
  });

  it('matches numeric event fields; an unset field is absent; an unknown type has no fields', async () => {
    const ex = new Exchange();
    const byPid = ex.subscribe(['event.pid==7']);
    const withImage = ex.subscribe(['event.image']);
    await ex.forward({}, { timestamp: now(), namespace: 'n', topic: '/a', event: { typeUrl: 'example.Unknown', value: new Uint8Array() } });
    await ex.publish({ namespace: 'n' }, '/b', taskExit({ pid: 7 }));
    await ex.publish({ namespace: 'n' }, '/c', { type: 'containerd.events.ContainerCreate', fields: { id: 'x' } });
    await ex.publish({ namespace: 'n' }, '/d', { type: 'containerd.events.ContainerCreate', fields: { id: 'y', image: 'img' } });
    expect((await collect(byPid, 1)).map((e) => e.topic)).toEqual(['/b']);
    expect((await collect(withImage, 1)).map((e) => e.topic)).toEqual(['/d']);
    byPid.close();
    withImage.close();
  });

  it('never blocks a publisher on a slow subscriber, and ends a subscription on abort', async () => {
    const ex = new Exchange();
    const ac = new AbortController();
    const sub = ex.subscribe([], ac.signal);
    for (let i = 0; i < 1000; i++) await ex.publish({ namespace: 'n' }, '/burst', taskExit({ pid: i }));
    expect(await collect(sub, 1)).toHaveLength(1);
    ac.abort();
    expect(ex.subscriberCount).toBe(0);
    const rest: Envelope[] = [];
    for await (const e of sub) rest.push(e);
    expect(rest).toEqual([]);
    const done = new AbortController();
    done.abort();
    for await (const _ of ex.subscribe([], done.signal)) throw new Error('unexpected event');
  });

  it('ends a waiting iterator when closed', async () => {
    const ex = new Exchange();
    const sub = ex.subscribe();
    const it = sub[Symbol.asyncIterator]();
    const pending = it.next();
    sub.close();
    expect(await pending).toEqual({ value: undefined, done: true });
  });
});
