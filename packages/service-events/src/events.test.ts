// The Events gRPC API over a real exchange: Publish stamps namespace and time, Forward
// keeps the envelope, Subscribe filters on topic, namespace and event fields and ends
// when the client cancels; errors as containerd answers them.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAny, unpackAs } from '@containerd-ts/api';
import { NamespaceCreate } from '@containerd-ts/api/events/namespace';
import { TaskExit } from '@containerd-ts/api/events/task';
import { EventsService as Api, type Envelope } from '@containerd-ts/api/services/events';
import { Connection } from '@containerd-ts/client';
import { failure } from '@containerd-ts/errdefs/testing';
import { Exchange } from '@containerd-ts/events-exchange';
import { GO_ZERO_TIME, now, toMillis } from '@containerd-ts/timestamp';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventsService } from './events.js';
import { eventsGrpcService } from './grpc.js';

let dir: string;
let server: Server;
let exchange: Exchange;
let socket: string;
const conns: Connection[] = [];
const connect = (namespace?: string) => {
  const c = new Connection(socket, namespace ? { namespace } : {});
  conns.push(c);
  return c;
};

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'service-events-'));
  exchange = new Exchange();
  server = new Server();
  const { definition, implementation } = eventsGrpcService(new EventsService(exchange));
  server.addService(definition, implementation);
  socket = join(dir, 'grpc.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
});
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

/** Subscribes and resolves once the exchange has the subscriber; `next(n)` takes n envelopes. */
async function subscribe(filters: string[]) {
  const before = exchange.subscriberCount;
  const stream = connect('default').serverStream(Api.subscribe, { filters });
  const it = stream[Symbol.asyncIterator]();
  const first = it.next();
  while (exchange.subscriberCount === before) await new Promise((r) => setTimeout(r, 5));
  let pending: Promise<IteratorResult<Envelope>> | undefined = first;
  return {
    /** Takes n envelopes, pausing `pauseMs` after every 50 (a slow reader). */
    async next(n: number, pauseMs = 0): Promise<Envelope[]> {
      const out: Envelope[] = [];
      while (out.length < n) {
        if (pauseMs > 0 && out.length % 50 === 49) await new Promise((r) => setTimeout(r, pauseMs));
        const r = await (pending ?? it.next());
        pending = undefined;
        if (r.done) break;
        out.push(r.value);
      }
      return out;
    },
    close: () => it.return?.(undefined),
  };
}

const nsCreate = (name: string, labels: Record<string, string> = {}) => packAny(NamespaceCreate, NamespaceCreate.fromPartial({ name, labels }));

