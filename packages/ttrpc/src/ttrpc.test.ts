// Our ttrpc client against our ttrpc server (and against raw frames) over real unix sockets.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateRequest, StateResponse, TaskService } from '@containerd-ts/api/runtime/task';
import { Status } from '@containerd-ts/api/types/status';
import { GrpcCode, isContainerdError, isNotFound, notFound, toGrpcStatus } from '@containerd-ts/errdefs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  MESSAGE_LENGTH_MAX,
  type TtrpcCallContext,
  TtrpcClient,
  TtrpcClosedError,
  TtrpcServer,
  TtrpcStatusError,
  isTtrpcClosed,
  registerService,
  serviceClient,
  ttrpcRequestContext,
  ttrpcService,
} from './index.js';
import { FrameParser, decodeRequest, decodeResponse, encodeFrame, encodeRequest } from './wire.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let sock: string;
const cleanups: Array<() => Promise<unknown> | unknown> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ttrpc-test-'));
  sock = join(dir, 's.sock');
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await rm(dir, { recursive: true, force: true });
});

async function serve(setup: (server: TtrpcServer) => void): Promise<TtrpcServer> {
  const server = new TtrpcServer();
  setup(server);
  await server.listen(sock);
  cleanups.push(() => server.close());
  return server;
}

async function dial(): Promise<TtrpcClient> {
  const client = await TtrpcClient.connect(sock);
  cleanups.push(() => client.close());
  return client;
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

/** A raw connection that collects the frames the server answers with. */
async function rawConnection(): Promise<{ socket: Socket; next(): Promise<{ streamId: number; type: number; body: Buffer }> }> {
  const socket = connect({ path: sock });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  cleanups.push(() => socket.destroy());
  const parser = new FrameParser();
  const frames: Array<{ streamId: number; type: number; body: Buffer }> = [];
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    for (const ev of parser.push(chunk)) {
      if (ev.kind === 'frame') frames.push({ streamId: ev.header.streamId, type: ev.header.type, body: ev.body });
    }
    while (waiters.length > 0) waiters.shift()!();
  });
  return {
    socket,
    async next() {
      while (frames.length === 0) await new Promise<void>((r) => waiters.push(r));
      return frames.shift()!;
    },
  };
}

describe('framing', () => {
  it('reassembles frames fed one byte at a time, and skips an oversized one across chunks', () => {
    const frames = [
      encodeFrame(1, 1, Buffer.from('first')),
      encodeFrame(3, 2, Buffer.alloc(0)),
      encodeFrame(0xfffffffd, 1, Buffer.alloc(70_000, 1)),
    ];
    const parser = new FrameParser();
    const seen: string[] = [];
    for (const byte of Buffer.concat(frames)) {
      for (const ev of parser.push(Buffer.of(byte))) {
        expect(ev.kind).toBe('frame');
        if (ev.kind === 'frame') seen.push(`${ev.header.streamId}/${ev.header.type}/${ev.body.length}`);
      }
    }
    expect(seen).toEqual(['1/1/5', '3/2/0', '4294967293/1/70000']);
    expect(parser.midFrame).toBe(false);

    const big = Buffer.alloc(10);
    big.writeUInt32BE(MESSAGE_LENGTH_MAX + 1, 0);
    big.writeUInt32BE(5, 4);
    big[8] = 1;
    const events = [
      ...parser.push(Buffer.concat([big, Buffer.alloc(MESSAGE_LENGTH_MAX)])),
      ...parser.push(Buffer.concat([Buffer.alloc(1), encodeFrame(7, 1, Buffer.from('next')).subarray(0, 12)])),
    ];
    expect(events).toEqual([{ kind: 'oversized', header: { length: MESSAGE_LENGTH_MAX + 1, streamId: 5, type: 1, flags: 0 } }]);
    expect(parser.midFrame).toBe(true);
    const rest = parser.push(encodeFrame(7, 1, Buffer.from('next')).subarray(12));
    expect(rest).toHaveLength(1);
    expect(rest[0]!.kind === 'frame' && rest[0]!.body.toString()).toBe('next');
  });

  it('encodes the envelopes as ttrpc does: proto3 defaults left out, metadata as repeated KeyValue', () => {
    const bytes = encodeRequest({ service: 's', method: 'm', payload: new Uint8Array(0), timeoutNano: 0n, metadata: [{ key: 'k', value: 'v' }] });
    expect([...bytes]).toEqual([0x0a, 1, 0x73, 0x12, 1, 0x6d, 0x2a, 6, 0x0a, 1, 0x6b, 0x12, 1, 0x76]);
    const withDeadline = decodeRequest(encodeRequest({ service: 's', method: 'm', payload: Uint8Array.of(1), timeoutNano: 5_000_000_000n, metadata: [] }));
    expect(withDeadline.timeoutNano).toBe(5_000_000_000n);
    expect([...withDeadline.payload]).toEqual([1]);
    // unknown fields are skipped, truncated messages refused
    expect(decodeRequest(Uint8Array.of(0x0a, 1, 0x73, 0x78, 0x01)).service).toBe('s');
    expect(() => decodeRequest(Uint8Array.of(0x0a, 5, 0x73))).toThrow();
    expect(() => decodeResponse(Uint8Array.of(0x0a, 0x02, 0x08))).toThrow();
  });
});

