// Per-call context of Connection: namespace/lease headers and cancellation, against a
// real grpc-js server on a unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKind } from '@containerd-ts/errdefs';
import { type Metadata, type MethodDefinition, Server, ServerCredentials, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from './connection.js';

const identity = (b: Buffer) => b;
const echo: MethodDefinition<Buffer, Buffer> = {
  path: '/test.Echo/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: identity,
  requestDeserialize: identity,
  responseSerialize: identity,
  responseDeserialize: identity,
};

let dir: string;
let socket: string;
let server: Server;
const seen: Metadata[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'client-'));
  socket = join(dir, 's.sock');
  server = new Server();
  server.addService(
    { echo },
    {
      echo: (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => {
        seen.push(call.metadata);
        // "hang" never answers: the client has to cancel.
        if (call.request.toString() !== 'hang') cb(null, call.request);
      },
    },
  );
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
});
afterAll(async () => {
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

describe('Connection', () => {
  it('sends the call context namespace and lease over the connection defaults', async () => {
    const conn = new Connection(socket, { namespace: 'default', lease: 'l0' });
    try {
      await conn.ready({ timeoutMs: 2000 });
      expect(conn.state()).toBe('ready');
      await conn.unary(echo, Buffer.from('a'));
      await conn.unary(echo, Buffer.from('b'), { namespace: 'other', lease: 'l1' });
      const headers = seen.slice(-2).map((md) => [md.get('containerd-namespace')[0], md.get('containerd-lease')[0]]);
      expect(headers).toEqual([
        ['default', 'l0'],
        ['other', 'l1'],
      ]);
    } finally {
      conn.close();
    }
  });

  it('cancels a call in flight when its signal aborts', async () => {
    const conn = new Connection(socket);
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const err = await conn.unary(echo, Buffer.from('hang'), { signal: controller.signal }).catch((e: unknown) => e);
      expect(isKind(err, 'canceled')).toBe(true);
      expect((err as Error).message).toBe('context canceled');
    } finally {
      conn.close();
    }
  });

  it('ready() gives up after its timeout when nothing listens', async () => {
    const conn = new Connection(join(dir, 'missing.sock'));
    try {
      await expect(conn.ready({ timeoutMs: 200 })).rejects.toThrow(/timed out waiting for the connection/);
    } finally {
      conn.close();
    }
  });
});
