// The ttrpc events service over a real exchange and a real ttrpc socket: a forwarded
// envelope reaches subscribers as sent; bad envelopes are InvalidArgument, never a crash.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAny, unpackAs } from '@containerd-ts/api';
import { TaskExit } from '@containerd-ts/api/events/task';
import { EventsService as TtrpcEvents, type ForwardRequest } from '@containerd-ts/api/services/ttrpc-events';
import { GrpcCode } from '@containerd-ts/errdefs';
import { type Envelope, Exchange } from '@containerd-ts/events-exchange';
import { formatRFC3339Nano, mustParseRFC3339, now } from '@containerd-ts/timestamp';
import { TtrpcClient, TtrpcServer, type TtrpcStatusError, registerService, serviceClient } from '@containerd-ts/ttrpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventsService } from './events.js';
import { eventsTtrpcService } from './ttrpc.js';

let dir: string;
let exchange: Exchange;
let server: TtrpcServer;
let client: TtrpcClient;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'service-events-ttrpc-'));
  exchange = new Exchange();
  server = new TtrpcServer();
  registerService(server, eventsTtrpcService(new EventsService(exchange)));
  await server.listen(join(dir, 'events.ttrpc'));
  client = await TtrpcClient.connect(join(dir, 'events.ttrpc'));
});
afterEach(async () => {
  await client.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const exit = TaskExit.fromPartial({ containerId: 'c1', id: 'c1', pid: 1234, exitStatus: 3, exitedAt: mustParseRFC3339('2026-01-02T03:04:05.678901234Z') });

describe('containerd.services.events.ttrpc.v1.Events/Forward', () => {
  it('puts the envelope on the exchange with its namespace, topic, nanosecond timestamp and event', async () => {
    const ac = new AbortController();
    const sub = exchange.subscribe(['topic~="^/tasks/"'], ac.signal);
    const received = (async () => {
      for await (const e of sub) return e;
      return undefined;
    })();
    const events = serviceClient(client, TtrpcEvents);
    const timestamp = mustParseRFC3339('2026-05-06T07:08:09.123456789Z');
    await events.forward(
      { envelope: { timestamp, namespace: 'shim-ns', topic: '/tasks/exit', event: packAny(TaskExit, exit) } },
      { metadata: { 'containerd-namespace-ttrpc': 'shim-ns' }, timeoutMs: 5000 },
    );
    const e = (await received) as Envelope;
    ac.abort();
    expect(e.namespace).toBe('shim-ns');
    expect(e.topic).toBe('/tasks/exit');
    // the shim's nanoseconds are kept
    expect(formatRFC3339Nano(e.timestamp)).toBe('2026-05-06T07:08:09.123456789Z');
    expect(e.event.typeUrl).toBe('containerd.events.TaskExit');
    expect(unpackAs(e.event, TaskExit)).toEqual(exit);
  });

  it('answers bad envelopes with InvalidArgument and keeps serving', async () => {
    const events = serviceClient(client, TtrpcEvents);
    const good = { timestamp: now(), namespace: 'ns', topic: '/tasks/exit', event: packAny(TaskExit, exit) };
    const cases: Array<[ForwardRequest, RegExp]> = [
      [{ envelope: undefined }, /^envelope must be set: invalid argument$/],
      [{ envelope: { ...good, namespace: '' } }, /^event envelope has invalid namespace: identifier must not be empty: invalid argument$/],
      [{ envelope: { ...good, namespace: 'bad ns' } }, /^event envelope has invalid namespace: identifier "bad ns" must match/],
      [{ envelope: { ...good, topic: 'tasks' } }, /^envelope topic "tasks": must start with '\/': invalid argument$/],
      [{ envelope: { ...good, topic: '' } }, /^envelope topic "": must not be empty: invalid argument$/],
      [{ envelope: { ...good, timestamp: undefined } }, /^timestamp must be set on forwarded event: invalid argument$/],
    ];
    for (const [req, message] of cases) {
      const err = (await events.forward(req).catch((e: unknown) => e)) as TtrpcStatusError;
      expect(err.code, JSON.stringify(req)).toBe(GrpcCode.INVALID_ARGUMENT);
      expect(err.message).toMatch(message);
    }
    // a payload that is not a ForwardRequest at all: ttrpc's Internal for an undecodable payload
    const garbage = (await client.call('containerd.services.events.ttrpc.v1.Events', 'Forward', Uint8Array.of(0x0a, 0xff)).catch((e: unknown) => e)) as TtrpcStatusError;
    expect(garbage.code).toBe(GrpcCode.INTERNAL);
    expect(garbage.message).toMatch(/^ttrpc: error unmarshalling payload: /);
    // still serving on the same connection
    await expect(events.forward({ envelope: good })).resolves.toEqual({});
  });
});
