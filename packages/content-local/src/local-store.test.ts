import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, readBlob, writeBlob } from '@containerd-ts/content';
import { contentSuite } from '@containerd-ts/content/testsuite';
import { ContainerdError, GrpcCode, toGrpcStatus } from '@containerd-ts/errdefs';
import { backgroundContext as ctx } from '@containerd-ts/namespaces';
import { compareTimestamps, now } from '@containerd-ts/timestamp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryLabelStore } from './label-store.js';
import { LocalContentStore } from './local-store.js';
import { formatGoDuration, formatGoTime } from './locks.js';
import { SYNC_READ_MAX } from './reader.js';

contentSuite('LocalContentStore', async ({ root }) => ({
  store: await LocalContentStore.open(root, { labelStore: new MemoryLabelStore(), lockWaitMs: 10 }),
  ctx,
  cleanup: () => {},
}));

let root: string;
let store: LocalContentStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'content-local-'));
  store = await LocalContentStore.open(root, { lockWaitMs: 30 });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const ingestDir = (ref: string) => join(root, 'ingest', createHash('sha256').update(ref).digest('hex'));
const blobFile = (digest: string) => join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));

/** The error a promise rejects with (fails the test when it resolves). */
async function failure(p: Promise<unknown>): Promise<ContainerdError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ContainerdError) return err;
    throw err;
  }
  throw new Error('expected a failure');
}

async function put(data: Buffer, ref = `put-${Math.random()}`): Promise<string> {
  const digest = digestOf(data);
  await writeBlob(store, ctx, ref, [data], { digest, size: data.length });
  return digest;
}

/** Bytes this process has read through read(2)-like calls so far. */
async function bytesRead(): Promise<number> {
  const io = await readFile('/proc/self/io', 'utf8');
  return Number(/^rchar: (\d+)$/m.exec(io)?.[1]);
}

describe('LocalContentStore layout', () => {
  it('keeps an ingest as containerd does and commits it into blobs/sha256', async () => {
    expect(await readdir(root)).toEqual(['ingest']);
    const data = Buffer.from('hello content');
    const w = await store.writer(ctx, { ref: 'default/1/hello', total: data.length });
    await w.write(data);
    const dir = ingestDir('default/1/hello');
    expect((await readdir(dir)).sort()).toEqual(['data', 'ref', 'startedat', 'total', 'updatedat']);
    expect(await readFile(join(dir, 'ref'), 'utf8')).toBe('default/1/hello');
    expect(await readFile(join(dir, 'total'), 'utf8')).toBe(String(data.length));
    expect(await readFile(join(dir, 'startedat'), 'utf8')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    expect(await readFile(join(dir, 'data'))).toEqual(data);

    await w.commit(data.length, digestOf(data));
    const blob = blobFile(digestOf(data));
    expect(await readFile(blob)).toEqual(data);
    expect((await stat(blob)).mode & 0o777).toBe(0o444);
    expect(await readdir(join(root, 'ingest'))).toEqual([]);
    await w.close(); // closing a committed writer is a no-op
  });

  it('reads Go-formatted timestamps from an ingest written by containerd', async () => {
    const dir = ingestDir('from-go');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'ref'), 'from-go');
    await writeFile(join(dir, 'startedat'), '2024-03-01T10:00:00.123456789Z');
    await writeFile(join(dir, 'updatedat'), '2024-03-01T11:00:00.5+01:00');
    await writeFile(join(dir, 'total'), '10');
    await writeFile(join(dir, 'data'), 'abcd');
    await utimes(join(dir, 'data'), new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    expect(await store.status(ctx, 'from-go')).toEqual({
      ref: 'from-go',
      offset: 4,
      total: 10,
      expected: '',
      // Nanoseconds kept.
      startedAt: { seconds: 1709287200, nanos: 123_456_789 },
      updatedAt: { seconds: 1709287200, nanos: 500_000_000 },
    });
    const w = await store.writer(ctx, { ref: 'from-go' });
    expect(w.digest()).toBe(digestOf('abcd'));
    await w.write(Buffer.from('efghij'));
    await w.commit(10, digestOf('abcdefghij'));
  });
});

