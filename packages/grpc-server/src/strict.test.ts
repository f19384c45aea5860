// A request body containerd's decoder would refuse is answered INTERNAL with grpc-go's text,
// by a real grpc-js server, for a unary and a server-streaming method; the handler never runs.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { Client, Metadata, Server, ServerCredentials, type ServiceError, credentials, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverStream, unary } from './service.js';
import { answerMalformed, strictRequests } from './strict.js';

const identity = (b: Buffer) => b;
const ran: string[] = [];

let dir: string;
let server: Server;
let client: Client;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grpc-strict-'));
  const sock = join(dir, 's.sock');
  server = new Server();
  // Leases/Create answered as a unary call, Leases/List (here) as a server stream: one
  // request each, so both are checked before their handler runs.
  const definition = { create: LeasesService.create, list: { ...LeasesService.list, responseStream: true } };
  const implementation = {
    create: unary((req: { id: string }) => {
      ran.push(`create ${req.id}`);
      return { lease: { id: req.id, labels: {}, createdAt: undefined } };
    }),
    list: serverStream(async (_req: unknown, _ctx, call) => {
      ran.push('list');
      call.write({ leases: [] });
    }),
  };
  server.addService(strictRequests(definition), answerMalformed(definition, implementation));
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  client = new Client(`unix://${sock}`, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

const callUnary = (path: string, body: Buffer) =>
  new Promise<{ err: ServiceError | null; res: Buffer | undefined }>((resolve) =>
    client.makeUnaryRequest(path, identity, identity, body, new Metadata(), (err, res) => resolve({ err, res })),
  );

const callStream = (path: string, body: Buffer) =>
  new Promise<{ err: ServiceError | undefined; messages: number }>((resolve) => {
    let messages = 0;
    const call = client.makeServerStreamRequest(path, identity, identity, body, new Metadata());
    call.on('data', () => messages++);
    call.on('error', (err: ServiceError) => resolve({ err, messages }));
    call.on('end', () => resolve({ err: undefined, messages }));
  });

describe('answerMalformed', () => {
  it('answers a malformed unary request INTERNAL with grpc-go text and does not run the handler', async () => {
    const { err } = await callUnary('/containerd.services.leases.v1.Leases/Create', Buffer.from('0a0569', 'hex'));
    expect(err?.code).toBe(status.INTERNAL);
    expect(err?.details).toBe('grpc: error unmarshalling request: unexpected EOF');
    expect(ran).toEqual([]);
    const ok = await callUnary('/containerd.services.leases.v1.Leases/Create', Buffer.from('0a026c31', 'hex'));
    expect(ok.err).toBeNull();
    expect(ran).toEqual(['create l1']);
  });

  it('answers a malformed server-stream request with the stream text', async () => {
    const { err, messages } = await callStream('/containerd.services.leases.v1.Leases/List', Buffer.from('0a', 'hex'));
    expect(err?.code).toBe(status.INTERNAL);
    expect(err?.details).toBe('grpc: failed to unmarshal the received message unexpected EOF');
    expect(messages).toBe(0);
    expect(ran).toEqual(['create l1']);
    const ok = await callStream('/containerd.services.leases.v1.Leases/List', Buffer.alloc(0));
    expect(ok).toEqual({ err: undefined, messages: 1 });
    expect(ran).toEqual(['create l1', 'list']);
  });

  it('keeps every handler of an implementation whose handlers are prototype methods', () => {
    const definition = { create: LeasesService.create, list: LeasesService.list, stream: { ...LeasesService.create, requestStream: true } };
    class Impl {
      create() {}
      list() {}
      stream() {}
    }
    const out = answerMalformed(definition, new Impl() as unknown as Record<string, () => void>);
    expect(Object.keys(out).sort()).toEqual(['create', 'list', 'stream']);
    expect(out.stream).toBe(Impl.prototype.stream);
  });
});

