// Issue: content store. Debian's ctr and the content API against containerd-ts and the
// reference containerd in the same test: ingest/ls/get/label/rm/active, resume after a
// dropped stream, wrong expected digest, a second writer, namespaces, error codes; a
// 512 MiB blob through the Write stream; kill -9 during a 512 MiB ingest.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentService, WriteAction, type WriteContentRequest, type WriteContentResponse } from '@containerd-ts/api/services/content';
import { Connection } from '@containerd-ts/client';
import { type ClientDuplexStream, Metadata, type MethodDefinition, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, containerdTs, ctr, run, startDaemon, startReference } from './harness.js';

const MiB = 1 << 20;
const sha = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

interface Target {
  name: 'containerd-ts' | 'containerd';
  socket: string;
}

/**
 * Output with what legitimately differs between two runs (ages, lock times, ingest sequence
 * numbers) masked; ctr's tabwriter pads its columns with tabs to the widest age, so runs
 * of tabs are one tab.
 */
function normalize(text: string): string {
  return text
    .replace(/Less than a second|About a minute|\d+ (?:seconds?|minutes?)/g, '<age>')
    .replace(/\t+/g, '\t')
    .replace(/time="[^"]+"/g, 'time="<t>"')
    .replace(/ref (\S+?)\/\d+\/(\S+) locked for \S+ \(since [^)]+\)/g, 'ref $1/<n>/$2 locked for <d> (since <t>)');
}

/** `ctr content label` and `ls` print labels in Go's random map order: sort them. */
const sortLabels = (line: string) => line.split(',').sort().join(',');

/** containerd lists ingests in Go's random map order: sort the rows under the header. */
const sortRows = (text: string) => {
  const [header = '', ...rows] = text.split('\n');
  return [header, ...rows.filter((r) => r !== '').sort()].join('\n') + (text.endsWith('\n') ? '\n' : '');
};