describe('LocalContentStore writers', () => {
  it('refuses a second writer on an active ref with unavailable, naming how long it was held', async () => {
    const w = await store.writer(ctx, { ref: 'busy' });
    const err = await failure(store.writer(ctx, { ref: 'busy' }));
    expect(err.kind).toBe('unavailable');
    expect(toGrpcStatus(err).code).toBe(GrpcCode.UNAVAILABLE);
    expect(err.message).toMatch(
      /^ref busy locked for \d+(\.\d+)?(ns|µs|ms|s) \(since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC\): unavailable$/,
    );
    // A waiting writer gets the ref as soon as the holder lets go.
    const slow = await LocalContentStore.open(root, { lockWaitMs: 5000 });
    const waiting = slow.writer(ctx, { ref: 'busy' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await w.close();
    const w2 = await waiting;
    await w2.close();
  });

  it('formats lock durations and times as Go does', () => {
    expect(formatGoDuration(0n)).toBe('0s');
    expect(formatGoDuration(750n)).toBe('750ns');
    expect(formatGoDuration(1_500n)).toBe('1.5µs');
    expect(formatGoDuration(2_250_000n)).toBe('2.25ms');
    expect(formatGoDuration(63_500_000_000n)).toBe('1m3.5s');
    expect(formatGoDuration(3_600_000_000_000n)).toBe('1h0m0s');
    expect(formatGoTime(new Date('2024-05-01T10:00:00.120Z'))).toBe('2024-05-01 10:00:00.12 +0000 UTC');
    expect(formatGoTime(new Date('2024-05-01T10:00:00Z'))).toBe('2024-05-01 10:00:00 +0000 UTC');
  });

  it('checks size and digest at commit, commits nothing on a mismatch and keeps the ingest', async () => {
    const data = randomBytes(1000);
    const good = digestOf(data);
    const wrong = digestOf('something else');
    const w = await store.writer(ctx, { ref: 'mismatch' });
    await w.write(data);
    const digestErr = await failure(w.commit(1000, wrong));
    expect(digestErr.message).toBe(`unexpected commit digest ${good}, expected ${wrong}: failed precondition`);
    expect(toGrpcStatus(digestErr).code).toBe(GrpcCode.FAILED_PRECONDITION);
    expect((await failure(w.write(data))).message).toBe('cannot write on closed writer: failed precondition');

    const w2 = await store.writer(ctx, { ref: 'mismatch' });
    const sizeErr = await failure(w2.commit(999, ''));
    expect(sizeErr.message).toBe('unexpected commit size 1000, expected 999: failed precondition');

    expect((await failure(store.info(ctx, good))).kind).toBe('not-found');
    expect(await readdir(root)).toEqual(['ingest']);
    expect(await store.status(ctx, 'mismatch')).toMatchObject({ ref: 'mismatch', offset: 1000 });
    expect(await readFile(join(ingestDir('mismatch'), 'data'))).toEqual(data);
  });

  it('answers already-exists for known content, at open and at commit, and drops the ingest', async () => {
    const data = Buffer.from('known');
    const digest = await put(data);
    const atOpen = await failure(store.writer(ctx, { ref: 'again', expected: digest }));
    expect(atOpen.message).toBe(`content ${digest}: already exists`);
    expect(toGrpcStatus(atOpen).code).toBe(GrpcCode.ALREADY_EXISTS);
    // The refused writer did not keep the ref.
    const w = await store.writer(ctx, { ref: 'again' });
    await w.write(data);
    expect((await failure(w.commit(0, ''))).message).toBe(`content ${digest}: already exists`);
    expect(await readdir(join(root, 'ingest'))).toEqual([]);
  });

  it('never reads the data again at commit, and once on resume', async () => {
    const size = 64 << 20;
    const chunk = randomBytes(1 << 20);
    const hash = createHash('sha256');
    const w = await store.writer(ctx, { ref: 'big', total: size });
    for (let i = 0; i < 63; i++) {
      await w.write(chunk);
      hash.update(chunk);
    }
    await w.close();

    const beforeResume = await bytesRead();
    const w2 = await store.writer(ctx, { ref: 'big', total: size });
    const resumeRead = (await bytesRead()) - beforeResume;
    expect((await w2.status()).offset).toBe(63 << 20);
    expect(resumeRead).toBeGreaterThanOrEqual(63 << 20);
    expect(resumeRead).toBeLessThan(64 << 20);

    await w2.write(chunk);
    hash.update(chunk);
    const expected = `sha256:${hash.digest('hex')}`;
    const beforeCommit = await bytesRead();
    const started = performance.now();
    await w2.commit(size, expected);
    const commitMs = performance.now() - started;
    expect((await bytesRead()) - beforeCommit).toBeLessThan(1 << 20);
    expect((await store.info(ctx, expected)).size).toBe(size);
    expect(commitMs).toBeLessThan(5000);
  });

  it('survives a failed write (disk full): refuses to go on, then resumes from what is on disk', async () => {
    const small = join(root, 'small');
    await mkdir(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small]);
    try {
      const full = await LocalContentStore.open(small);
      const w = await full.writer(ctx, { ref: 'too-big' });
      const chunk = randomBytes(64 << 10);
      let failed: unknown;
      for (let i = 0; i < 8 && !failed; i++) await w.write(chunk).catch((err: unknown) => (failed = err));
      expect(String(failed)).toMatch(/ENOSPC/);
      expect((await failure(w.write(chunk))).message).toMatch(/^writer for ref too-big failed .*ENOSPC.*: failed precondition$/);
      expect((await failure(w.commit(0, ''))).kind).toBe('failed-precondition');
      // Commit ended the writer; a new one resumes with a digest of exactly what the file holds.
      const again = await full.writer(ctx, { ref: 'too-big' });
      const onDisk = await readFile(join(small, 'ingest', createHash('sha256').update('too-big').digest('hex'), 'data'));
      expect((await again.status()).offset).toBe(onDisk.length);
      expect(again.digest()).toBe(digestOf(onDisk));
      await again.close();
      await full.abort(ctx, 'too-big');
      expect(await full.listStatuses(ctx)).toEqual([]);
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('truncates to zero or to a prefix, keeping the digest in step', async () => {
    const w = await store.writer(ctx, { ref: 'trunc' });
    await w.write(Buffer.from('abcdefgh'));
    await w.truncate(3);
    expect(w.digest()).toBe(digestOf('abc'));
    expect((await w.status()).offset).toBe(3);
    await w.write(Buffer.from('XYZ'));
    expect((await failure(w.truncate(7))).kind).toBe('invalid-argument');
    await w.commit(6, digestOf('abcXYZ'));
    expect((await readBlob(store, ctx, { digest: digestOf('abcXYZ') })).toString()).toBe('abcXYZ');
  });

  it('applies concurrent calls on one writer in order', async () => {
    const w = await store.writer(ctx, { ref: 'ordered' });
    const parts = Array.from({ length: 50 }, (_, i) => Buffer.from(`part-${i};`));
    await Promise.all(parts.map((p) => w.write(p)));
    const all = Buffer.concat(parts);
    await w.commit(all.length, digestOf(all));
    expect((await readBlob(store, ctx, { digest: digestOf(all) })).equals(all)).toBe(true);
  });

  it('refuses an empty ref and an invalid expected digest', async () => {
    expect((await failure(store.writer(ctx, { ref: '' }))).message).toBe('ref must not be empty: invalid argument');
    expect((await failure(store.writer(ctx, { ref: 'x', expected: 'sha256:abc' }))).message).toBe(
      'calculating expected blob path for writer: cannot calculate blob path from invalid digest: invalid checksum digest length: invalid argument',
    );
  });
});

describe('LocalContentStore ingests', () => {
  it('lists statuses with ref filters and reports the live writer', async () => {
    const a = await store.writer(ctx, { ref: 'layer-a', total: 10, expected: digestOf('0123456789') });
    await a.write(Buffer.from('0123'));
    const b = await store.writer(ctx, { ref: 'config-b' });
    await b.close();
    expect((await store.listStatuses(ctx)).map((s) => s.ref).sort()).toEqual(['config-b', 'layer-a']);
    const [active] = await store.listStatuses(ctx, ['ref==layer-a']);
    expect(active).toMatchObject({ ref: 'layer-a', offset: 4, total: 10, expected: digestOf('0123456789') });
    expect((await store.listStatuses(ctx, ['ref~=^conf'])).map((s) => s.ref)).toEqual(['config-b']);
    expect((await failure(store.listStatuses(ctx, ['ref=='])))).toBeInstanceOf(ContainerdError);
    expect((await failure(store.status(ctx, 'nope'))).kind).toBe('not-found');
    await a.close();
  });

  it('aborts an ingest, stopping its open writer and freeing the ref', async () => {
    const w = await store.writer(ctx, { ref: 'doomed' });
    await w.write(Buffer.from('partial'));
    await store.abort(ctx, 'doomed');
    await expect(stat(ingestDir('doomed'))).rejects.toThrow(/ENOENT/);
    expect((await failure(w.write(Buffer.from('more')))).message).toBe('ingest ref "doomed": not found');
    expect((await failure(w.commit(0, ''))).kind).toBe('not-found');
    await w.close();
    const fresh = await store.writer(ctx, { ref: 'doomed' });
    expect((await fresh.status()).offset).toBe(0);
    await fresh.close();
    await store.abort(ctx, 'doomed');
    expect((await failure(store.abort(ctx, 'doomed'))).message).toBe('ingest ref "doomed": not found');
  });

  it('starts afresh from an ingest a crash left unreadable or inconsistent', async () => {
    const data = Buffer.from('the real content');
    const cases: [string, (dir: string) => Promise<void>][] = [
      ['no-ref', (dir) => rm(join(dir, 'ref'))],
      ['bad-time', (dir) => writeFile(join(dir, 'startedat'), '')],
      ['other-ref', (dir) => writeFile(join(dir, 'ref'), 'someone else')],
      ['no-data', (dir) => rm(join(dir, 'data'))],
    ];
    for (const [ref, damage] of cases) {
      const w = await store.writer(ctx, { ref, total: 100 });
      await w.write(randomBytes(100));
      await w.close();
      await damage(ingestDir(ref));
      const again = await store.writer(ctx, { ref, total: data.length });
      expect((await again.status()).offset, ref).toBe(0);
      await again.write(data);
      await again.commit(data.length, digestOf(data)).catch((err: unknown) => {
        if (!(err instanceof ContainerdError && err.kind === 'already-exists')) throw err;
      });
      await again.close();
    }
    expect((await readBlob(store, ctx, { digest: digestOf(data) })).equals(data)).toBe(true);
    // Nothing unreadable is left to confuse `content active`.
    expect(await store.listStatuses(ctx)).toEqual([]);
  });

  it('restarts an ingest resumed with a different total', async () => {
    const w = await store.writer(ctx, { ref: 'resized', total: 100 });
    await w.write(Buffer.from('xx'));
    await w.close();
    const again = await store.writer(ctx, { ref: 'resized', total: 50 });
    expect(await again.status()).toMatchObject({ offset: 0, total: 50 });
    await again.close();
  });

  it('removes stale ingests, broken ones included, but not active or recent ones', async () => {
    const old = new Date(Date.now() - 3_600_000);
    for (const ref of ['stale', 'recent']) {
      const w = await store.writer(ctx, { ref });
      await w.write(Buffer.from('x'));
      await w.close();
    }
    await writeFile(join(ingestDir('stale'), 'updatedat'), old.toISOString());
    await utimes(join(ingestDir('stale'), 'data'), old, old);
    const broken = join(root, 'ingest', 'f'.repeat(64));
    await mkdir(broken);
    await utimes(broken, old, old);
    const active = await store.writer(ctx, { ref: 'active' });
    await writeFile(join(ingestDir('active'), 'updatedat'), old.toISOString());
    await utimes(join(ingestDir('active'), 'data'), old, old);

    expect((await store.cleanupIngests(60_000)).sort()).toEqual(['f'.repeat(64), 'stale']);
    expect((await store.listStatuses(ctx)).map((s) => s.ref).sort()).toEqual(['active', 'recent']);
    await active.close();
    const refs: string[] = [];
    await store.walkStatusRefs(ctx, (ref) => void refs.push(ref));
    expect(refs.sort()).toEqual(['active', 'recent']);
  });
});

describe('LocalContentStore blobs', () => {
  it('reads by offset and size, and streams ranges', async () => {
    const data = randomBytes(3 << 20);
    const digest = await put(data);
    const ra = await store.readerAt(ctx, { digest });
    expect(ra.size).toBe(data.length);
    expect((await ra.readAt(1000, 5000)).equals(data.subarray(1000, 6000))).toBe(true);
    expect((await ra.readAt(data.length - 10, 100)).equals(data.subarray(-10))).toBe(true);
    expect((await ra.readAt(data.length + 5, 10)).length).toBe(0);
    // reads up to SYNC_READ_MAX are made on the calling thread, larger ones in the pool
    for (const length of [SYNC_READ_MAX - 1, SYNC_READ_MAX, SYNC_READ_MAX + 1, 1 << 20]) {
      expect((await ra.readAt(777, length)).equals(data.subarray(777, 777 + length))).toBe(true);
      expect((await ra.readAt(data.length - length + 3, length)).equals(data.subarray(data.length - length + 3))).toBe(true);
    }
    const collect = async (offset?: number, length?: number) => {
      const parts: Buffer[] = [];
      for await (const c of ra.stream(offset, length)) parts.push(c);
      return Buffer.concat(parts);
    };
    expect((await collect()).equals(data)).toBe(true);
    expect((await collect(12345, 2 << 20)).equals(data.subarray(12345, 12345 + (2 << 20)))).toBe(true);
    expect((await collect(data.length - 3)).equals(data.subarray(-3))).toBe(true);
    expect((await collect(5, 0)).length).toBe(0);
    expect((await failure(ra.readAt(-1, 4))).kind).toBe('invalid-argument');
    await ra.close();
    await ra.close();

    const missing = digestOf('missing');
    expect((await failure(store.readerAt(ctx, { digest: missing }))).message).toBe(
      `blob ${missing} expected at ${blobFile(missing)}: blob not found: not found`,
    );
  });

  it('reports info from the file, without labels when it has no label store', async () => {
    const before = now();
    const digest = await put(Buffer.from('info me'));
    const after = now();
    const info = await store.info(ctx, digest);
    expect(info).toMatchObject({ digest, size: 7, labels: {} });
    // The commit time, to the nanosecond (set with utimensat, read from the bigint stat).
    expect(compareTimestamps(info.createdAt, before)).toBeGreaterThan(0);
    expect(compareTimestamps(info.createdAt, after)).toBeLessThan(0);
    const err = await failure(store.update(ctx, { digest, labels: { a: 'b' } }));
    expect(err.message).toBe('update not supported on immutable content store: failed precondition');
    expect((await failure(store.info(ctx, digestOf('nope')))).message).toBe(`content ${digestOf('nope')}: not found`);
    expect((await failure(store.info(ctx, 'sha256:XYZ'))).kind).toBe('invalid-argument');
  });

  it('refuses an update of a field other than labels', async () => {
    const labelled = await LocalContentStore.open(root, { labelStore: new MemoryLabelStore() });
    const digest = await put(Buffer.from('labelled'));
    const err = await failure(labelled.update(ctx, { digest, labels: {} }, ['size']));
    expect(err.message).toBe(`cannot update "size" field on content info "${digest}": invalid argument`);
  });

  it('walks blobs with filters on digest and labels, and deletes', async () => {
    const labels = new MemoryLabelStore();
    const labelled = await LocalContentStore.open(root, { labelStore: labels });
    const a = await put(Buffer.from('blob a'));
    const b = await put(Buffer.from('blob b'));
    await labelled.update(ctx, { digest: a, labels: { 'containerd.io/gc.root': 'x', empty: '' } });
    await writeFile(join(root, 'blobs', 'sha256', 'not-a-digest'), 'junk');
    await mkdir(join(root, 'blobs', 'md5'));

    const walked = async (filters?: string[]) => {
      const seen: string[] = [];
      await labelled.walk(ctx, (info) => void seen.push(info.digest), filters);
      return seen;
    };
    expect(await walked()).toEqual([a, b].sort());
    expect(await walked([`digest==${b}`])).toEqual([b]);
    expect(await walked(['labels."containerd.io/gc.root"'])).toEqual([a]);
    expect(await walked(['labels.empty==""'])).toEqual([a]);
    expect(await walked([`digest==${b}`, 'labels."containerd.io/gc.root"==x'])).toEqual([a, b].sort());
    expect((await failure(walked(['labels.=='])))).toBeInstanceOf(ContainerdError);
    // digests only, as a collection lists them: the same blobs, strays and directories left out
    await mkdir(join(root, 'blobs', 'sha256', 'c'.repeat(64)));
    const digests: string[] = [];
    await labelled.walkDigests(ctx, (d) => void digests.push(d));
    expect(digests.sort()).toEqual(await walked());

    await labelled.delete(ctx, a);
    expect(await walked()).toEqual([b]);
    expect(await labels.get(a)).toEqual({});
    expect((await failure(labelled.delete(ctx, a))).message).toBe(`content ${a}: not found`);
    expect((await failure(labelled.delete(ctx, 'sha256:zz'))).message).toBe(
      'calculating blob path for delete: cannot calculate blob path from invalid digest: invalid checksum digest length: invalid argument',
    );
  });
});
