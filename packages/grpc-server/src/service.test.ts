import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { notFound } from '@containerd-ts/errdefs';
import { Client, Metadata, Server, ServerCredentials, type ServiceError, credentials } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcService, serverStream, unary } from './service.js';

type Seen = { namespace?: string | undefined; signal: AbortSignal };
/** Contexts the `wait` and `keep` handlers saw, by request. */
const seen = new Map<string, Seen>();
/** Resolves with the abort reason once the `wait` handler's signal fires. */
const aborted = new Map<string, Promise<unknown>>();

// A hand-made method definition: string in, string out.
const codec = {
  path: '/test.v1.Echo/Echo',
  requestStream: false,
  responseStream: false,
  requestSerialize: (s: string) => Buffer.from(s),
  requestDeserialize: (b: Buffer) => b.toString(),
  responseSerialize: (s: string) => Buffer.from(s),
  responseDeserialize: (b: Buffer) => b.toString(),
} as const;

const streamCodec = { ...codec, path: '/test.v1.Echo/Stream', responseStream: true } as const;

let server: Server;
let client: Client;
let dir: string;
let sock: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'grpcsrv-'));
  sock = join(dir, 's.sock');
  server = new Server();
  const reg = grpcService(
    { echo: codec },
    {
      echo: unary((req: string, ctx) => {
        if (req === 'missing') throw notFound('thing missing');
        if (req === 'crash') throw new TypeError('boom');
        return `${req} ns=${ctx.namespace ?? ''} lease=${ctx.lease ?? ''}`;
      }),
    },
  );
  server.addService(reg.definition, reg.implementation);
  const signals = grpcService(
    { wait: { ...codec, path: '/test.v1.Echo/Wait' }, keep: { ...codec, path: '/test.v1.Echo/Keep' } },
    {
      // Reads the signal at once and answers only when it fires (the client cancels).
      wait: unary((req: string, ctx) => {
        const signal = ctx.signal;
        seen.set(req, ctx);
        aborted.set(req, new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true })));
        return new Promise<string>(() => {});
      }),
      // Keeps the context without reading the signal.
      keep: unary((req: string, ctx) => {
        seen.set(req, ctx);
        return req;
      }),
    },
  );
  server.addService(signals.definition, signals.implementation);
  const streams = grpcService(
    { stream: streamCodec },
    {
      stream: serverStream(async (req: string, _ctx, call) => {
        call.write('first');
        if (req === 'fail') throw notFound('stream source');
        call.write('second');
      }),
    },
  );
  server.addService(streams.definition, streams.implementation);
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${sock}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  client = new Client(`unix://${sock}`, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  server.forceShutdown();
  await rm(dir, { recursive: true, force: true });
});

const call = (req: string, md = new Metadata()) =>
  new Promise<string>((resolve, reject) =>
    client.makeUnaryRequest(codec.path, codec.requestSerialize, codec.responseDeserialize, req, md, (err, res) =>
      err ? reject(err) : resolve(res as string),
    ),
  );