/** Runs ctr with stdin read from `file`. */
async function ctrWithInput(socket: string, file: string, ...args: string[]) {
  const fh = await open(file, 'r');
  try {
    const child = spawn('ctr', ['-a', socket, ...args], { stdio: [fh.fd, 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
    return { code, stdout, stderr };
  } finally {
    await fh.close();
  }
}

/** The sha256 of what `ctr content get` prints (streamed, never held in memory). */
function ctrGetDigest(socket: string, digest: string, namespace = 'default'): Promise<{ code: number; digest: string; size: number }> {
  return new Promise((resolve) => {
    const child = spawn('ctr', ['-a', socket, '-n', namespace, 'content', 'get', digest], { stdio: ['ignore', 'pipe', 'ignore'] });
    const hash = createHash('sha256');
    let size = 0;
    child.stdout.on('data', (d: Buffer) => {
      hash.update(d);
      size += d.length;
    });
    child.once('close', (code) => resolve({ code: code ?? 1, digest: `sha256:${hash.digest('hex')}`, size }));
  });
}

/** The sha256 of a blob read with one Read call through the API. */
async function apiReadDigest(socket: string, digest: string, namespace = 'default'): Promise<{ digest: string; size: number }> {
  const conn = new Connection(socket, { namespace });
  try {
    const hash = createHash('sha256');
    let size = 0;
    for await (const msg of conn.serverStream(ContentService.read, { digest, offset: 0, size: 0 })) {
      hash.update(msg.data);
      size += msg.data.length;
    }
    return { digest: `sha256:${hash.digest('hex')}`, size };
  } finally {
    conn.close();
  }
}

async function randomFile(dir: string, name: string, size: number): Promise<{ path: string; digest: string }> {
  const path = join(dir, name);
  const fh = await open(path, 'w');
  const hash = createHash('sha256');
  try {
    for (let done = 0; done < size; ) {
      const chunk = randomBytes(Math.min(8 * MiB, size - done));
      hash.update(chunk);
      await fh.write(chunk);
      done += chunk.length;
    }
  } finally {
    await fh.close();
  }
  return { path, digest: `sha256:${hash.digest('hex')}` };
}

/** A Write stream driven one request at a time. */
class WriteSession {
  readonly call: ClientDuplexStream<WriteContentRequest, WriteContentResponse>;
  readonly #responses: WriteContentResponse[] = [];
  #wake: (() => void) | undefined;
  readonly ended: Promise<{ code: number; details: string }>;

  constructor(conn: Connection) {
    this.call = conn.bidiStream(ContentService.write);
    this.call.on('data', (msg: WriteContentResponse) => {
      this.#responses.push(msg);
      this.#wake?.();
    });
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s: { code: number; details: string }) => resolve({ code: s.code, details: s.details }));
      this.call.on('error', (err: ServiceError) => resolve({ code: err.code, details: err.details }));
    });
  }

  send(req: Partial<WriteContentRequest>): void {
    this.call.write({ action: WriteAction.STAT, ref: '', total: 0, expected: '', offset: 0, data: new Uint8Array(), labels: {}, ...req });
  }

  /** The next response, or the final status when the stream ended first. */
  async next(): Promise<WriteContentResponse | { code: number; details: string }> {
    for (;;) {
      const msg = this.#responses.shift();
      if (msg) return msg;
      const end = await Promise.race([this.ended, new Promise<undefined>((resolve) => (this.#wake = () => resolve(undefined)))]);
      if (end && this.#responses.length === 0) return end;
    }
  }

  async roundTrip(req: Partial<WriteContentRequest>): Promise<WriteContentResponse> {
    this.send(req);
    const res = await this.next();
    if ('code' in res) throw new Error(`stream ended with ${res.code}: ${res.details}`);
    return res;
  }

  async finish(): Promise<{ responses: WriteContentResponse[]; status: { code: number; details: string } }> {
    const status = await this.ended;
    return { responses: this.#responses.splice(0), status };
  }
}

/** A Write stream's responses and end status with times (which differ run to run) left out. */
const comparable = (r: { responses: WriteContentResponse[]; status: { code: number; details: string } }) => ({
  responses: r.responses.map(({ startedAt: _s, updatedAt: _u, ...rest }) => rest),
  // grpc-go sends no message with OK, grpc-js sends "OK": the same status to a client.
  status: { code: r.status.code, details: r.status.code === 0 ? '' : normalize(r.status.details) },
});

/** Opens a Write stream on `ref`, retrying while the daemon still holds the ref of a dropped stream. */
async function openWhenFree(conn: Connection, req: Partial<WriteContentRequest>): Promise<{ session: WriteSession; stat: WriteContentResponse }> {
  for (let i = 0; ; i++) {
    const session = new WriteSession(conn);
    session.send({ action: WriteAction.STAT, ...req });
    const res = await session.next();
    if (!('code' in res)) return { session, stat: res };
    if (res.code !== 14 || i > 100) throw new Error(`write stream refused: ${res.code} ${res.details}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: number; details: string };

/** A unary call through the raw client: the gRPC code and message as sent, or the response. */
function rawUnary<Req, Res>(socket: string, namespace: string, method: MethodDefinition<Req, Res>, req: Req): Promise<Outcome> {
  const conn = new Connection(socket);
  const md = new Metadata();
  if (namespace) md.set('containerd-namespace', namespace);
  return new Promise<Outcome>((resolve) => {
    conn.client.makeUnaryRequest(method.path, method.requestSerialize, method.responseDeserialize, req, md, {}, (err, res) => {
      conn.close();
      resolve(err ? { ok: false, code: err.code, details: err.details } : { ok: true, value: res });
    });
  });
}

/** A server-streaming call through the raw client: the messages and the final code and message. */
function rawStream<Req, Res>(socket: string, namespace: string, method: MethodDefinition<Req, Res>, req: Req) {
  const conn = new Connection(socket);
  const md = new Metadata();
  if (namespace) md.set('containerd-namespace', namespace);
  return new Promise<{ messages: Res[]; code: number; details: string }>((resolve) => {
    const call = conn.client.makeServerStreamRequest(method.path, method.requestSerialize, method.responseDeserialize, req, md, {});
    const messages: Res[] = [];
    call.on('data', (m: Res) => messages.push(m));
    call.on('error', () => undefined);
    call.on('status', (st: { code: number; details: string }) => {
      conn.close();
      // grpc-go sends no message with OK, grpc-js sends "OK": the same status to a client.
      resolve({ messages, code: st.code, details: st.code === 0 ? '' : st.details });
    });
  });
}

describe('content: Debian ctr and the API, containerd-ts beside containerd', () => {
  let ts: StartedDaemon;
  let reference: Awaited<ReturnType<typeof startReference>>;
  let targets: Target[];
  let work: string;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'content-e2e-'));
    [ts, reference] = await Promise.all([startDaemon(), startReference()]);
    targets = [
      { name: 'containerd-ts', socket: ts.socket },
      { name: 'containerd', socket: reference.socket },
    ];
    // Both collectors run once 100 ms after start (startup_delay) and take any blob no
    // lease or root holds; `ctr content ingest` leaves exactly such blobs. Start the
    // sessions after that first run on both daemons, or the comparison depends on timing.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }, 120_000);
  afterAll(async () => {
    await ts?.cleanup();
    await reference?.stop();
    await rm(work, { recursive: true, force: true });
  });

  /** Runs `fn` against both daemons; returns [containerd-ts result, containerd result]. */
  async function both<T>(fn: (t: Target) => Promise<T>): Promise<[T, T]> {
    const ours = await fn(targets[0]!);
    const theirs = await fn(targets[1]!);
    return [ours, theirs];
  }

  const ctrIn = (t: Target, ns: string, ...args: string[]) => ctr(t.socket, '-n', ns, ...args);

  it('ingest, ls, get, label, rm and their errors print what containerd prints', async () => {
    const small = join(work, 'small.txt');
    await writeFile(small, 'hello content\n');
    const digest = sha(Buffer.from('hello content\n'));
    const zero = `sha256:${'0'.repeat(64)}`;
    const [ours, theirs] = await both(async (t) => {
      const out: Array<{ cmd: string; code: number; stdout: string; stderr: string }> = [];
      const step = async (cmd: string, r: Promise<{ code: number; stdout: string; stderr: string }>, sort = false) => {
        const res = await r;
        const stdout = sort ? res.stdout.split('\n').map(sortLabels).join('\n') : cmd.startsWith('active') ? sortRows(res.stdout) : res.stdout;
        out.push({ cmd, code: res.code, stdout: normalize(stdout), stderr: normalize(res.stderr) });
      };
      await step('ingest', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', 'first'));
      await step('ingest again', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', 'second'));
      await step('ingest expected', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', '--expected-digest', digest, 'third'));
      await step('ingest wrong digest', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', '--expected-digest', zero, 'wrong-digest'));
      await step('ingest wrong size', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', '--expected-size', '3', 'wrong-size'));
      await step('ingest bad digest', ctrWithInput(t.socket, small, '-n', 'cli', 'content', 'ingest', '--expected-digest', 'sha256:abc', 'x'));
      await step('ls', ctrIn(t, 'cli', 'content', 'ls'));
      await step('ls -q', ctrIn(t, 'cli', 'content', 'ls', '-q'));
      await step('active', ctrIn(t, 'cli', 'content', 'active'));
      await step('active filtered', ctrIn(t, 'cli', 'content', 'active', 'size'));
      await step('active bad filter', ctrIn(t, 'cli', 'content', 'active', '['));
      await step('get', ctrIn(t, 'cli', 'content', 'get', digest));
      await step('get missing', ctrIn(t, 'cli', 'content', 'get', zero));
      await step('get invalid', ctrIn(t, 'cli', 'content', 'get', 'sha256:abc'));
      await step('label', ctrIn(t, 'cli', 'content', 'label', digest, 'b=2', 'a=1', 'c=3'), true);
      await step('label show', ctrIn(t, 'cli', 'content', 'label', digest), true);
      await step('label remove', ctrIn(t, 'cli', 'content', 'label', digest, 'b=', 'c='), true);
      await step('label missing', ctrIn(t, 'cli', 'content', 'label', zero, 'a=1'));
      await step('ls labels', ctrIn(t, 'cli', 'content', 'ls'));
      await step('ls filter', ctrIn(t, 'cli', 'content', 'ls', '-q', 'labels.a==1'));
      await step('ls filter none', ctrIn(t, 'cli', 'content', 'ls', '-q', 'labels.a==2'));
      await step('ls bad filter', ctrIn(t, 'cli', 'content', 'ls', 'labels.=='));
      await step('other namespace get', ctrIn(t, 'cli-other', 'content', 'get', digest));
      await step('other namespace ls', ctrIn(t, 'cli-other', 'content', 'ls'));
      await step('other namespace rm', ctrIn(t, 'cli-other', 'content', 'rm', digest));
      await step('rm', ctrIn(t, 'cli', 'content', 'rm', 'sha256:abc', digest, zero));
      await step('rm again', ctrIn(t, 'cli', 'content', 'rm', digest));
      await step('ls after rm', ctrIn(t, 'cli', 'content', 'ls', '-q'));
      await step('active after', ctrIn(t, 'cli', 'content', 'active'));
      return out;
    });
    expect(ours).toEqual(theirs);
    // What the steps showed, so this test also fails if both daemons broke alike.
    const byCmd = Object.fromEntries(ours.map((s) => [s.cmd, s]));
    expect(byCmd.get?.stdout).toBe('hello content\n');
    expect(byCmd['ls -q']?.stdout).toBe(`${digest}\n`);
    expect(byCmd['ingest wrong digest']?.stderr).toContain('unexpected commit digest');
    expect(byCmd['label show']?.stdout).toBe('a=1,b=2,c=3\n');
    expect(byCmd['other namespace get']?.stderr).toBe(`ctr: content digest ${digest}: not found\n`);
    expect(byCmd.active?.stdout).toMatch(/^REF\s+SIZE\s+AGE\s+\nwrong-digest\s+14B\s+<age>\s+\nwrong-size\s+14B\s+<age>\s+\n$/);
    expect(byCmd['ls after rm']?.stdout).toBe('');
  });

  it('a wrong expected digest commits nothing; a second writer is refused; the ingest survives both', async () => {
    const data = randomBytes(64 * 1024);
    const wrong = sha(Buffer.from('not the data'));
    const [ours, theirs] = await both(async (t) => {
      const conn = new Connection(t.socket, { namespace: 'writers' });
      try {
        const w = new WriteSession(conn);
        await w.roundTrip({ ref: 'held', total: data.length });
        const written = await w.roundTrip({ action: WriteAction.WRITE, offset: 0, data });
        // Another stream on the same ref, while the first holds it.
        const second = new WriteSession(conn);
        second.send({ ref: 'held' });
        const refused = comparable(await second.finish());
        // The holder commits with a wrong digest: refused, nothing visible.
        w.send({ action: WriteAction.COMMIT, offset: data.length, expected: wrong });
        const commit = comparable(await w.finish());
        const info = await run('ctr', ['-a', t.socket, '-n', 'writers', 'content', 'ls', '-q']);
        const active = await run('ctr', ['-a', t.socket, '-n', 'writers', 'content', 'active']);
        const status = await conn.unary(ContentService.status, { ref: 'held' });
        // A writer that names content already stored on a later message is told so and the ingest is aborted.
        const small = Buffer.from('stored already');
        const stored = new WriteSession(conn);
        await stored.roundTrip({ ref: 'store-it' });
        await stored.roundTrip({ action: WriteAction.COMMIT, data: small });
        await stored.finish();
        const late = new WriteSession(conn);
        await late.roundTrip({ ref: 'late' });
        late.send({ action: WriteAction.COMMIT, offset: 0, expected: sha(small) });
        const lateEnd = comparable(await late.finish());
        const lateStatus = await conn.unary(ContentService.status, { ref: 'late' }).catch((err: Error) => err.message);
        // Bad first messages.
        const noRef = new WriteSession(conn);
        noRef.send({ action: WriteAction.WRITE, data: Buffer.from('x') });
        const empty = new WriteSession(conn);
        empty.call.end();
        const badOffset = new WriteSession(conn);
        badOffset.send({ ref: 'bad-offset' });
        badOffset.send({ action: WriteAction.WRITE, offset: 5, data: Buffer.from('x') });
        const unknownAction = new WriteSession(conn);
        await unknownAction.roundTrip({ ref: 'unknown-action' });
        const odd = await unknownAction.roundTrip({ action: 7 as WriteAction, data: Buffer.from('ignored') });
        unknownAction.call.end();
        await conn.unary(ContentService.abort, { ref: 'held' });
        return {
          unknownAction: { action: odd.action, offset: odd.offset, digest: odd.digest, end: comparable(await unknownAction.finish()) },
          written: { offset: written.offset, digest: written.digest },
          refused,
          commit,
          ls: info.stdout,
          active: normalize(active.stdout),
          status: status.status?.offset,
          lateEnd,
          lateStatus,
          noRef: comparable(await noRef.finish()),
          empty: comparable(await empty.finish()),
          badOffset: comparable(await badOffset.finish()),
        };
      } finally {
        conn.close();
      }
    });
    expect(ours).toEqual(theirs);
    expect(ours.refused.status.code).toBe(14); // Unavailable
    expect(ours.refused.status.details).toMatch(/^ref writers\/<n>\/held locked for <d> \(since <t>\): unavailable$/);
    expect(ours.commit.status.code).toBe(9); // FailedPrecondition
    expect(ours.ls).toBe('');
    expect(ours.status).toBe(data.length);
    expect(ours.lateEnd.status).toEqual({ code: 6, details: `blob with expected digest ${sha(Buffer.from('stored already'))} exists` });
    expect(ours.badOffset.status).toEqual({ code: 11, details: 'write @5 must occur at current offset 0' });
  });

  it('a dropped stream leaves an ingest that ctr shows and a new stream resumes at Status.offset', async () => {
    const data = randomBytes(5 * MiB + 12345);
    const digest = sha(data);
    const [ours, theirs] = await both(async (t) => {
      const conn = new Connection(t.socket, { namespace: 'resume' });
      try {
        const w = new WriteSession(conn);
        await w.roundTrip({ ref: 'dropped', total: data.length, expected: digest });
        let offset = 0;
        for (const size of [MiB, MiB, 777]) {
          offset = (await w.roundTrip({ action: WriteAction.WRITE, offset, data: data.subarray(offset, offset + size) })).offset;
        }
        // The client goes away mid-ingest.
        w.call.cancel();
        await w.finish();
        const { session, stat } = await openWhenFree(conn, { ref: 'dropped', total: data.length, expected: digest });
        const status = (await conn.unary(ContentService.status, { ref: 'dropped' })).status;
        const active = await run('ctr', ['-a', t.socket, '-n', 'resume', 'content', 'active']);
        let at = status?.offset ?? 0;
        while (at < data.length) {
          at = (await session.roundTrip({ action: WriteAction.WRITE, offset: at, data: data.subarray(at, at + MiB) })).offset;
        }
        const commit = await session.roundTrip({ action: WriteAction.COMMIT, offset: at, total: data.length, expected: digest });
        await session.finish();
        const got = await ctrGetDigest(t.socket, digest, 'resume');
        return {
          stat: { offset: stat.offset, total: stat.total, digest: stat.digest },
          statusOffset: status?.offset,
          active: normalize(active.stdout),
          commit: { offset: commit.offset, digest: commit.digest },
          got,
        };
      } finally {
        conn.close();
      }
    });
    expect(ours).toEqual(theirs);
    expect(ours.statusOffset).toBe(2 * MiB + 777);
    expect(ours.stat.digest).toBe(sha(data.subarray(0, 2 * MiB + 777)));
    expect(ours.active).toMatch(/^REF\s+SIZE\s+AGE\s+\ndropped\s+2\.098MB\s+<age>\s+\n$/);
    expect(ours.got).toEqual({ code: 0, digest, size: data.length });
  });

  it('bad requests get the code and message containerd answers with', async () => {
    const data = Buffer.from('blob for error cases');
    const digest = sha(data);
    const missing = sha(Buffer.from('never stored'));
    const info = (d: string) => ({ digest: d, size: 0, createdAt: undefined, updatedAt: undefined, labels: {} });
    const [ours, theirs] = await both(async (t) => {
      const conn = new Connection(t.socket, { namespace: 'errors' });
      const w = new WriteSession(conn);
      await w.roundTrip({ ref: 'errors-blob' });
      await w.roundTrip({ action: WriteAction.COMMIT, data, labels: { 'containerd.io/gc.root': 'x' } });
      await w.finish();
      conn.close();
      const u = <Req, Res>(method: MethodDefinition<Req, Res>, req: Req, ns = 'errors') =>
        rawUnary(t.socket, ns, method, req).then((o) => (o.ok ? 'ok' : o));
      const r = (req: { digest: string; offset?: number; size?: number }, ns = 'errors') =>
        rawStream(t.socket, ns, ContentService.read, { offset: 0, size: 0, ...req }).then((o) => ({
          bytes: Buffer.concat(o.messages.map((m) => Buffer.from(m.data))).toString(),
          offsets: o.messages.map((m) => m.offset),
          code: o.code,
          details: o.details,
        }));
      const l = (filters: string[], ns = 'errors') =>
        rawStream(t.socket, ns, ContentService.list, { filters }).then((o) => ({
          digests: o.messages.flatMap((m) => m.info.map((i) => i.digest)),
          code: o.code,
          details: o.details,
        }));
      return {
        infoEmpty: await u(ContentService.info, { digest: '' }),
        infoBad: await u(ContentService.info, { digest: 'sha256:xyz' }),
        infoUnknownAlg: await u(ContentService.info, { digest: `md5:${'a'.repeat(32)}` }),
        infoMissing: await u(ContentService.info, { digest: missing }),
        infoNoNamespace: await u(ContentService.info, { digest }, ''),
        updateNoInfo: await u(ContentService.update, { info: undefined, updateMask: [] }),
        updateMissing: await u(ContentService.update, { info: info(missing), updateMask: ['labels.a'] }),
        updateBadPath: await u(ContentService.update, { info: info(digest), updateMask: ['size'] }),
        deleteBad: await u(ContentService.delete, { digest: 'nope' }),
        deleteMissing: await u(ContentService.delete, { digest: missing }),
        statusEmpty: await u(ContentService.status, { ref: '' }),
        statusMissing: await u(ContentService.status, { ref: 'no-such-ref' }),
        listStatusesBad: await u(ContentService.listStatuses, { filters: ['ref~='] }),
        abortMissing: await u(ContentService.abort, { ref: 'no-such-ref' }),
        abortEmpty: await u(ContentService.abort, { ref: '' }),
        readBad: await r({ digest: 'sha256:1' }),
        readMissing: await r({ digest: missing }),
        readPast: await r({ digest, offset: data.length + 1 }),
        readEnd: await r({ digest, offset: data.length }),
        readPart: await r({ digest, offset: 5, size: 3 }),
        readNegative: await r({ digest, offset: -3, size: 4 }),
        readOtherNamespace: await r({ digest }, 'errors-other'),
        listBadSyntax: await l(['labels."a']),
        listNoNamespace: await l([], ''),
        listOk: await l([`digest==${digest}`]),
      };
    });
    expect(ours).toEqual(theirs);
    expect(ours.infoBad).toEqual({ ok: false, code: 3, details: '"sha256:xyz" failed validation' });
    expect(ours.readPast).toMatchObject({ code: 11, details: `read past object length ${data.length} bytes` });
    expect(ours.readPart).toEqual({ bytes: 'for', offsets: [0], code: 0, details: '' });
    expect(ours.listOk.digests).toEqual([digest]);
  });

  it('ctr events shows one /content/delete for a removed blob, as containerd', async () => {
    const file = join(work, 'events.txt');
    await writeFile(file, 'event data\n');
    const digest = sha(Buffer.from('event data\n'));
    const [ours, theirs] = await both(async (t) => {
      const events = spawn('ctr', ['-a', t.socket, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let out = '';
      events.stdout.on('data', (d: Buffer) => (out += d.toString()));
      // Subscribed once a first event arrives: publish a probe until one shows.
      for (let i = 0; i < 100 && out === ''; i++) {
        await ctr(t.socket, '-n', 'events-probe', 'content', 'rm', digest);
        await ctrWithInput(t.socket, file, '-n', 'events-probe', 'content', 'ingest', 'probe');
        await ctr(t.socket, '-n', 'events-probe', 'content', 'rm', digest);
        await new Promise((r) => setTimeout(r, 50));
      }
      out = '';
      // Once ingest's own lease is gone nothing references the blob, so either daemon's
      // background collection may take it before the label (then label and rm answer
      // NotFound and no event comes): ingest again until the label, a GC root from then
      // on, holds it.
      for (let i = 0; ; i++) {
        await ctrWithInput(t.socket, file, '-n', 'events', 'content', 'ingest', 'ev');
        const labelled = await ctr(t.socket, '-n', 'events', 'content', 'label', digest, 'containerd.io/gc.root=1');
        if (labelled.code === 0) break;
        if (i >= 10) throw new Error(`content label on ${t.socket}: ${labelled.stderr}`);
      }
      const removed = await ctr(t.socket, '-n', 'events', 'content', 'rm', digest);
      expect(removed.code, removed.stderr).toBe(0);
      await ctr(t.socket, '-n', 'events', 'content', 'rm', digest);
      // The event may take a while on a loaded machine (either daemon); then anything more
      // that was going to come has had time to.
      for (let i = 0; i < 200 && !out.includes('/content/delete'); i++) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      events.kill();
      return out
        .trim()
        .split('\n')
        .map((line) => line.replace(/^\S+ \S+ \+0000 UTC /, ''));
    });
    expect(ours).toEqual(theirs);
    expect(ours).toEqual([`events /content/delete {"digest":"${digest}"}`]);
  });

  it('[grpc] max_recv_message_size bounds Write messages (ctr sends up to 1 MiB)', async () => {
    // ctr ingests under a lease it deletes at exit, so the blob is unreferenced: keep the
    // collector's start-up run (100 ms after start) from taking it before `ls`.
    const d = await startDaemon({
      config: 'version = 2\n[grpc]\n  max_recv_message_size = 65536\n[plugins."io.containerd.gc.v1.scheduler"]\n  startup_delay = "1h"\n',
    });
    try {
      const big = await randomFile(work, 'one-mib.bin', MiB);
      const refused = await ctrWithInput(d.socket, big.path, 'content', 'ingest', 'big');
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^ctr: failed to copy: failed to send write: .*larger than max \(1048582 vs\.? 65536\)/);
      const small = await randomFile(work, 'small.bin', 60_000);
      expect(await ctrWithInput(d.socket, small.path, 'content', 'ingest', 'small')).toEqual({ code: 0, stdout: '', stderr: '' });
      expect((await ctr(d.socket, 'content', 'ls', '-q')).stdout).toBe(`${small.digest}\n`);
    } finally {
      await d.cleanup();
    }
  });

  it('a 512 MiB blob ingested by ctr reads back identical', async () => {
    const blob = await randomFile(work, 'big.bin', 512 * MiB);
    const ingest = await ctrWithInput(ts.socket, blob.path, 'content', 'ingest', 'big');
    expect(ingest).toEqual({ code: 0, stdout: '', stderr: '' });
    const ls = await ctr(ts.socket, 'content', 'ls');
    expect(normalize(ls.stdout)).toContain(`${blob.digest}\t536.9MB\t<age>\t-`);
    expect(await ctrGetDigest(ts.socket, blob.digest)).toEqual({ code: 0, digest: blob.digest, size: 512 * MiB });
    await rm(blob.path);
  }, 180_000);

  it('kill -9 during a 512 MiB ingest: nothing partial is visible, active answers, the same data ingests again', async () => {
    const blob = await randomFile(work, 'crash.bin', 512 * MiB);
    const d = await startDaemon();
    let restarted: ReturnType<typeof spawn> | undefined;
    try {
      const ingesting = ctrWithInput(d.socket, blob.path, 'content', 'ingest', 'crash');
      // Wait until a good part has arrived, then kill the daemon mid-stream.
      let before = '';
      for (let i = 0; i < 400; i++) {
        before = (await ctr(d.socket, 'content', 'active')).stdout;
        const mb = /crash\s+([\d.]+)MB/.exec(before);
        if (mb && Number(mb[1]) > 50) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      d.child.kill('SIGKILL');
      const failed = await ingesting;
      expect(failed.code).not.toBe(0);
      expect(before).toMatch(/crash\s+[\d.]+MB/);

      // The same root, state and socket.
      restarted = spawn(containerdTs, ['--root', d.root, '--state', d.state, '--address', d.socket], { stdio: 'ignore' });
      for (let i = 0; i < 200 && (await ctr(d.socket, 'version')).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await ctr(d.socket, 'content', 'ls', '-q')).stdout).toBe('');
      const active = await ctr(d.socket, 'content', 'active');
      expect(active.code).toBe(0);
      expect(active.stdout).toMatch(/^REF\s+SIZE\s+AGE\s+\n(crash\s+[\d.]+[kM]?B\s+\S.*\n)?$/);
      const again = await ctrWithInput(d.socket, blob.path, 'content', 'ingest', '--expected-digest', blob.digest, 'crash');
      expect(again).toEqual({ code: 0, stdout: '', stderr: '' });
      expect((await ctr(d.socket, 'content', 'ls', '-q')).stdout).toBe(`${blob.digest}\n`);
      expect((await ctr(d.socket, 'content', 'active')).stdout).toMatch(/^REF\s+SIZE\s+AGE\s+\n$/);
      // Read back with one Read call (the test above reads through ctr's 32 KiB calls).
      expect(await apiReadDigest(d.socket, blob.digest)).toEqual({ digest: blob.digest, size: 512 * MiB });
    } finally {
      if (restarted && restarted.exitCode === null) {
        restarted.kill('SIGKILL');
        await new Promise((r) => restarted?.once('exit', r));
      }
      await d.cleanup();
      await rm(blob.path, { force: true });
    }
  }, 240_000);
});