describe('unary calls', () => {
  it('round-trips bytes and typed messages, and answers unknown services and methods as ttrpc does', async () => {
    await serve((s) => {
      s.register('test.Echo', { Echo: (req) => enc.encode(`echo:${dec.decode(req)}`) });
      registerService(
        s,
        ttrpcService(TaskService, {
          state: (req) => StateResponse.fromPartial({ id: req.id, pid: 42, execId: req.execId, bundle: '/b' }),
          pids: () => Promise.reject(notFound('container c9')),
        }),
      );
    });
    const client = await dial();
    expect(dec.decode(await client.call('test.Echo', 'Echo', enc.encode('hi')))).toBe('echo:hi');
    expect(dec.decode(await client.call('test.Echo', 'Echo', new Uint8Array(0)))).toBe('echo:');

    const task = serviceClient(client, TaskService);
    const state = await task.state(StateRequest.fromPartial({ id: 'c1', execId: 'e1' }));
    expect(state).toMatchObject({ id: 'c1', pid: 42, execId: 'e1', bundle: '/b' });
    const viaCodecs = await client.callMessage('containerd.task.v2.Task', 'State', StateRequest.fromPartial({ id: 'c2' }), {
      request: StateRequest,
      response: StateResponse,
    });
    expect(viaCodecs.id).toBe('c2');

    const noService = await rejection(client.call('test.Nope', 'Echo', new Uint8Array(0)));
    expect(noService).toBeInstanceOf(TtrpcStatusError);
    expect((noService as TtrpcStatusError).code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(noService.message).toBe('service test.Nope');
    const noMethod = await rejection(client.call('test.Echo', 'Nope', new Uint8Array(0)));
    expect((noMethod as TtrpcStatusError).code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(noMethod.message).toBe('method Nope');
    expect(isNotFound(await rejection(task.pids({ id: 'c9' })))).toBe(true);
    // a method of the definition left out of the implementation
    const left = (await rejection(task.kill({ id: 'c1', execId: '', signal: 9, all: false }))) as TtrpcStatusError;
    expect(left.code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(left.message).toBe('method Kill');
    // inherited object keys are not methods
    expect((await rejection(client.call('test.Echo', 'toString', new Uint8Array(0))) as TtrpcStatusError).code).toBe(GrpcCode.UNIMPLEMENTED);

    // a request that does not decode as the method's message: Internal, as ttrpc answers
    const bad = await rejection(client.call('containerd.task.v2.Task', 'State', Uint8Array.of(0x0a, 0x05, 0x61)));
    expect((bad as TtrpcStatusError).code).toBe(GrpcCode.INTERNAL);
    expect(bad.message).toMatch(/^ttrpc: error unmarshalling payload: /);
  });

  it('passes errors with their gRPC codes, messages and details both ways', async () => {
    const detail = { typeUrl: 'type.googleapis.com/google.rpc.DebugInfo', value: Uint8Array.of(1, 2, 3) };
    await serve((s) =>
      s.register('test.Errors', {
        NotFound: () => Promise.reject(notFound('container c1')),
        Plain: () => {
          throw new Error('boom');
        },
        Exhausted: () => Promise.reject(new TtrpcStatusError(GrpcCode.RESOURCE_EXHAUSTED, 'too much', [detail])),
      }),
    );
    const client = await dial();
    const nf = await rejection(client.call('test.Errors', 'NotFound', new Uint8Array(0)));
    expect(isNotFound(nf)).toBe(true);
    expect(nf.message).toBe('container c1: not found');
    expect(toGrpcStatus(nf)).toEqual({ code: GrpcCode.NOT_FOUND, details: 'container c1: not found' });

    const plain = await rejection(client.call('test.Errors', 'Plain', new Uint8Array(0)));
    expect(isContainerdError(plain)).toBe(true);
    expect(toGrpcStatus(plain)).toEqual({ code: GrpcCode.UNKNOWN, details: 'boom' });

    const ex = (await rejection(client.call('test.Errors', 'Exhausted', new Uint8Array(0)))) as TtrpcStatusError;
    expect(ex.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(ex.message).toBe('too much');
    expect(ex.details).toHaveLength(1);
    expect(ex.details[0]!.typeUrl).toBe(detail.typeUrl);
    expect([...ex.details[0]!.value]).toEqual([1, 2, 3]);
    // passed on by another server, the error keeps code, message and details
    expect(toGrpcStatus(ex)).toEqual({ code: GrpcCode.RESOURCE_EXHAUSTED, details: 'too much' });
  });

  it('sends metadata with every value, and the ttrpc namespace header as the request context', async () => {
    let seen: TtrpcCallContext | undefined;
    await serve((s) =>
      s.register('test.Md', {
        Get: (_req, ctx) => {
          seen = ctx;
          return new Uint8Array(0);
        },
      }),
    );
    const client = await dial();
    await client.call('test.Md', 'Get', new Uint8Array(0), {
      metadata: { 'containerd-namespace-ttrpc': 'ns1', multi: ['a', 'b'], empty: '' },
    });
    expect(seen?.metadata).toEqual({ 'containerd-namespace-ttrpc': ['ns1'], multi: ['a', 'b'], empty: [''] });
    expect(seen?.deadline).toBeUndefined();
    expect(ttrpcRequestContext(seen!).namespace).toBe('ns1');
  });
});

describe('deadlines', () => {
  it('sends timeout_nano; the client gives up with DeadlineExceeded and the server handler is cancelled', async () => {
    let handlerSignal: AbortSignal | undefined;
    let deadline: number | undefined;
    await serve((s) =>
      s.register('test.Slow', {
        Wait: (_req, ctx) => {
          handlerSignal = ctx.signal;
          deadline = ctx.deadline;
          return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        },
        Fast: () => enc.encode('ok'),
      }),
    );
    const client = await dial();
    const started = Date.now();
    const err = await rejection(client.call('test.Slow', 'Wait', new Uint8Array(0), { timeoutMs: 150 }));
    const took = Date.now() - started;
    expect(err).toBeInstanceOf(TtrpcStatusError);
    expect((err as TtrpcStatusError).code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    expect(err.message).toBe('context deadline exceeded');
    expect(took).toBeGreaterThanOrEqual(140);
    expect(took).toBeLessThan(1000);
    expect(deadline! - started).toBeGreaterThan(100);
    expect(deadline! - started).toBeLessThan(400);
    await sleep(50);
    expect(handlerSignal?.aborted).toBe(true);
    expect((handlerSignal!.reason as TtrpcStatusError).code).toBe(GrpcCode.DEADLINE_EXCEEDED);
    // the late answer for the timed-out stream is dropped; the connection still works
    expect(dec.decode(await client.call('test.Slow', 'Fast', new Uint8Array(0), { timeoutMs: 1000 }))).toBe('ok');
  });

  it('an aborted signal rejects with Canceled', async () => {
    await serve((s) => s.register('test.Slow', { Wait: () => new Promise(() => {}) }));
    const client = await dial();
    const ac = new AbortController();
    const p = client.call('test.Slow', 'Wait', new Uint8Array(0), { signal: ac.signal });
    ac.abort();
    const err = (await rejection(p)) as TtrpcStatusError;
    expect(err.code).toBe(GrpcCode.CANCELLED);
  });
});

describe('concurrency', () => {
  it('runs 100 calls at once on one connection, answered out of order, each to its caller', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    await serve((s) =>
      s.register('test.Echo', {
        Echo: async (req) => {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          const n = Number(dec.decode(req));
          await sleep((n * 7) % 50);
          inFlight--;
          return enc.encode(String(n * 2));
        },
      }),
    );
    const client = await dial();
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => client.call('test.Echo', 'Echo', enc.encode(String(i)))));
    expect(answers.map((a) => Number(dec.decode(a)))).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
    expect(maxInFlight).toBe(100);
  });

  it('uses odd, increasing stream ids', async () => {
    const ids: number[] = [];
    const raw = createServer((s) => {
      const parser = new FrameParser();
      s.on('data', (chunk: Buffer) => {
        for (const ev of parser.push(chunk)) {
          if (ev.kind !== 'frame') continue;
          ids.push(ev.header.streamId);
          expect(ev.header.type).toBe(1);
          const req = decodeRequest(ev.body);
          s.write(encodeFrame(ev.header.streamId, 2, Buffer.from(encodeRequestEcho(req.payload))));
        }
      });
    });
    await new Promise<void>((r) => raw.listen(sock, r));
    cleanups.push(() => new Promise((r) => raw.close(r)));
    const client = await dial();
    for (let i = 0; i < 3; i++) await client.call('s', 'm', enc.encode('x'));
    await Promise.all([client.call('s', 'm', enc.encode('y')), client.call('s', 'm', enc.encode('z'))]);
    expect(ids).toEqual([1, 3, 5, 7, 9]);
  });
});

/** A Response{payload} by hand, for the raw server above. */
function encodeRequestEcho(payload: Uint8Array): Uint8Array {
  return Uint8Array.of(0x12, payload.length, ...payload);
}

describe('message size', () => {
  it('refuses to send a request over 4 MiB with ResourceExhausted, and the connection stays usable', async () => {
    await serve((s) => s.register('test.Echo', { Echo: (req) => req }));
    const client = await dial();
    const err = (await rejection(client.call('test.Echo', 'Echo', new Uint8Array(MESSAGE_LENGTH_MAX)))) as TtrpcStatusError;
    expect(err.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(err.message).toMatch(/^message length \d+ exceed maximum message size of 4194304$/);
    const big = new Uint8Array(MESSAGE_LENGTH_MAX - 64).fill(7);
    expect((await client.call('test.Echo', 'Echo', big)).length).toBe(big.length);
  });

  it('the server discards an oversized frame, answers ResourceExhausted on its stream and keeps serving', async () => {
    await serve((s) => s.register('test.Echo', { Echo: (req) => req }));
    const conn = await rawConnection();
    const length = MESSAGE_LENGTH_MAX + 1;
    const header = Buffer.alloc(10);
    header.writeUInt32BE(length, 0);
    header.writeUInt32BE(7, 4);
    header[8] = 1;
    conn.socket.write(header);
    // the body arrives in pieces, as on a real socket
    for (let sent = 0; sent < length; sent += 1 << 20) conn.socket.write(Buffer.alloc(Math.min(1 << 20, length - sent), 0xff));
    const refused = await conn.next();
    expect(refused.streamId).toBe(7);
    expect(refused.type).toBe(2);
    const st = decodeResponse(refused.body).status!;
    expect(st.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(st.message).toBe(`message length ${length} exceed maximum message size of 4194304`);
    conn.socket.write(encodeFrame(9, 1, encodeRequest({ service: 'test.Echo', method: 'Echo', payload: enc.encode('after'), timeoutNano: 0n, metadata: [] })));
    const after = await conn.next();
    expect(after.streamId).toBe(9);
    expect(dec.decode(decodeResponse(after.body).payload)).toBe('after');
  });

  it('a response over 4 MiB reaches the client as ResourceExhausted', async () => {
    await serve((s) => s.register('test.Big', { Big: () => new Uint8Array(MESSAGE_LENGTH_MAX + 10) }));
    const client = await dial();
    const err = (await rejection(client.call('test.Big', 'Big', new Uint8Array(0)))) as TtrpcStatusError;
    expect(err.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
  });
});

describe('malformed requests', () => {
  it('answers an even stream id and an undecodable request with InvalidArgument on that stream', async () => {
    await serve((s) => s.register('test.Echo', { Echo: (req) => req }));
    const conn = await rawConnection();
    conn.socket.write(encodeFrame(2, 1, encodeRequest({ service: 'test.Echo', method: 'Echo', payload: new Uint8Array(0), timeoutNano: 0n, metadata: [] })));
    const even = await conn.next();
    expect(even.streamId).toBe(2);
    expect(decodeResponse(even.body).status).toEqual(Status.fromPartial({ code: GrpcCode.INVALID_ARGUMENT, message: 'StreamID must be odd for client initiated streams' }));
    conn.socket.write(encodeFrame(3, 1, Buffer.from([0x0a, 0x10, 0x61])));
    const garbage = await conn.next();
    expect(garbage.streamId).toBe(3);
    const st = decodeResponse(garbage.body).status!;
    expect(st.code).toBe(GrpcCode.INVALID_ARGUMENT);
    expect(st.message).toMatch(/^unmarshal request error: /);
    // a known field with the wrong wire type is refused too
    conn.socket.write(encodeFrame(5, 1, Buffer.from([0x08, 0x01])));
    expect(decodeResponse((await conn.next()).body).status?.code).toBe(GrpcCode.INVALID_ARGUMENT);
    // data frames (newer ttrpc streaming) are ignored; the next request is served
    conn.socket.write(encodeFrame(7, 3, Buffer.from('ignored')));
    conn.socket.write(encodeFrame(9, 1, encodeRequest({ service: 'test.Echo', method: 'Echo', payload: enc.encode('ok'), timeoutNano: 0n, metadata: [] })));
    const ok = await conn.next();
    expect(ok.streamId).toBe(9);
    expect(dec.decode(decodeResponse(ok.body).payload)).toBe('ok');
  });
});

describe('closing', () => {
  it('server close mid-call: the call rejects as closed, the client reports close, the handler is cancelled, the socket file is gone', async () => {
    let handlerSignal: AbortSignal | undefined;
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    const server = await serve((s) =>
      s.register('test.Hang', {
        Hang: (_req, ctx) => {
          handlerSignal = ctx.signal;
          entered();
          return new Promise(() => {});
        },
      }),
    );
    const client = await dial();
    const closed = new Promise<Error | undefined>((r) => client.once('close', r));
    const call = rejection(client.call('test.Hang', 'Hang', new Uint8Array(0)));
    await inHandler;
    expect(existsSync(sock)).toBe(true);
    await server.close();
    const err = await call;
    expect(err).toBeInstanceOf(TtrpcClosedError);
    expect(isTtrpcClosed(err)).toBe(true);
    expect(err.message).toBe('ttrpc: closed');
    await closed;
    expect(client.closed).toBe(true);
    expect(handlerSignal?.aborted).toBe(true);
    expect(existsSync(sock)).toBe(false);
    expect(isTtrpcClosed(await rejection(client.call('test.Hang', 'Hang', new Uint8Array(0))))).toBe(true);
    await expect(TtrpcClient.connect(sock, { timeoutMs: 1000 })).rejects.toMatchObject({ code: GrpcCode.UNAVAILABLE });
  });

  it('client close: pending and later calls reject as closed, and the server cancels the handler', async () => {
    let handlerSignal: AbortSignal | undefined;
    let entered: () => void = () => {};
    const inHandler = new Promise<void>((r) => {
      entered = r;
    });
    await serve((s) =>
      s.register('test.Hang', {
        Hang: (_req, ctx) => {
          handlerSignal = ctx.signal;
          entered();
          return new Promise(() => {});
        },
      }),
    );
    const client = await dial();
    let closeEvents = 0;
    client.on('close', () => closeEvents++);
    const call = rejection(client.call('test.Hang', 'Hang', new Uint8Array(0)));
    await inHandler;
    await client.close();
    expect(isTtrpcClosed(await call)).toBe(true);
    expect(isTtrpcClosed(await rejection(client.call('test.Hang', 'Hang', new Uint8Array(0))))).toBe(true);
    await client.close();
    expect(closeEvents).toBe(1);
    for (let i = 0; i < 50 && !handlerSignal?.aborted; i++) await sleep(10);
    expect(handlerSignal?.aborted).toBe(true);
  });

  it('listen refuses a path that exists; register refuses a service twice', async () => {
    await writeFile(sock, '');
    const server = new TtrpcServer();
    cleanups.push(() => server.close());
    await expect(server.listen(sock)).rejects.toThrow(/failed to listen on .*s\.sock: .*EADDRINUSE/);
    server.register('a.B', {});
    expect(() => server.register('a.B', {})).toThrow('duplicate service a.B registered');
  });
});
