// The gRPC unix listener against raw sockets, Node's HTTP/2 client and a real grpc-js
// client: fatal HTTP/2 errors close the connection at once; with the server's keepalive, a
// peer stuck mid-frame or one that never answers a ping is closed, while idle clients that
// answer and long streams are left alone; calls in progress are counted; 1,000
// simultaneous connects are all accepted.
import { mkdtemp, rm } from 'node:fs/promises';
import { connect as connectHttp2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Client,
  credentials,
  Metadata,
  Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GrpcUnixListener, listenGrpcUnix } from './connections.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
function frame(type: number, flags: number, stream: number, payload: Buffer, announced = payload.length): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(announced, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
const SETTINGS = frame(0x4, 0, 0, Buffer.alloc(0));
const SETTINGS_ACK = frame(0x4, 0x1, 0, Buffer.alloc(0));

const identity = (b: Buffer) => b;
const service = {
  echo: {
    path: '/test.Test/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
  ticks: {
    path: '/test.Test/Ticks',
    requestStream: false,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** Resolves with how long the server took to close `bytes`' connection, or undefined when still open after `waitMs`. */
function closedWithin(path: string, bytes: Buffer, waitMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ path });
    const started = performance.now();
    const timer = setTimeout(() => {
      sock.removeAllListeners('close');
      sock.destroy();
      resolve(undefined);
    }, waitMs);
    sock.on('error', () => {});
    sock.on('data', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - started);
    });
    sock.write(bytes);
  });
}

describe('gRPC unix listener', () => {
  let dir = '';
  let path = '';
  let server: Server;
  let listener: GrpcUnixListener;
  const KEEPALIVE_MS = 1000;
  const KEEPALIVE_TIMEOUT_MS = 1000;
  /** When a connection that stops answering is closed at the latest. */
  const DEADLINE_MS = 2 * KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS + 500;
  let activity = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-conn-'));
    path = join(dir, 'grpc.sock');
    server = new Server({ 'grpc.keepalive_time_ms': KEEPALIVE_MS, 'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS });
    server.addService(service, {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, call.request),
      ticks: (call: ServerWritableStream<Buffer, Buffer>) => {
        const timer = setInterval(() => call.write(Buffer.from('tick')), 200);
        call.on('cancelled', () => clearInterval(timer));
      },
    });
    listener = await listenGrpcUnix(server, path, { onActivity: () => activity++ });
  });
  afterAll(async () => {
    server.forceShutdown();
    await listener.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a SETTINGS frame of length 5', Buffer.concat([PREFACE, frame(0x4, 0, 0, Buffer.alloc(5))])],
    ['a DATA frame on stream 0', Buffer.concat([PREFACE, SETTINGS, frame(0x0, 0, 0, Buffer.from('hello'))])],
    ['a HEADERS frame with bad HPACK', Buffer.concat([PREFACE, SETTINGS, frame(0x1, 0x5, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f, 0x00]))])],
    ['a frame header announcing 16 MB', Buffer.concat([PREFACE, SETTINGS, frame(0x0, 0, 1, Buffer.alloc(0), 0xffffff)])],
  ])('closes the connection within 1 s after %s', async (_name, bytes) => {
    const ms = await closedWithin(path, bytes, 5000);
    expect(ms).toBeDefined();
    expect(ms).toBeLessThan(1000);
  });

  it('keeps an idle connection open while it answers pings', async () => {
    const client = connectHttp2(`http://localhost`, { createConnection: () => connect({ path }) });
    client.on('error', () => {});
    let closed = false;
    client.on('close', () => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, DEADLINE_MS + 1000));
    expect(closed).toBe(false);
    client.close();
  });

  it('closes a connection that never answers a ping', async () => {
    const ms = await closedWithin(path, Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK]), DEADLINE_MS + 2000);
    expect(ms).toBeDefined();
    expect(ms).toBeGreaterThanOrEqual(KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS);
  });

  it('closes a connection whose peer stops in the middle of a frame', async () => {
    const half = frame(0x6, 0, 0, Buffer.alloc(4), 8); // a PING missing half its payload
    const ms = await closedWithin(path, Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK, half]), DEADLINE_MS + 2000);
    expect(ms).toBeDefined();
    expect(ms).toBeGreaterThanOrEqual(KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS - 50);
    expect(ms).toBeLessThan(DEADLINE_MS);
  });

  it('serves calls, counts them while they last, and a long server stream keeps receiving past the keepalive', async () => {
    const client = new Client(`unix://${path}`, credentials.createInsecure());
    try {
      const before = activity;
      const echoed = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest('/test.Test/Echo', identity, identity, Buffer.from('ping'), new Metadata(), (err, res) =>
          err || !res ? reject(err) : resolve(res),
        ),
      );
      expect(echoed.toString()).toBe('ping');
      // The server side of the call closes around the time the answer arrives.
      for (let i = 0; i < 200 && listener.activeCalls() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(listener.activeCalls()).toBe(0);
      // a start and an end
      expect(activity - before).toBe(2);
      const call = client.makeServerStreamRequest('/test.Test/Ticks', identity, identity, Buffer.alloc(0), new Metadata());
      const arrivals: number[] = [];
      const started = performance.now();
      call.on('data', () => arrivals.push(performance.now() - started));
      call.on('error', () => {});
      await new Promise((r) => setTimeout(r, DEADLINE_MS + 1000));
      expect(listener.activeCalls()).toBe(1);
      call.cancel();
      for (let i = 0; i < 200 && listener.activeCalls() > 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(listener.activeCalls()).toBe(0);
      expect(arrivals.length).toBeGreaterThan(10);
      expect(arrivals.at(-1)).toBeGreaterThan(DEADLINE_MS + 500);
    } finally {
      client.close();
    }
  });

  it('accepts 1,000 simultaneous connections (containerd backlog)', async () => {
    const sockets: Socket[] = [];
    const results = await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<string>((resolve) => {
            const sock = connect({ path });
            sockets.push(sock);
            sock.once('connect', () => resolve('ok'));
            sock.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
          }),
      ),
    );
    for (const s of sockets) s.destroy();
    const failures = results.filter((r) => r !== 'ok');
    expect(failures).toEqual([]);
  });
});