describe('unary wrapper', () => {
  it('passes the namespace and lease headers as the request context', async () => {
    const md = new Metadata();
    md.set('containerd-namespace', 'k8s.io');
    md.set('containerd-lease', 'l1');
    expect(await call('hi', md)).toBe('hi ns=k8s.io lease=l1');
  });
  it('maps errdefs errors to their gRPC code and message', async () => {
    const err = (await call('missing').catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(5);
    expect(err.details).toBe('thing missing: not found');
  });
  it('answers Unknown for unclassified errors and keeps serving', async () => {
    const err = (await call('crash').catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(2);
    expect(err.details).toBe('boom');
    expect(await call('again')).toBe('again ns= lease=');
  });
});

describe("the request's abort signal", () => {
  it('fires when the client cancels a call whose handler waits on it', async () => {
    const pending = client.makeUnaryRequest('/test.v1.Echo/Wait', codec.requestSerialize, codec.responseDeserialize, 'w1', new Metadata(), () => {});
    for (let i = 0; i < 100 && !aborted.has('w1'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seen.get('w1')?.signal.aborted).toBe(false);
    pending.cancel();
    expect(await aborted.get('w1')).toEqual(new Error('client cancelled the call'));
  });
  it('is aborted when first read after the call ended, also in a copy of the context', async () => {
    const md = new Metadata();
    md.set('containerd-namespace', 'ns1');
    const answer = await new Promise<string>((resolve, reject) =>
      client.makeUnaryRequest('/test.v1.Echo/Keep', codec.requestSerialize, codec.responseDeserialize, 'k1', md, (err, res) => (err ? reject(err) : resolve(res as string))),
    );
    expect(answer).toBe('k1');
    const ctx = seen.get('k1')!;
    for (let i = 0; i < 100 && !ctx.signal.aborted; i++) await new Promise((r) => setTimeout(r, 10));
    const copy = { ...ctx };
    expect(copy.namespace).toBe('ns1');
    expect(copy.signal).toBe(ctx.signal);
    expect(copy.signal.aborted).toBe(true);
  });
});

describe('serverStream wrapper', () => {
  const collect = (req: string) =>
    new Promise<{ items: string[]; error?: ServiceError }>((resolve) => {
      const items: string[] = [];
      const stream = client.makeServerStreamRequest(streamCodec.path, streamCodec.requestSerialize, streamCodec.responseDeserialize, req, new Metadata());
      stream.on('data', (d: string) => items.push(d));
      stream.on('error', (error: ServiceError) => resolve({ items, error }));
      stream.on('end', () => resolve({ items }));
    });
  it('ends the stream when the handler resolves', async () => {
    expect(await collect('ok')).toEqual({ items: ['first', 'second'] });
  });
  it('sends the error status to the client when the handler throws', async () => {
    const { items, error } = await collect('fail');
    expect(items).toEqual(['first']);
    expect(error?.code).toBe(5);
    expect(error?.details).toBe('stream source: not found');
  });
});

describe('response headers', () => {
  /** The headers of one raw HTTP/2 request to the server: a gRPC message `body`, or none. */
  async function headersOf(path: string, contentType: string, body: string): Promise<http2.IncomingHttpHeaders> {
    const session = http2.connect('http://localhost', { createConnection: () => netConnect(sock) });
    try {
      const req = session.request({ ':method': 'POST', ':path': path, 'content-type': contentType, te: 'trailers' });
      const msg = Buffer.from(body);
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      req.end(frame);
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
        req.once('response', resolve);
        req.once('error', reject);
      });
      req.resume();
      await new Promise((r) => req.once('close', r));
      return headers;
    } finally {
      session.close();
    }
  }

  // Go's gRPC server sends no Date header, and node formatting one loads ICU's time zone data.
  it('carry no Date header, on answers, errors, unknown methods and refused content types', async () => {
    const ok = await headersOf(codec.path, 'application/grpc', 'hi');
    expect(ok[':status']).toBe(200);
    expect(ok['content-type']).toBe('application/grpc+proto');
    const failed = await headersOf(codec.path, 'application/grpc', 'missing');
    expect(failed['grpc-status']).toBe('5');
    const unknown = await headersOf('/test.v1.Echo/Nope', 'application/grpc', 'x');
    expect(unknown['grpc-status']).toBe('12');
    const refused = await headersOf(codec.path, 'text/plain', 'x');
    expect(refused[':status']).toBe(415);
    for (const h of [ok, failed, unknown, refused]) expect(h.date).toBeUndefined();
  });
});

describe('grpc-js as patched here', () => {
  it('loads zlib and dns only when a call needs them, not when it is imported (http2 loads http itself)', () => {
    const loaded = execFileSync(
      process.execPath,
      ['-e', "require('@grpc/grpc-js'); console.log(['zlib','dns'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m)).join(',') || 'none')"],
      { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' },
    );
    expect(loaded.trim()).toBe('none');
  });

  it('answers gzip- and deflate-compressed requests in kind', async () => {
    for (const algorithm of [1, 2]) {
      const compressing = new Client(`unix://${sock}`, credentials.createInsecure(), { 'grpc.default_compression_algorithm': algorithm });
      try {
        const big = 'x'.repeat(4096);
        const answer = await new Promise<string>((resolve, reject) =>
          compressing.makeUnaryRequest(codec.path, codec.requestSerialize, codec.responseDeserialize, big, new Metadata(), (err, res) =>
            err ? reject(err) : resolve(res as string),
          ),
        );
        expect(answer).toBe(`${big} ns= lease=`);
      } finally {
        compressing.close();
      }
    }
  });
});
