// The guarded gRPC listener against raw sockets and a real grpc-js client: fatal HTTP/2
// errors close the connection at once, a peer stuck mid-frame is closed, idle connections
// and long streams are left alone, and 1,000 simultaneous connects are all accepted.
import { mkdtemp, rm } from 'node:fs/promises';
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
import { FrameTracker, type GrpcUnixListener, listenGrpcUnix } from './connections.js';

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

describe('FrameTracker', () => {
  it('finds the error code of a GOAWAY however the bytes are split', () => {
    const goaway = Buffer.alloc(8);
    goaway.writeUInt32BE(7, 0);
    goaway.writeUInt32BE(6, 4);
    const bytes = Buffer.concat([SETTINGS, frame(0x0, 0, 1, Buffer.alloc(100, 7)), frame(0x7, 0, 0, Buffer.concat([goaway, Buffer.from('debug')]))]);
    for (const size of [1, 3, 9, 10, 64, bytes.length]) {
      const codes: number[] = [];
      const tracker = new FrameTracker(0, (code) => codes.push(code));
      for (let i = 0; i < bytes.length; i += size) tracker.push(bytes.subarray(i, i + size));
      expect(codes).toEqual([6]);
      expect(tracker.midFrame).toBe(false);
    }
  });

  it('reports the frames of calls (HEADERS, DATA, RST_STREAM), not the connection\'s own', () => {
    const bytes = Buffer.concat([
      PREFACE,
      SETTINGS,
      frame(0x6, 0, 0, Buffer.alloc(8)), // PING
      frame(0x8, 0, 0, Buffer.alloc(4)), // WINDOW_UPDATE
      frame(0x1, 0x4, 1, Buffer.alloc(12)), // HEADERS
      frame(0x0, 0x1, 1, Buffer.alloc(30)), // DATA
      frame(0x8, 0, 1, Buffer.alloc(4)),
      frame(0x3, 0, 1, Buffer.alloc(4)), // RST_STREAM
      SETTINGS_ACK,
    ]);
    for (const size of [1, 7, bytes.length]) {
      let calls = 0;
      const tracker = new FrameTracker(PREFACE.length, undefined, () => calls++);
      for (let i = 0; i < bytes.length; i += size) tracker.push(bytes.subarray(i, i + size));
      expect(calls).toBe(3);
    }
  });

  it('knows when the bytes so far end inside a frame', () => {
    const tracker = new FrameTracker(PREFACE.length);
    tracker.push(PREFACE.subarray(0, 5));
    expect(tracker.midFrame).toBe(true);
    tracker.push(PREFACE.subarray(5));
    expect(tracker.midFrame).toBe(false);
    const data = frame(0x0, 0, 1, Buffer.alloc(20));
    tracker.push(data.subarray(0, 4));
    expect(tracker.midFrame).toBe(true);
    tracker.push(data.subarray(4, 15));
    expect(tracker.midFrame).toBe(true);
    tracker.push(data.subarray(15));
    expect(tracker.midFrame).toBe(false);
  });
});

describe('guarded gRPC unix listener', () => {
  let dir = '';
  let path = '';
  let server: Server;
  let listener: GrpcUnixListener;
  const STALL_MS = 1500;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'daemon-conn-'));
    path = join(dir, 'grpc.sock');
    server = new Server();
    server.addService(service, {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>) => callback(null, call.request),
      ticks: (call: ServerWritableStream<Buffer, Buffer>) => {
        const timer = setInterval(() => call.write(Buffer.from('tick')), 200);
        call.on('cancelled', () => clearInterval(timer));
      },
    });
    listener = await listenGrpcUnix(server, path, { stallMs: STALL_MS });
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

  it('keeps an idle connection open', async () => {
    expect(await closedWithin(path, Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK]), STALL_MS + 2000)).toBeUndefined();
  });

  it('closes a connection whose peer stops in the middle of a frame, not before', async () => {
    const half = frame(0x6, 0, 0, Buffer.alloc(4), 8); // a PING missing half its payload
    const ms = await closedWithin(path, Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK, half]), STALL_MS + 3000);
    expect(ms).toBeDefined();
    expect(ms).toBeGreaterThanOrEqual(STALL_MS - 50);
    expect(ms).toBeLessThan(STALL_MS + 1500);
  });

  it('serves calls, and a long server stream keeps receiving past the stall time', async () => {
    const client = new Client(`unix://${path}`, credentials.createInsecure());
    try {
      const echoed = await new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest('/test.Test/Echo', identity, identity, Buffer.from('ping'), new Metadata(), (err, res) =>
          err || !res ? reject(err) : resolve(res),
        ),
      );
      expect(echoed.toString()).toBe('ping');
      const call = client.makeServerStreamRequest('/test.Test/Ticks', identity, identity, Buffer.alloc(0), new Metadata());
      const arrivals: number[] = [];
      const started = performance.now();
      call.on('data', () => arrivals.push(performance.now() - started));
      call.on('error', () => {});
      await new Promise((r) => setTimeout(r, STALL_MS + 2000));
      call.cancel();
      expect(arrivals.length).toBeGreaterThan(10);
      expect(arrivals.at(-1)).toBeGreaterThan(STALL_MS + 1500);
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
