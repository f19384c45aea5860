// The content API end to end in one process: the real plugins (local store, native
// snapshotter, metadata, exchange, content-service, content gRPC) initialised by the
// plugin registry, served by grpc-js on a unix socket and called with the typed client.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ContentService,
  WriteAction,
  type WriteContentRequest,
  type WriteContentResponse,
} from '@containerd-ts/api/services/content';
import { Connection } from '@containerd-ts/client';
import { type ContentStore, EMPTY_DIGEST, writeBlob } from '@containerd-ts/content';
import contentPlugin from '@containerd-ts/content-local';
import { GrpcCode } from '@containerd-ts/errdefs';
import exchangePlugin, { type Envelope, type Exchange } from '@containerd-ts/events-exchange';
import type { GrpcServicePlugin } from '@containerd-ts/grpc-server';
import metadataPlugin from '@containerd-ts/metadata-level';
import { type Logger, PluginRegistry } from '@containerd-ts/plugin';
import nativePlugin from '@containerd-ts/snapshotter-native';
import { type ClientDuplexStream, Metadata, Server, ServerCredentials, type ServiceError } from '@grpc/grpc-js';
import { toMillis } from '@containerd-ts/timestamp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GO_ZERO_TIME, contentGrpcPlugin, contentServicePlugin, goQuote } from './index.js';

const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };
const sha = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const MiB = 1 << 20;

interface Env {
  socket: string;
  store: ContentStore;
  exchange: Exchange;
  connect(namespace?: string): Connection;
  close(): Promise<void>;
}

