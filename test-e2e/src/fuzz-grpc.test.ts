// Fuzzes a real containerd-ts daemon over its socket (containerd's fuzzers and beyond):
// every method of the content, snapshots, images, leases, namespaces, diff, events,
// introspection, version and health services gets valid, mutated and random request
// bytes through grpc-js' raw calls. Every call must be answered with a gRPC status within
// its deadline, the daemon must stay alive and healthy after each batch, must write
// nothing outside its root, state, socket directory and temp dir, and the stores'
// invariants must hold afterwards and after a full collection.
// Seeded: FUZZ_SEED and FUZZ_RUNS (cases per method, default 1000) override.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentService, WriteAction } from '@containerd-ts/api/services/content';
import { HealthService } from '@containerd-ts/api/services/health';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { NamespacesService } from '@containerd-ts/api/services/namespaces';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { buildLayer, gzipLayer } from '@containerd-ts/archive/testing';
import { Connection } from '@containerd-ts/client';
import { GCService } from '@containerd-ts/service-gc/api';
import { Client, Metadata, credentials, status as grpcStatus } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ESCAPE_MARKER, NAMESPACES, type Target, arbitraries, bodies, sha256, unframe } from './fuzz-messages.js';
import { type StartedDaemon, repoRoot, startDaemon } from './harness.js';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const runs = Number(process.env.FUZZ_RUNS ?? 1000);
const BATCH = 25;
const CALL_DEADLINE_MS = 15_000;
const ENDLESS_DEADLINE_MS = 250;
console.log(`gRPC fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${runs}`);

const identity = (b: Buffer) => b;
const codeName = (code: number) => grpcStatus[code] ?? String(code);

interface Case {
  body: Buffer;
  namespace: string | undefined;
  lease: string | undefined;
}

interface Answer {
  code: number;
  details: string;
}

let daemon: StartedDaemon;
let fuzzDir: string;
let client: Client;
let targets: Target[];
const codes = new Map<string, Map<string, number>>();
/** The first details seen per method and code (UNKNOWN and INTERNAL), for the summary. */
const samples = new Map<string, string>();
const elapsed = new Map<string, number>();
const globalListing = new Map<string, string[]>();
const watched = ['/', '/etc', '/run', '/var/lib', '/root', '/home', repoRoot];

function call(t: Target, c: Case): Promise<Answer> {
  const md = new Metadata();
  if (c.namespace !== undefined) md.set('containerd-namespace', c.namespace);
  if (c.lease !== undefined) md.set('containerd-lease', c.lease);
  const deadline = Date.now() + (t.kind === 'endless' ? ENDLESS_DEADLINE_MS : CALL_DEADLINE_MS);
  return new Promise((resolve) => {
    const done = (code: number, details: string) => resolve({ code, details });
    if (t.kind === 'unary') {
      client.makeUnaryRequest(t.path, identity, identity, c.body, md, { deadline }, (err) => (err ? done(err.code, err.details) : done(0, '')));
      return;
    }
    if (t.kind === 'bidi') {
      const stream = client.makeBidiStreamRequest(t.path, identity, identity, md, { deadline });
      stream.on('data', () => {});
      stream.on('error', () => {});
      stream.on('status', (s) => done(s.code, s.details));
      for (const msg of unframe(c.body)) stream.write(msg);
      stream.end();
      return;
    }
    const stream = client.makeServerStreamRequest(t.path, identity, identity, c.body, md, { deadline });
    stream.on('data', () => {});
    stream.on('error', () => {});
    stream.on('status', (s) => done(s.code, s.details));
  });
}

/** A daemon answer that is not a status of its own: no answer in time, or no daemon. */
function failureOf(t: Target, a: Answer): string | undefined {
  if (a.code === grpcStatus.DEADLINE_EXCEEDED && t.kind !== 'endless') return `no answer within ${CALL_DEADLINE_MS} ms`;
  if (a.code === grpcStatus.UNAVAILABLE && !/unavailable$|locked/.test(a.details)) return `transport failure: ${a.details}`;
  // A JavaScript exception escaping a handler is a bug, whatever code carries it.
  if (/TypeError|RangeError|ReferenceError|Cannot read prop|is not a function|Maximum call stack/.test(a.details)) return `internal error leaked: ${a.details}`;
  return undefined;
}

