// The content store conformance suite: the cases of containerd's content/testsuite,
// registered as vitest tests against any ContentStore factory. The local store runs
// it alone; the metadata layer runs it again, with a second namespace for the
// cross-namespace cases.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAlreadyExists, isFailedPrecondition, isUnavailable } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import { type Timestamp, compareTimestamps, formatRFC3339Nano, now } from '@containerd-ts/timestamp';
import { describe, expect, it } from 'vitest';
import { EMPTY_DIGEST, digestOf } from './digest.js';
import { type CopySource, copyToWriter, readBlob, writeBlob } from './helpers.js';
import type { ContentStore, Info, Status, Writer } from './types.js';

/** What a factory hands the suite for one test. */
export interface ContentSuiteEnv {
  store: ContentStore;
  /** Context the test runs in (namespace, lease…); the local store ignores it. */
  ctx: RequestContext;
  /** Releases the store; the suite removes `root` afterwards. */
  cleanup(): void | Promise<void>;
  /**
   * A context for another namespace on the same store. The cross-namespace cases are
   * skipped when it is absent (as containerd's suite skips without a context wrapper).
   */
  secondContext?: () => RequestContext | Promise<RequestContext>;
}

/** Builds a fresh store in `root` (an empty temporary directory owned by the suite). */
export type ContentSuiteFactory = (options: { root: string }) => ContentSuiteEnv | Promise<ContentSuiteEnv>;

export interface ContentSuiteOptions {
  /**
   * Which cross-namespace cases apply: `shared` registers CrossNamespaceAppend and
   * CrossNamespaceShare, `isolated` registers CrossNamespaceIsolate (containerd's
   * `content_sharing_policy`). Default `shared`.
   */
  sharingPolicy?: 'shared' | 'isolated';
  /** Per-test timeout in ms (default 20 s: stores may wait briefly on a locked ref). */
  timeout?: number;
}

type Check = (env: ContentSuiteEnv, skip: (note?: string) => void) => Promise<void>;