async function startEnv(serverOptions: Record<string, number> = {}): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), 'service-content-'));
  const registry = new PluginRegistry({
    definitions: [contentPlugin, nativePlugin, metadataPlugin, exchangePlugin, contentServicePlugin, contentGrpcPlugin],
    daemon: { root: join(dir, 'root'), state: join(dir, 'state'), address: '', ttrpcAddress: '', version: '', revision: '' },
    log,
  });
  await registry.initAll();
  for (const p of registry.list()) expect([`${p.type}.${p.id}`, p.status, p.error?.message]).toEqual([`${p.type}.${p.id}`, 'ok', undefined]);
  const server = new Server({
    'grpc.max_receive_message_length': 16 * MiB,
    'grpc.max_send_message_length': 16 * MiB,
    ...serverOptions,
  });
  for (const s of (registry.getByID('io.containerd.grpc.v1', 'content') as GrpcServicePlugin).services) {
    server.addService(s.definition, s.implementation);
  }
  const socket = join(dir, 'content.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  const connections: Connection[] = [];
  return {
    socket,
    store: registry.getByID('io.containerd.service.v1', 'content-service'),
    exchange: registry.get('io.containerd.event.v1'),
    connect(namespace = 'testing') {
      const conn = new Connection(socket, namespace ? { namespace } : {});
      connections.push(conn);
      return conn;
    },
    async close() {
      for (const c of connections) c.close();
      server.forceShutdown();
      await registry.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Write stream driven step by step, with the raw gRPC status at the end. */
class WriteSession {
  readonly call: ClientDuplexStream<WriteContentRequest, WriteContentResponse>;
  readonly #responses: WriteContentResponse[] = [];
  #waiting: (() => void) | undefined;
  readonly ended: Promise<{ code: number; details: string }>;

  constructor(conn: Connection) {
    this.call = conn.bidiStream(ContentService.write);
    this.call.on('data', (msg: WriteContentResponse) => {
      this.#responses.push(msg);
      this.#waiting?.();
    });
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s: { code: number; details: string }) => resolve({ code: s.code, details: s.details }));
      this.call.on('error', (err: ServiceError) => resolve({ code: err.code, details: err.details }));
    });
  }

  send(req: Partial<WriteContentRequest>): void {
    this.call.write({ action: WriteAction.STAT, ref: '', total: 0, expected: '', offset: 0, data: new Uint8Array(), labels: {}, ...req });
  }

  async next(): Promise<WriteContentResponse | { code: number; details: string }> {
    for (;;) {
      const msg = this.#responses.shift();
      if (msg) return msg;
      const end = await Promise.race([this.ended, new Promise<undefined>((resolve) => (this.#waiting = () => resolve(undefined)))]);
      if (end && this.#responses.length === 0) return end;
    }
  }

  async roundTrip(req: Partial<WriteContentRequest>): Promise<WriteContentResponse> {
    this.send(req);
    const res = await this.next();
    if ('code' in res) throw new Error(`stream ended with ${res.code}: ${res.details}`);
    return res;
  }

  /** Everything left: the remaining responses and the status. */
  async finish(): Promise<{ responses: WriteContentResponse[]; status: { code: number; details: string } }> {
    const status = await this.ended;
    return { responses: this.#responses.splice(0), status };
  }
}

/** Runs a call that must fail and returns the raw gRPC code and message. */
async function failure(fn: () => Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await fn();
  } catch (err) {
    return { kind: (err as { kind: string }).kind, message: (err as Error).message };
  }
  throw new Error('expected the call to fail');
}

/** Reads through the raw client so the status code survives (the Connection maps codes to classes). */
function readRaw(conn: Connection, req: { digest: string; offset?: number; size?: number }, namespace = 'testing') {
  return new Promise<{ chunks: Array<{ offset: number; data: Uint8Array }>; code: number; details: string }>((resolve) => {
    const m = ContentService.read;
    const call = conn.client.makeServerStreamRequest(
      m.path,
      m.requestSerialize,
      m.responseDeserialize,
      { digest: req.digest, offset: req.offset ?? 0, size: req.size ?? 0 },
      metadataFor(namespace),
      {},
    );
    const chunks: Array<{ offset: number; data: Uint8Array }> = [];
    call.on('data', (msg: { offset: number; data: Uint8Array }) => chunks.push({ offset: msg.offset, data: Buffer.from(msg.data) }));
    call.on('status', (s: { code: number; details: string }) => resolve({ chunks, code: s.code, details: s.details }));
    call.on('error', () => undefined);
  });
}

function metadataFor(namespace: string): Metadata {
  const md = new Metadata();
  md.set('containerd-namespace', namespace);
  return md;
}

describe('content gRPC service', () => {
  let env: Env;
  beforeAll(async () => {
    env = await startEnv();
  });
  afterAll(async () => env?.close());

  const put = async (data: Uint8Array, ns = 'testing', labels?: Record<string, string>) => {
    const digest = sha(data);
    await writeBlob(env.store, { namespace: ns }, `put-${digest}`, [data], { digest, size: data.length }, labels ? { labels } : undefined);
    return digest;
  };

  it('Info answers a blob and refuses invalid and unknown digests as containerd does', async () => {
    const conn = env.connect();
    const digest = await put(Buffer.from('info blob'), 'testing', { a: '1' });
    const res = await conn.unary(ContentService.info, { digest });
    expect(res.info).toMatchObject({ digest, size: 9, labels: { a: '1' } });
    expect(toMillis(res.info!.createdAt!)).toBeGreaterThan(Date.now() - 60_000);
    expect(await failure(() => conn.unary(ContentService.info, { digest: 'sha256:abc' }))).toEqual({
      kind: 'invalid-argument',
      message: '"sha256:abc" failed validation',
    });
    const missing = sha(Buffer.from('missing'));
    expect(await failure(() => conn.unary(ContentService.info, { digest: missing }))).toEqual({
      kind: 'not-found',
      message: `content digest ${missing}: not found`,
    });
    expect(await failure(() => env.connect('').unary(ContentService.info, { digest }))).toEqual({
      kind: 'failed-precondition',
      message: 'namespace is required: failed precondition',
    });
  });

  it('Update changes the labels named by the field paths', async () => {
    const conn = env.connect();
    const digest = await put(Buffer.from('update blob'), 'testing', { keep: 'k', drop: 'd', change: 'c' });
    const res = await conn.unary(ContentService.update, {
      info: { digest, size: 0, createdAt: undefined, updatedAt: undefined, labels: { change: 'C', add: 'A' } },
      updateMask: ['labels.change', 'labels.add', 'labels.drop'],
    });
    expect(res.info?.labels).toEqual({ keep: 'k', change: 'C', add: 'A' });
    expect(await failure(() => conn.unary(ContentService.update, { info: undefined, updateMask: [] }))).toEqual({
      kind: 'invalid-argument',
      message: '"" failed validation',
    });
    expect(
      await failure(() =>
        conn.unary(ContentService.update, {
          info: { digest, size: 0, createdAt: undefined, updatedAt: undefined, labels: {} },
          updateMask: ['size'],
        }),
      ),
    ).toMatchObject({ kind: 'invalid-argument' });
  });

  it('List sends infos in batches of 100 without update times, and applies filters', async () => {
    const conn = env.connect('listing');
    const digests = new Set<string>();
    for (let i = 0; i < 150; i++) digests.add(await put(Buffer.from(`blob ${i}`), 'listing', i % 50 === 0 ? { pick: 'yes' } : undefined));
    const batches: number[] = [];
    const seen = new Set<string>();
    for await (const res of conn.serverStream(ContentService.list, { filters: [] })) {
      batches.push(res.info.length);
      for (const info of res.info) {
        seen.add(info.digest);
        expect(info.updatedAt).toEqual(GO_ZERO_TIME);
        expect(info.createdAt?.seconds).toBeGreaterThan(0);
      }
    }
    expect(batches).toEqual([100, 50]);
    expect(seen).toEqual(digests);
    const picked: string[] = [];
    for await (const res of conn.serverStream(ContentService.list, { filters: ['labels.pick==yes'] })) {
      picked.push(...res.info.map((i) => i.digest));
    }
    expect(picked).toHaveLength(3);
    await expect(
      (async () => {
        for await (const _ of conn.serverStream(ContentService.list, { filters: ['labels.=='] })) void _;
      })(),
    ).rejects.toMatchObject({ kind: 'invalid-argument' });
    // 150 ingests, each fsynced: seconds on a loaded machine
  }, 60_000);

  it('Delete removes a blob from one namespace only and publishes /content/delete once', async () => {
    const data = Buffer.from('shared between namespaces');
    const digest = await put(data, 'testing');
    await put(data, 'other');
    const events: Envelope[] = [];
    const sub = env.exchange.subscribe(['topic=="/content/delete"']);
    const collecting = (async () => {
      for await (const e of sub) events.push(e);
    })();
    const conn = env.connect();
    await conn.unary(ContentService.delete, { digest });
    expect(await failure(() => conn.unary(ContentService.info, { digest }))).toMatchObject({ kind: 'not-found' });
    expect((await env.connect('other').unary(ContentService.info, { digest })).info?.digest).toBe(digest);
    expect(await failure(() => conn.unary(ContentService.delete, { digest }))).toEqual({
      kind: 'not-found',
      message: `content digest ${digest}: not found`,
    });
    expect(await failure(() => conn.unary(ContentService.delete, { digest: 'sha256:abc' }))).toEqual({
      kind: 'invalid-argument',
      message: 'invalid checksum digest length',
    });
    await new Promise((r) => setTimeout(r, 50));
    sub.close();
    await collecting;
    expect(events.map((e) => [e.topic, e.namespace, e.event.typeUrl])).toEqual([
      ['/content/delete', 'testing', 'containerd.events.ContentDelete'],
    ]);
  });

  it('Read streams 1 MiB chunks with offsets from the start of the read, honouring offset and size', async () => {
    const conn = env.connect();
    const data = randomBytes(2 * MiB + MiB / 2);
    const digest = await put(data);
    const all = await readRaw(conn, { digest });
    expect(all.code).toBe(GrpcCode.OK);
    expect(all.chunks.map((c) => [c.offset, c.data.length])).toEqual([
      [0, MiB],
      [MiB, MiB],
      [2 * MiB, MiB / 2],
    ]);
    expect(Buffer.concat(all.chunks.map((c) => c.data)).equals(data)).toBe(true);

    const part = await readRaw(conn, { digest, offset: MiB + 10, size: MiB });
    expect(part.chunks.map((c) => [c.offset, c.data.length])).toEqual([[0, MiB]]);
    expect(Buffer.from(part.chunks[0]!.data).equals(data.subarray(MiB + 10, 2 * MiB + 10))).toBe(true);
    // Too large a size reads to the end; a negative offset reads from the start.
    const tail = await readRaw(conn, { digest, offset: data.length - 5, size: 100 });
    expect(Buffer.concat(tail.chunks.map((c) => c.data)).equals(data.subarray(data.length - 5))).toBe(true);
    const neg = await readRaw(conn, { digest, offset: -5, size: 3 });
    expect(Buffer.concat(neg.chunks.map((c) => c.data)).equals(data.subarray(0, 3))).toBe(true);
    // At the end: nothing; past it: OutOfRange.
    expect((await readRaw(conn, { digest, offset: data.length })).chunks).toEqual([]);
    expect(await readRaw(conn, { digest, offset: data.length + 1 })).toEqual({
      chunks: [],
      code: GrpcCode.OUT_OF_RANGE,
      details: `read past object length ${data.length} bytes`,
    });
    expect(await readRaw(conn, { digest: 'sha256:abc' })).toEqual({
      chunks: [],
      code: GrpcCode.INVALID_ARGUMENT,
      details: 'sha256:abc: invalid checksum digest length',
    });
    const missing = sha(Buffer.from('nope'));
    expect(await readRaw(conn, { digest: missing })).toEqual({
      chunks: [],
      code: GrpcCode.NOT_FOUND,
      details: `content digest ${missing}: not found`,
    });
  });

  it('Status, ListStatuses and Abort report and remove ingests', async () => {
    const conn = env.connect();
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'status-ref', total: 10 });
    await w.roundTrip({ action: WriteAction.WRITE, data: Buffer.from('12345') });
    const st = await conn.unary(ContentService.status, { ref: 'status-ref' });
    expect(st.status).toMatchObject({ ref: 'status-ref', offset: 5, total: 10 });
    const list = await conn.unary(ContentService.listStatuses, { filters: ['ref~=status'] });
    expect(list.statuses.map((s) => [s.ref, s.offset])).toEqual([['status-ref', 5]]);
    expect((await conn.unary(ContentService.listStatuses, { filters: ['ref==other'] })).statuses).toEqual([]);
    // Abort stops the open writer too.
    await conn.unary(ContentService.abort, { ref: 'status-ref' });
    w.call.end();
    await w.finish();
    expect(await failure(() => conn.unary(ContentService.status, { ref: 'status-ref' }))).toEqual({
      kind: 'not-found',
      message: 'could not get status for ref "status-ref": reference status-ref: not found',
    });
    expect(await failure(() => conn.unary(ContentService.abort, { ref: 'status-ref' }))).toEqual({
      kind: 'not-found',
      message: 'reference status-ref: not found',
    });
  });

  it('Write: stat, write and commit answer as containerd, the last response twice', async () => {
    const conn = env.connect();
    const data = randomBytes(3000);
    const digest = sha(data);
    const w = new WriteSession(conn);
    const stat = await w.roundTrip({ ref: 'write-1', total: data.length, expected: digest });
    expect(stat).toMatchObject({ action: WriteAction.STAT, offset: 0, total: 3000, digest: EMPTY_DIGEST });
    expect(toMillis(stat.startedAt!)).toBeGreaterThan(Date.now() - 10_000);
    const first = await w.roundTrip({ action: WriteAction.WRITE, offset: 0, data: data.subarray(0, 1000) });
    // Fields a write does not set keep the stat's values.
    expect(first).toEqual({ ...stat, action: WriteAction.WRITE, offset: 1000, digest: sha(data.subarray(0, 1000)) });
    const second = await w.roundTrip({ action: WriteAction.WRITE, offset: 1000, data: data.subarray(1000, 2000) });
    expect(second.offset).toBe(2000);
    const commit = await w.roundTrip({
      action: WriteAction.COMMIT,
      offset: 2000,
      data: data.subarray(2000),
      total: data.length,
      expected: '',
      labels: { 'containerd.io/gc.root': 'now' },
    });
    expect(commit).toMatchObject({ action: WriteAction.COMMIT, offset: 3000, digest });
    const { responses, status } = await w.finish();
    expect(responses).toEqual([commit]);
    expect(status.code).toBe(GrpcCode.OK);
    const info = await conn.unary(ContentService.info, { digest });
    expect(info.info).toMatchObject({ size: 3000, labels: { 'containerd.io/gc.root': 'now' } });
    // A writer for content that exists is refused at once.
    const again = new WriteSession(conn);
    again.send({ ref: 'write-1b', expected: digest });
    expect(await again.finish()).toEqual({
      responses: [],
      status: { code: GrpcCode.ALREADY_EXISTS, details: `content ${digest}: already exists` },
    });
  });

  it('Write: a client that half-closes gets the last response again and keeps a resumable ingest', async () => {
    const conn = env.connect();
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'half-close' });
    const res = await w.roundTrip({ action: WriteAction.WRITE, data: Buffer.from('abc') });
    w.call.end();
    expect(await w.finish()).toEqual({ responses: [res], status: { code: GrpcCode.OK, details: 'OK' } });
    expect((await conn.unary(ContentService.status, { ref: 'half-close' })).status?.offset).toBe(3);
    await conn.unary(ContentService.abort, { ref: 'half-close' });
  });

  it('Write refuses bad requests with containerd codes and messages', async () => {
    const conn = env.connect();
    const end = async (reqs: Array<Partial<WriteContentRequest>>, close = false) => {
      const w = new WriteSession(conn);
      for (const r of reqs) w.send(r);
      if (close) w.call.end();
      return (await w.finish()).status;
    };
    expect(await end([], true)).toEqual({ code: GrpcCode.UNKNOWN, details: 'EOF' });
    expect(await end([{ action: WriteAction.WRITE, data: Buffer.from('x') }])).toEqual({
      code: GrpcCode.INVALID_ARGUMENT,
      details: 'first message must have a reference',
    });
    expect(await end([{ ref: 'bad-offset' }, { action: WriteAction.WRITE, offset: 7, data: Buffer.from('x') }])).toEqual({
      code: GrpcCode.OUT_OF_RANGE,
      details: 'write @7 must occur at current offset 0',
    });
    expect(await end([{ ref: 'bad-expected', expected: 'sha256:abc' }])).toMatchObject({ code: GrpcCode.INVALID_ARGUMENT });
    await conn.unary(ContentService.abort, { ref: 'bad-offset' }).catch(() => undefined);

    // An expected digest already stored, named on a later message: the ingest is aborted.
    const existing = await put(Buffer.from('already here'));
    expect(await end([{ ref: 'late-expected' }, { action: WriteAction.WRITE, data: Buffer.from('zz') }, { action: WriteAction.COMMIT, offset: 2, expected: existing }])).toEqual({
      code: GrpcCode.ALREADY_EXISTS,
      details: `blob with expected digest ${existing} exists`,
    });
    expect(await failure(() => conn.unary(ContentService.status, { ref: 'late-expected' }))).toMatchObject({ kind: 'not-found' });
  });

  it('Write: a wrong expected digest or size commits nothing and keeps the ingest', async () => {
    const conn = env.connect();
    const data = Buffer.from('the right bytes');
    const wrong = sha(Buffer.from('other bytes'));
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'wrong-digest' });
    w.send({ action: WriteAction.COMMIT, data, expected: wrong });
    expect(await w.finish()).toEqual({
      responses: [],
      status: { code: GrpcCode.FAILED_PRECONDITION, details: `unexpected commit digest ${sha(data)}, expected ${wrong}: failed precondition` },
    });
    expect(await failure(() => conn.unary(ContentService.info, { digest: sha(data) }))).toMatchObject({ kind: 'not-found' });
    expect(await failure(() => conn.unary(ContentService.info, { digest: wrong }))).toMatchObject({ kind: 'not-found' });
    expect((await conn.unary(ContentService.status, { ref: 'wrong-digest' })).status?.offset).toBe(data.length);

    const w2 = new WriteSession(conn);
    await w2.roundTrip({ ref: 'wrong-digest' });
    w2.send({ action: WriteAction.COMMIT, offset: data.length, total: data.length + 1 });
    expect((await w2.finish()).status).toMatchObject({ code: GrpcCode.FAILED_PRECONDITION });
    expect(await failure(() => conn.unary(ContentService.info, { digest: sha(data) }))).toMatchObject({ kind: 'not-found' });
    await conn.unary(ContentService.abort, { ref: 'wrong-digest' });
  });

  it('Write: offset 0 on a started ingest starts it again', async () => {
    const conn = env.connect();
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'restart' });
    expect((await w.roundTrip({ action: WriteAction.WRITE, data: Buffer.from('first try') })).offset).toBe(9);
    const again = await w.roundTrip({ action: WriteAction.WRITE, offset: 0, data: Buffer.from('second') });
    expect(again).toMatchObject({ offset: 6, digest: sha(Buffer.from('second')) });
    const commit = await w.roundTrip({ action: WriteAction.COMMIT, offset: 6 });
    expect(commit.digest).toBe(sha(Buffer.from('second')));
    await w.finish();
  });

  it('Write: a second writer on an open ref is refused with Unavailable', async () => {
    const conn = env.connect();
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'busy' });
    const other = new WriteSession(env.connect());
    other.send({ ref: 'busy' });
    const { status } = await other.finish();
    expect(status.code).toBe(GrpcCode.UNAVAILABLE);
    expect(status.details).toMatch(/^ref testing\/\d+\/busy locked for .+ \(since .+\): unavailable$/);
    w.call.end();
    await w.finish();
    await conn.unary(ContentService.abort, { ref: 'busy' });
  });

  it('Write: a dropped stream releases the ref and the ingest resumes at the reported offset', async () => {
    const conn = env.connect();
    const data = randomBytes(3 * MiB);
    const digest = sha(data);
    const w = new WriteSession(conn);
    await w.roundTrip({ ref: 'dropped', total: data.length, expected: digest });
    await w.roundTrip({ action: WriteAction.WRITE, data: data.subarray(0, MiB) });
    await w.roundTrip({ action: WriteAction.WRITE, offset: MiB, data: data.subarray(MiB, MiB + 1000) });
    w.call.cancel();
    await w.finish();

    // The server sees the cancellation shortly after; the ref is then free.
    let resumed: WriteSession | undefined;
    let stat: WriteContentResponse | undefined;
    for (let i = 0; i < 50 && !stat; i++) {
      resumed = new WriteSession(conn);
      resumed.send({ ref: 'dropped', total: data.length, expected: digest });
      const res = await resumed.next();
      if ('code' in res) {
        expect(res.code).toBe(GrpcCode.UNAVAILABLE);
        await new Promise((r) => setTimeout(r, 20));
      } else {
        stat = res;
      }
    }
    expect(stat?.offset).toBe(MiB + 1000);
    expect((await conn.unary(ContentService.status, { ref: 'dropped' })).status?.offset).toBe(MiB + 1000);
    expect(stat?.digest).toBe(sha(data.subarray(0, MiB + 1000)));
    const s = resumed!;
    await s.roundTrip({ action: WriteAction.WRITE, offset: MiB + 1000, data: data.subarray(MiB + 1000) });
    const commit = await s.roundTrip({ action: WriteAction.COMMIT, offset: data.length, total: data.length, expected: digest });
    expect(commit.digest).toBe(digest);
    await s.finish();
    const read = await readRaw(conn, { digest });
    expect(sha(Buffer.concat(read.chunks.map((c) => c.data)))).toBe(digest);
  });

  it('Write: requests sent without waiting are applied in order', async () => {
    const conn = env.connect();
    const pieces = Array.from({ length: 40 }, () => randomBytes(256 * 1024));
    const data = Buffer.concat(pieces);
    const w = new WriteSession(conn);
    w.send({ ref: 'pipelined' });
    let offset = 0;
    for (const p of pieces) {
      w.send({ action: WriteAction.WRITE, offset, data: p });
      offset += p.length;
    }
    w.send({ action: WriteAction.COMMIT, offset, expected: sha(data) });
    const { responses, status } = await w.finish();
    expect(status.code).toBe(GrpcCode.OK);
    expect(responses.map((r) => r.offset)).toEqual([0, ...pieces.map((_, i) => (i + 1) * 256 * 1024), data.length, data.length]);
    expect(responses.at(-1)?.digest).toBe(sha(data));
  });

  it('a blob in one namespace is not visible in another', async () => {
    const digest = await put(Buffer.from('only in a'), 'ns-a');
    expect((await env.connect('ns-a').unary(ContentService.info, { digest })).info?.digest).toBe(digest);
    expect(await failure(() => env.connect('ns-b').unary(ContentService.info, { digest }))).toMatchObject({ kind: 'not-found' });
    const listed: string[] = [];
    for await (const res of env.connect('ns-b').serverStream(ContentService.list, { filters: [] })) listed.push(...res.info.map((i) => i.digest));
    expect(listed).not.toContain(digest);
  });
});

describe('content gRPC service limits', () => {
  it('refuses a Write message above the receive limit with ResourceExhausted', async () => {
    const env = await startEnv({ 'grpc.max_receive_message_length': 64 * 1024 });
    try {
      const w = new WriteSession(env.connect());
      await w.roundTrip({ ref: 'too-big' });
      w.send({ action: WriteAction.WRITE, data: randomBytes(100 * 1024) });
      expect((await w.finish()).status.code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    } finally {
      await env.close();
    }
  });
});

describe('goQuote', () => {
  it('quotes as Go %q does', () => {
    expect(goQuote('sha256:abc')).toBe('"sha256:abc"');
    expect(goQuote('a"b\\c\n\t\x01\x7f')).toBe('"a\\"b\\\\c\\n\\t\\x01\\x7f"');
    expect(goQuote('héllo ✓')).toBe('"héllo ✓"');
    expect(goQuote('\u200b')).toBe('"\\u200b"');
  });
});