async function healthy(): Promise<void> {
  expect(daemon.child.exitCode, `daemon exited: ${daemon.logs().slice(-4000)}`).toBeNull();
  const r = await new Promise<{ status: number }>((resolve, reject) =>
    client.makeUnaryRequest(HealthService.check.path, HealthService.check.requestSerialize, HealthService.check.responseDeserialize, { service: '' }, new Metadata(), { deadline: Date.now() + 5000 }, (err, res) =>
      err || !res ? reject(err ?? new Error('no health answer')) : resolve(res),
    ),
  );
  expect(r.status).toBe(1);
}

function listing(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

async function writeBlob(conn: Connection, namespace: string, data: Buffer, lease?: string): Promise<string> {
  const digest = sha256(data);
  const call = conn.bidiStream(ContentService.write, { namespace, lease });
  const answers = call[Symbol.asyncIterator]();
  const base = { ref: `seed-${digest}`, total: data.length, expected: digest, labels: {} };
  call.write({ ...base, action: WriteAction.WRITE, offset: 0, data });
  await answers.next();
  call.write({ ...base, action: WriteAction.COMMIT, offset: data.length, data: new Uint8Array() });
  await answers.next();
  call.end();
  return digest;
}

const contentRoot = () => join(daemon.root, 'io.containerd.content.v1.content');

/** Every blob on disk has the digest its name says. */
function checkBlobDigests(): string[] {
  const dir = join(contentRoot(), 'blobs', 'sha256');
  const names = listing(dir);
  for (const hex of names) {
    const actual = createHash('sha256').update(readFileSync(join(dir, hex))).digest('hex');
    expect(actual, `blob ${hex}`).toBe(hex);
  }
  return names;
}

beforeAll(async () => {
  fuzzDir = await mkdtemp(join(tmpdir(), 'fuzz-grpc-'));
  for (const d of ['home', 'tmp', 'cwd', 'sandbox/a', 'sandbox/b', 'sandbox/u', 'sandbox/w', 'sandbox/l']) await mkdir(join(fuzzDir, d), { recursive: true });
  await writeFile(join(fuzzDir, 'sandbox/b/file'), 'b');
  for (const d of watched) globalListing.set(d, listing(d));
  daemon = await startDaemon({ env: { ...process.env, HOME: join(fuzzDir, 'home'), TMPDIR: join(fuzzDir, 'tmp') }, cwd: join(fuzzDir, 'cwd') });
  client = new Client(`unix://${daemon.socket}`, credentials.createInsecure());
  // Blobs for the digest pool: layers Diff/Apply can unpack, and bytes that are none.
  const conn = new Connection(daemon.socket);
  const digests: string[] = [];
  try {
    const layer = buildLayer([{ name: 'etc/', type: 'dir' }, { name: 'etc/hostname', data: 'fz\n' }, { name: `../${ESCAPE_MARKER}`, data: 'x' }, { name: 'link', type: 'symlink', linkname: '/' }, { name: `link/${ESCAPE_MARKER}2`, data: 'y' }, { name: '.wh.gone' }]);
    for (const ns of NAMESPACES) {
      digests.push(await writeBlob(conn, ns, layer), await writeBlob(conn, ns, gzipLayer(layer)), await writeBlob(conn, ns, Buffer.from(`not a layer ${ns}`)));
    }
  } finally {
    conn.close();
  }
  const sandboxDirs = ['a', 'b', 'u', 'w', 'l', 'missing'].map((d) => join(fuzzDir, 'sandbox', d));
  targets = arbitraries({ digests: [...new Set(digests)], sandboxDirs }).targets;
}, 120_000);

afterAll(async () => {
  client?.close();
  await daemon?.cleanup();
  if (fuzzDir) await rm(fuzzDir, { recursive: true, force: true });
  const table = [...codes].map(([path, m]) => `${path.padEnd(60)} ${String(Math.round(elapsed.get(path) ?? 0)).padStart(6)} ms  ${[...m].map(([c, n]) => `${c}=${n}`).join(' ')}`);
  console.log(`gRPC fuzz codes (FUZZ_SEED=${seed}):\n${table.join('\n')}`);
  console.log(`gRPC fuzz UNKNOWN/INTERNAL details, first of each:\n${[...samples].map(([k, d]) => `${k}: ${d}`).join('\n')}`);
});

const namespaceArb = fc.oneof({ weight: 8, arbitrary: fc.constantFrom<string | undefined>(...NAMESPACES) }, { weight: 1, arbitrary: fc.constantFrom(undefined, '', 'Bad Name', '../x') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });
const leaseArb = fc.oneof({ weight: 6, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: fc.constantFrom('l0', 'l1') }, { weight: 1, arbitrary: fc.string({ maxLength: 8 }) });

async function fuzzTargets(list: readonly Target[], numCases: number): Promise<void> {
  const caseArb = fc.oneof(...list.map((t) => fc.record({ t: fc.constant(t), body: bodies(t), namespace: namespaceArb, lease: leaseArb })));
  await fc.assert(
    fc.asyncProperty(fc.array(caseArb, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const answers = await Promise.all(batch.map((c) => call(c.t, c)));
      answers.forEach((a, i) => {
        const c = batch[i]!;
        const perMethod = codes.get(c.t.path) ?? new Map<string, number>();
        codes.set(c.t.path, perMethod);
        perMethod.set(codeName(a.code), (perMethod.get(codeName(a.code)) ?? 0) + 1);
        const key = `${c.t.path} ${codeName(a.code)}`;
        if ((a.code === grpcStatus.UNKNOWN || a.code === grpcStatus.INTERNAL) && !samples.has(key)) samples.set(key, a.details);
        const failure = failureOf(c.t, a);
        if (failure) throw new Error(`${c.t.path} ns=${JSON.stringify(c.namespace)} body=${c.body.toString('hex')}: ${failure}\n${daemon.logs().slice(-3000)}`);
      });
      await healthy();
    }),
    { seed, numRuns: Math.ceil(numCases / BATCH), endOnFailure: true },
  );
}

describe('gRPC fuzzing of a real daemon', () => {
  it(`answers ${runs} valid, mutated and random requests per method with a status, and stays healthy`, async () => {
    const started = performance.now();
    for (const t of targets) {
      const start = performance.now();
      await fuzzTargets([t], runs);
      elapsed.set(t.path, performance.now() - start);
    }
    // Then all methods interleaved, so calls act on each other's objects concurrently.
    await fuzzTargets(targets, runs);
    console.log(`gRPC fuzz: ${targets.length} methods, ${runs} cases each + ${runs} mixed, ${Math.round(performance.now() - started)} ms`);
    for (const t of targets) expect(codes.get(t.path), t.path).toBeDefined();
  }, 1_800_000);

  it('writes nothing outside its root, state, socket directory and temp dir', () => {
    expect(listing(join(fuzzDir, 'home'))).toEqual([]);
    expect(listing(join(fuzzDir, 'cwd'))).toEqual([]);
    for (const [dir, before] of globalListing) {
      const added = listing(dir).filter((n) => !before.includes(n));
      expect(added, `new entries in ${dir}`).toEqual([]);
    }
    // Names that layers and requests tried to place outside: only inside the daemon's dirs.
    // Escapes land at `/`, in a parent of the daemon's dirs, or next to them: shallow searches suffice.
    const prune = ['(', '-path', daemon.dir, '-o', '-path', join(fuzzDir, 'sandbox'), '-o', '-path', join(fuzzDir, 'tmp'), ')', '-prune', '-o'];
    const found = [
      ['/', '3'],
      [tmpdir(), '4'],
    ].flatMap(([top, depth]) => spawnSync('find', [top!, '-xdev', '-maxdepth', depth!, ...prune, '-name', `*${ESCAPE_MARKER}*`, '-print'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean));
    expect(found).toEqual([]);
  }, 120_000);

  it('keeps every blob equal to its digest, and after a full collection no record or file is orphaned', async () => {
    checkBlobDigests();
    const conn = new Connection(daemon.socket, { timeoutMs: 60_000 });
    try {
      const namespaces = (await conn.unary(NamespacesService.list, { filter: '' })).namespaces.map((n) => n.name);
      for (const namespace of namespaces) {
        for (const lease of (await conn.unary(LeasesService.list, { filters: [] }, { namespace })).leases) {
          await conn.unary(LeasesService.delete, { id: lease.id, sync: false }, { namespace });
        }
      }
      await conn.unary(GCService.collect, {});
      checkBlobDigests();
      const recorded = new Set<string>();
      let ingests = 0;
      const snapshots = new Map<string, number>();
      for (const namespace of namespaces) {
        for await (const page of conn.serverStream(ContentService.list, { filters: [] }, { namespace })) {
          for (const info of page.info) {
            const file = join(contentRoot(), 'blobs', 'sha256', info.digest.slice('sha256:'.length));
            expect(existsSync(file), `content record ${namespace}/${info.digest} without its blob`).toBe(true);
            recorded.add(info.digest.slice('sha256:'.length));
          }
        }
        ingests += (await conn.unary(ContentService.listStatuses, { filters: [] }, { namespace })).statuses.length;
        for (const snapshotter of ['native', 'overlayfs']) {
          const names = new Set<string>();
          const infos = [];
          for await (const page of conn.serverStream(SnapshotsService.list, { snapshotter, filters: [] }, { namespace })) infos.push(...page.info);
          for (const info of infos) names.add(info.name);
          for (const info of infos) if (info.parent) expect(names.has(info.parent), `${snapshotter} ${namespace}/${info.name}: parent ${info.parent} missing`).toBe(true);
          snapshots.set(snapshotter, (snapshots.get(snapshotter) ?? 0) + infos.length);
        }
      }
      expect(listing(join(contentRoot(), 'ingest')).length, 'ingest directories vs ingest records').toBe(ingests);
      const explain = await conn.unary(GCService.explain, {});
      for (const [snapshotter, count] of snapshots) {
        const dirs = listing(join(daemon.root, `io.containerd.snapshotter.v1.${snapshotter}`, 'snapshots'));
        expect(dirs.length, `${snapshotter} snapshot directories ${JSON.stringify(dirs)} vs ${count} snapshot records; gc explain: ${JSON.stringify(explain)}`).toBe(count);
      }
      expect(explain.backend.blobs).toEqual([]);
      expect(explain.backend.ingests).toEqual([]);
      for (const keys of Object.values(explain.backend.snapshots)) expect(keys).toEqual([]);
      // An open ingest keeps the blob it expects, as in containerd, even one another namespace
      // wrote and then deleted (a shared ingest, which ListStatuses does not show). Once every
      // ingest is aborted, a collection leaves only blobs that a content record knows.
      const open = explain.keep.filter((k) => k.object.type === 'ingest').map((k) => k.object);
      expect(open.length, 'ingests the collector keeps').toBeGreaterThanOrEqual(ingests);
      for (const { namespace, key } of open) await conn.unary(ContentService.abort, { ref: key }, { namespace });
      await conn.unary(GCService.collect, {});
      expect(checkBlobDigests().filter((b) => !recorded.has(b)), 'blobs no content record knows').toEqual([]);
      expect(listing(join(contentRoot(), 'ingest')), 'ingest directories after every ingest is aborted').toEqual([]);
    } finally {
      conn.close();
    }
    await healthy();
  }, 300_000);
});