describe('events service', () => {
  it('publish stamps the namespace and time; subscribers get the envelope with its Any as sent', async () => {
    const sub = await subscribe([]);
    const before = Date.now();
    await connect('team-a').unary(Api.publish, { topic: '/namespaces/create', event: nsCreate('x', { k: 'v' }) });
    const [e] = await sub.next(1);
    expect(e?.namespace).toBe('team-a');
    expect(e?.topic).toBe('/namespaces/create');
    expect(toMillis(e!.timestamp!)).toBeGreaterThanOrEqual(before - 1);
    // Stamped with nanoseconds, as containerd does.
    expect(e?.timestamp?.nanos).toBeGreaterThan(0);
    expect(e?.event?.typeUrl).toBe('containerd.events.NamespaceCreate');
    expect(unpackAs(e!.event!, NamespaceCreate)).toEqual({ name: 'x', labels: { k: 'v' } });
    await sub.close();
  });

  it('filters on topic, namespace and event fields (any filter matches)', async () => {
    const sub = await subscribe(['topic=="/tasks/exit",event.container_id==c3', 'namespace==b,event.labels.app==web']);
    const exit = (status: number) => packAny(TaskExit, TaskExit.fromPartial({ containerId: `c${status}`, exitStatus: status }));
    await connect('a').unary(Api.publish, { topic: '/tasks/exit', event: exit(1) });
    await connect('a').unary(Api.publish, { topic: '/tasks/exit', event: exit(3) });
    await connect('a').unary(Api.publish, { topic: '/namespaces/create', event: nsCreate('n1', { app: 'web' }) });
    await connect('b').unary(Api.publish, { topic: '/namespaces/create', event: nsCreate('n2', { app: 'db' }) });
    await connect('b').unary(Api.publish, { topic: '/namespaces/create', event: nsCreate('n3', { app: 'web' }) });
    const got = await sub.next(2);
    expect(got.map((e) => [e.namespace, e.topic])).toEqual([
      ['a', '/tasks/exit'],
      ['b', '/namespaces/create'],
    ]);
    expect(unpackAs(got[0]!.event!, TaskExit).exitStatus).toBe(3);
    expect(unpackAs(got[1]!.event!, NamespaceCreate).name).toBe('n3');
    await sub.close();
  });

  it('forward keeps the timestamp and namespace of the envelope', async () => {
    const sub = await subscribe(['topic~="^/tasks/"']);
    const timestamp = { seconds: 1714979289, nanos: 123_456_789 };
    const event = packAny(TaskExit, TaskExit.fromPartial({ containerId: 'c9', pid: 42 }));
    await connect('caller').unary(Api.forward, { envelope: { timestamp, namespace: 'shim-ns', topic: '/tasks/exit', event } });
    const [e] = await sub.next(1);
    expect(e).toMatchObject({ timestamp, namespace: 'shim-ns', topic: '/tasks/exit' });
    expect(unpackAs(e!.event!, TaskExit)).toMatchObject({ containerId: 'c9', pid: 42 });
    await sub.close();
  });

  it("refuses bad requests with containerd's errors", async () => {
    const c = connect('default');
    const event = nsCreate('x');
    expect(await failure(connect().unary(Api.publish, { topic: '/a', event }))).toEqual({
      kind: 'failed-precondition',
      message: 'failed publishing event: namespace is required: failed precondition',
    });
    expect(await failure(c.unary(Api.publish, { topic: 'a', event }))).toEqual({
      kind: 'invalid-argument',
      message: `envelope topic "a": must start with '/': invalid argument`,
    });
    expect(await failure(c.unary(Api.publish, { topic: '/a', event: undefined }))).toMatchObject({ kind: 'invalid-argument' });
    const base = { namespace: 'ns', topic: '/a', event };
    expect(await failure(c.unary(Api.forward, { envelope: { ...base, timestamp: undefined } }))).toEqual({
      kind: 'invalid-argument',
      message: 'timestamp must be set on forwarded event: invalid argument',
    });
    // Go clients send the zero time for an unset timestamp.
    expect(await failure(c.unary(Api.forward, { envelope: { ...base, timestamp: GO_ZERO_TIME } }))).toMatchObject({
      kind: 'invalid-argument',
    });
    expect((await failure(c.unary(Api.forward, { envelope: { ...base, namespace: '', timestamp: now() } }))).message).toMatch(
      /^event envelope has invalid namespace: /,
    );
    expect(await failure(c.unary(Api.forward, { envelope: undefined }))).toMatchObject({ kind: 'invalid-argument' });

    const bad = c.serverStream(Api.subscribe, { filters: ['topic=='] });
    const err = await failure(bad.next());
    expect(err.kind).toBe('unknown');
    expect(err.message).toMatch(/^subscription error: failed parsing subscription filters: .*invalid argument$/);
  });

  it('a slow reader gets every event in order, and a cancelled subscription leaves the exchange', async () => {
    const sub = await subscribe(['topic=="/bulk"']);
    const c = connect('default');
    const n = 100;
    const big = { k: 'x'.repeat(48000) };
    // 4.8 MB through stream windows of 64 KiB: the server waits for the reader to drain.
    const reading = sub.next(n, 2);
    for (let i = 0; i < n; i++) await c.unary(Api.publish, { topic: '/bulk', event: nsCreate(`n${i}`, big) });
    const got = await reading;
    expect(got.map((e) => unpackAs(e.event!, NamespaceCreate).name)).toEqual(Array.from({ length: n }, (_, i) => `n${i}`));
    await sub.close();
    for (let i = 0; i < 100 && exchange.subscriberCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(exchange.subscriberCount).toBe(0);
  }, 20_000);
});