/** Registers the content store conformance cases under `describe(name)`. */
export function contentSuite(name: string, factory: ContentSuiteFactory, options: ContentSuiteOptions = {}): void {
  const policy = options.sharingPolicy ?? 'shared';
  const timeout = options.timeout ?? 20_000;
  const cases: [string, Check][] = [
    ['Writer', checkContentStoreWriter],
    ['UpdateStatus', checkUpdateStatus],
    ['CommitExists', checkCommitExists],
    ['Resume', checkResumeWriter],
    ['ResumeTruncate', checkResume(resumeTruncate)],
    ['ResumeDiscard', checkResume(resumeDiscard)],
    ['ResumeCopy', checkResume(resumeCopy)],
    ['ResumeCopySeeker', checkResume(resumeCopySeeker)],
    ['ResumeCopyReaderAt', checkResume(resumeCopyReaderAt)],
    ['SmallBlob', checkSmallBlob],
    ['Labels', checkLabels],
    ['CommitErrorState', checkCommitErrorState],
  ];
  if (policy === 'shared') {
    cases.push(['CrossNamespaceAppend', checkCrossNSAppend], ['CrossNamespaceShare', checkCrossNSShare]);
  } else {
    cases.push(['CrossNamespaceIsolate', checkCrossNSIsolate]);
  }
  describe(name, () => {
    for (const [caseName, check] of cases) {
      it(
        caseName,
        async (context) => {
          const root = await mkdtemp(join(tmpdir(), `content-suite-${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
          try {
            const env = await factory({ root });
            try {
              await check(env, (note) => context.skip(note));
            } finally {
              await env.cleanup();
            }
          } finally {
            await rm(root, { recursive: true, force: true });
          }
        },
        timeout,
      );
    }
  });
}

const gcRootLabels = (): Record<string, string> => ({
  'containerd.io/gc.root': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
});

function createContent(size: number): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: digestOf(data) };
}

/** Writes `data` in pieces of `chunk` bytes, as io.CopyBuffer with a small buffer does. */
async function writeInChunks(w: Writer, data: Uint8Array, chunk: number): Promise<void> {
  for (let i = 0; i < data.length; i += chunk) await w.write(data.subarray(i, Math.min(i + chunk, data.length)));
}


function expectBetween(what: string, actual: Timestamp, from: Timestamp, to: Timestamp): void {
  if (compareTimestamps(actual, from) < 0 || compareTimestamps(actual, to) > 0) {
    throw new Error(
      `unexpected ${what} ${formatRFC3339Nano(actual)}, expected between ${formatRFC3339Nano(from)} and ${formatRFC3339Nano(to)}`,
    );
  }
}

async function checkStatus(
  w: Writer,
  expected: Pick<Status, 'ref' | 'offset' | 'total'>,
  digest: string,
  preStart: Timestamp,
  postStart: Timestamp,
  preUpdate: Timestamp,
  postUpdate: Timestamp,
): Promise<void> {
  const st = await w.status();
  expect(w.digest(), 'writer digest').toBe(digest);
  expect(st.ref, 'status ref').toBe(expected.ref);
  expect(st.offset, 'status offset').toBe(expected.offset);
  expect(st.total, 'status total').toBe(expected.total);
  expectBetween('started at time', st.startedAt, preStart, postStart);
  expectBetween('updated at time', st.updatedAt, preUpdate, postUpdate);
}

async function checkInfo(
  store: ContentStore,
  ctx: RequestContext,
  digest: string,
  expected: Pick<Info, 'size'> & { labels?: Record<string, string> },
  c1: Timestamp,
  c2: Timestamp,
  u1: Timestamp,
  u2: Timestamp,
): Promise<void> {
  const info = await store.info(ctx, digest);
  expect(info.digest, 'info digest').toBe(digest);
  expect(info.size, 'info size').toBe(expected.size);
  expectBetween('created at time', info.createdAt, c1, c2);
  expectBetween('updated at time', info.updatedAt, u1, u2);
  expect(info.labels ?? {}, 'info labels').toEqual(expected.labels ?? {});
}

async function checkContent(
  store: ContentStore,
  ctx: RequestContext,
  digest: string,
  expected: Pick<Info, 'size'>,
  c1: Timestamp,
  c2: Timestamp,
  u1: Timestamp,
  u2: Timestamp,
): Promise<void> {
  await checkInfo(store, ctx, digest, expected, c1, c2, u1, u2);
  const data = await readBlob(store, ctx, { digest });
  expect(data.length, 'blob size').toBe(expected.size);
  expect(digestOf(data), 'blob digest').toBe(digest);
}

async function checkRefNotAvailable(store: ContentStore, ctx: RequestContext, ref: string): Promise<void> {
  let w: Writer | undefined;
  try {
    w = await store.writer(ctx, { ref });
  } catch (err) {
    if (!isUnavailable(err)) throw new Error(`expected unavailable error, got ${String(err)}`, { cause: err });
    return;
  }
  await w.close();
  throw new Error(`writer created with ref ${ref}, expected it to be in use`);
}

/** Runs `fn`, which must fail with an error of the kind `is` recognises. */
async function expectFailure(what: string, fn: () => Promise<unknown>, is: (err: unknown) => boolean): Promise<void> {
  let failed: unknown;
  try {
    await fn();
  } catch (err) {
    failed = err;
  }
  if (failed === undefined) throw new Error(`expected ${what} error`);
  if (!is(failed)) throw new Error(`unexpected error (wanted ${what}): ${String(failed)}`, { cause: failed });
}

const checkContentStoreWriter: Check = async ({ store, ctx }) => {
  const labels = gcRootLabels();
  const c1 = createContent(256);
  const c2 = createContent(256);
  const c3 = createContent(256);
  const c4 = createContent(256);
  const writers = [
    { content: c1, writer: await store.writer(ctx, { ref: 'c1' }) },
    { content: c2, writer: await store.writer(ctx, { ref: 'c2', total: c2.data.length }) },
    { content: c3, writer: await store.writer(ctx, { ref: 'c3', expected: c3.digest }) },
    { content: c4, writer: await store.writer(ctx, { ref: 'c4', total: c4.data.length, expected: c4.digest }) },
  ];
  try {
    for (const { content, writer } of writers) {
      await writeInChunks(writer, content.data, 32);
      const preCommit = now();
      await writer.commit(0, '', { labels });
      const postCommit = now();
      expect(writer.digest(), 'commit digest').toBe(content.digest);
      await checkInfo(store, ctx, content.digest, { size: content.data.length, labels }, preCommit, postCommit, preCommit, postCommit);
    }
  } finally {
    for (const { writer } of writers) await writer.close();
  }
};

const checkResumeWriter: Check = async ({ store, ctx }) => {
  const ref = 'cb';
  const { data, digest } = createContent(256);
  const first = data.subarray(0, 128);
  const second = data.subarray(128);

  const preStart = now();
  const w1 = await store.writer(ctx, { ref, total: 256, expected: digest });
  const postStart = now();
  let preUpdate = postStart;
  await w1.write(first);
  let postUpdate = now();

  const digestFirst = digestOf(first);
  const expected = { ref, offset: first.length, total: data.length };
  await checkStatus(w1, expected, digestFirst, preStart, postStart, preUpdate, postUpdate);
  await w1.close();

  const w2 = await store.writer(ctx, { ref, total: 256, expected: digest });
  try {
    // The resumed writer reports what the first one left.
    await checkStatus(w2, expected, digestFirst, preStart, postStart, preUpdate, postUpdate);

    preUpdate = now();
    await w2.write(second);
    postUpdate = now();
    await checkStatus(w2, { ...expected, offset: data.length }, digest, preStart, postStart, preUpdate, postUpdate);

    const preCommit = now();
    await w2.commit(0, '');
    const postCommit = now();
    await w2.close();
    await checkInfo(store, ctx, digest, { size: 256 }, preCommit, postCommit, preCommit, postCommit);
  } finally {
    await w2.close();
  }
};

const checkCommitExists: Check = async ({ store, ctx }) => {
  const c1 = createContent(256);
  await writeBlob(store, ctx, 'c1', [c1.data], { digest: c1.digest, size: 0 });
  for (const [i, expected] of [c1.digest, ''].entries()) {
    const w = await store.writer(ctx, { ref: `c1-commitexists-${i}` });
    try {
      await w.write(c1.data);
      await expectFailure(`(${i}) already exists`, () => w.commit(c1.data.length, expected), isAlreadyExists);
    } finally {
      await w.close();
    }
  }
};

const checkCommitErrorState: Check = async ({ store, ctx }) => {
  const c1 = createContent(256);
  const d2 = createContent(256).digest;
  await writeBlob(store, ctx, 'c1', [c1.data], { digest: c1.digest, size: 0 });
  const ref = 'c1-commiterror-state';
  const size = c1.data.length;

  // Commit of existing content, with and without the expected digest.
  let w = await store.writer(ctx, { ref });
  await w.write(c1.data);
  await checkRefNotAvailable(store, ctx, ref);
  await expectFailure('already exists', () => w.commit(size, c1.digest), isAlreadyExists);
  await w.close();

  w = await store.writer(ctx, { ref });
  await checkRefNotAvailable(store, ctx, ref);
  await w.write(c1.data);
  await expectFailure('already exists', () => w.commit(size, ''), isAlreadyExists);
  await w.close();

  // A wrong digest and then a wrong size are refused and leave the ingest resumable.
  w = await store.writer(ctx, { ref });
  await checkRefNotAvailable(store, ctx, ref);
  await w.write(Buffer.concat([c1.data, Buffer.from('more')]));
  await expectFailure('wrong digest', () => w.commit(size + 4, d2), isFailedPrecondition);
  await w.close();

  w = await store.writer(ctx, { ref });
  await checkRefNotAvailable(store, ctx, ref);
  await expectFailure('wrong size', () => w.commit(size, ''), isFailedPrecondition);
  await w.close();

  w = await store.writer(ctx, { ref });
  await checkRefNotAvailable(store, ctx, ref);
  await w.commit(size + 4, '');
  await w.close();

  // The ref is free again after a commit.
  w = await store.writer(ctx, { ref });
  await w.write(c1.data);
  await checkRefNotAvailable(store, ctx, ref);
  await expectFailure('already exists', () => w.commit(size, c1.digest), isAlreadyExists);
  await w.close();

  w = await store.writer(ctx, { ref });
  await checkRefNotAvailable(store, ctx, ref);
  await w.close();

  w = await store.writer(ctx, { ref });
  await w.close();
};

const checkUpdateStatus: Check = async ({ store, ctx }) => {
  const labels = gcRootLabels();
  const { data, digest } = createContent(256);
  const preStart = now();
  const w1 = await store.writer(ctx, { ref: 'c1', total: 256, expected: digest });
  try {
    const postStart = now();
    const expected = { ref: 'c1', total: 256, offset: 0 };
    await checkStatus(w1, expected, EMPTY_DIGEST, preStart, postStart, preStart, postStart);

    for (const [from, to] of [
      [0, 64],
      [64, 192],
      [192, 256],
    ] as const) {
      const preUpdate = now();
      await w1.write(data.subarray(from, to));
      const postUpdate = now();
      await checkStatus(w1, { ...expected, offset: to }, digestOf(data.subarray(0, to)), preStart, postStart, preUpdate, postUpdate);
    }

    const preCommit = now();
    await w1.commit(0, '', { labels });
    const postCommit = now();
    await checkInfo(store, ctx, digest, { size: 256, labels }, preCommit, postCommit, preCommit, postCommit);
  } finally {
    await w1.close();
  }
};

const checkLabels: Check = async ({ store, ctx }) => {
  const { data, digest } = createContent(256);
  const w1 = await store.writer(ctx, { ref: 'c1-checklabels', total: 256, expected: digest });
  const rootTime = gcRootLabels()['containerd.io/gc.root'] ?? '';
  let labels: Record<string, string> = { k1: 'v1', k2: 'v2', 'containerd.io/gc.root': rootTime };
  let preCommit: Timestamp;
  let postCommit: Timestamp;
  try {
    await w1.write(data);
    preCommit = now();
    await w1.commit(0, '', { labels });
    postCommit = now();
  } finally {
    await w1.close();
  }
  await checkInfo(store, ctx, digest, { size: 256, labels }, preCommit, postCommit, preCommit, postCommit);

  // Replacing all labels.
  labels = { k1: 'newvalue', k3: 'v3', 'containerd.io/gc.root': rootTime };
  let preUpdate = now();
  const replaced = await store.update(ctx, { digest, labels });
  let postUpdate = now();
  expect(replaced.labels, 'labels returned by update').toEqual(labels);
  await checkInfo(store, ctx, digest, { size: 256, labels }, preCommit, postCommit, preUpdate, postUpdate);

  // Updating named labels: k3 is absent from the update, so it is removed.
  labels = { k1: 'v1', 'containerd.io/gc.root': rootTime };
  preUpdate = now();
  const updated = await store.update(ctx, { digest, labels }, ['labels.k3', 'labels.k1']);
  postUpdate = now();
  expect(updated.labels, 'labels returned by update').toEqual(labels);
  await checkInfo(store, ctx, digest, { size: 256, labels }, preCommit, postCommit, preUpdate, postUpdate);
};

type ResumeFn = (w: Writer, data: Buffer, written: number, size: number, digest: string) => Promise<void>;

function checkResume(resume: ResumeFn): Check {
  return async ({ store, ctx }) => {
    const sizes = [500, 5000, 50000];
    const truncations = [0.0, 0.1, 0.5, 0.9, 1.0];
    for (const [i, size] of sizes.entries()) {
      for (const [j, tp] of truncations.entries()) {
        const { data, digest } = createContent(size);
        const limit = Math.floor(size * tp);
        const ref = `ref-${i}-${j}`;

        let w = await store.writer(ctx, { ref, total: size, expected: digest });
        try {
          await w.write(data.subarray(0, limit));
        } finally {
          await w.close();
        }

        w = await store.writer(ctx, { ref, total: size, expected: digest });
        let preCommit: Timestamp;
        let postCommit: Timestamp;
        try {
          const st = await w.status();
          expect(st.offset, 'resumed offset').toBe(limit);
          preCommit = now();
          await resume(w, data, limit, size, digest);
          postCommit = now();
        } finally {
          await w.close();
        }
        await checkInfo(store, ctx, digest, { size }, preCommit, postCommit, preCommit, postCommit);
      }
    }
  };
}

const resumeTruncate: ResumeFn = async (w, data, _written, size, digest) => {
  await w.truncate(0);
  expect((await w.status()).offset, 'offset after truncate').toBe(0);
  expect(w.digest(), 'digest after truncate').toBe(EMPTY_DIGEST);
  await writeInChunks(w, data, 1024);
  await w.commit(size, digest);
};

const resumeDiscard: ResumeFn = async (w, data, written, size, digest) => {
  await writeInChunks(w, data.subarray(written), 1024);
  await w.commit(size, digest);
};

function* chunksOf(data: Buffer, from = 0, chunk = 1024): Generator<Buffer> {
  for (let i = from; i < data.length; i += chunk) yield data.subarray(i, Math.min(i + chunk, data.length));
}

/** A plain source: the copy must discard the prefix the writer already has. */
const resumeCopy: ResumeFn = async (w, data, _written, size, digest) => {
  const source: CopySource = (async function* () {
    yield* chunksOf(data);
  })();
  await copyToWriter(w, source, size, digest);
};

/** A seekable source: the copy must seek to the writer's offset instead of reading the prefix. */
const resumeCopySeeker: ResumeFn = async (w, data, written, size, digest) => {
  let position = 0;
  const source: CopySource = {
    seek(offset: number) {
      position = offset;
    },
    async *[Symbol.asyncIterator]() {
      yield* chunksOf(data, position);
    },
  };
  await copyToWriter(w, source, size, digest);
  expect(position, 'seek position').toBe(written);
};

/** A random-access source: the copy must read from the writer's offset on. */
const resumeCopyReaderAt: ResumeFn = async (w, data, written, size, digest) => {
  let lowest = Number.POSITIVE_INFINITY;
  const source: CopySource = {
    async readAt(offset: number, length: number) {
      lowest = Math.min(lowest, offset);
      return data.subarray(offset, offset + length);
    },
  };
  await copyToWriter(w, source, size, digest);
  if (written < size) expect(lowest, 'lowest offset read').toBe(written);
};

const checkSmallBlob: Check = async ({ store, ctx }) => {
  const blob = Buffer.from('foobar');
  const digest = digestOf(blob);
  const w = await store.writer(ctx, { ref: 'SmallBlob', total: blob.length, expected: digest });
  try {
    await w.write(blob);
    await w.commit(blob.length, digest);
  } finally {
    await w.close();
  }
  // Reading past the end returns what there is.
  const ra = await store.readerAt(ctx, { digest });
  try {
    expect(ra.size).toBe(blob.length);
    const read = await ra.readAt(0, blob.length + 1);
    expect(digestOf(read), `read ${JSON.stringify(read.toString())}`).toBe(digest);
    const streamed: Buffer[] = [];
    for await (const chunk of ra.stream(0, blob.length + 1)) streamed.push(chunk);
    expect(Buffer.concat(streamed).toString()).toBe('foobar');
  } finally {
    await ra.close();
  }
};

const checkCrossNSShare: Check = async ({ store, ctx, secondContext }, skip) => {
  if (!secondContext) return skip('multiple contexts not supported');
  const size = 1000;
  const { data, digest } = createContent(size);
  const ref = `ref-${size}`;
  const t1 = now();
  await writeBlob(store, ctx, ref, [data], { digest, size });

  const ctx2 = await secondContext();
  const w = await store.writer(ctx2, { ref, total: size, expected: digest });
  try {
    const t2 = now();
    await checkStatus(w, { ref, offset: size, total: size }, digest, t1, t2, t1, t2);
    await w.commit(size, digest);
    const t3 = now();
    await checkContent(store, ctx, digest, { size }, t1, t3, t1, t3);
    await checkContent(store, ctx2, digest, { size }, t1, t3, t1, t3);
  } finally {
    await w.close();
  }
};

const checkCrossNSAppend: Check = async ({ store, ctx, secondContext }, skip) => {
  if (!secondContext) return skip('multiple contexts not supported');
  const size = 1000;
  const { data, digest } = createContent(size);
  const ref = `ref-${size}`;
  const t1 = now();
  await writeBlob(store, ctx, ref, [data], { digest, size });

  const ctx2 = await secondContext();
  const extra = Buffer.from('appended bytes');
  const data2 = Buffer.concat([data, extra]);
  const digest2 = digestOf(data2);

  const w = await store.writer(ctx2, { ref, total: size, expected: digest });
  try {
    const t2 = now();
    await checkStatus(w, { ref, offset: size, total: size }, digest, t1, t2, t1, t2);
    await w.write(extra);
    await w.commit(data2.length, digest2);
    const t3 = now();
    await checkContent(store, ctx, digest, { size }, t1, t3, t1, t3);
    await checkContent(store, ctx2, digest2, { size: data2.length }, t1, t3, t1, t3);
  } finally {
    await w.close();
  }
};

const checkCrossNSIsolate: Check = async ({ store, ctx, secondContext }, skip) => {
  if (!secondContext) return skip('multiple contexts not supported');
  const size = 1000;
  const { data, digest } = createContent(size);
  const ref = `ref-${size}`;
  await writeBlob(store, ctx, ref, [data], { digest, size });
  const t2 = now();

  const ctx2 = await secondContext();
  const w = await store.writer(ctx2, { ref, total: size, expected: digest });
  try {
    const t4 = now();
    // Nothing of the other namespace's ingest or blob shows through.
    const st = await w.status();
    expect(w.digest(), 'writer digest').toBe(EMPTY_DIGEST);
    expect(st.offset, 'status offset').toBe(0);
    expectBetween('started at time', st.startedAt, t2, t4);
  } finally {
    await w.close();
  }
};
