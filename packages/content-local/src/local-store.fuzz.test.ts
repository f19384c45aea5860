// Property-based fuzzing of the local content store (containerd's FuzzContentStore and
// beyond): random sequences of open/write/truncate/commit/close/abort/delete on a few refs,
// checked step by step against a model, then the store's invariants on disk: every blob's
// bytes match its digest, ingests are exactly the ones not committed or aborted, offsets
// and sizes are what was written. Seeded: FUZZ_SEED and FUZZ_RUNS override. A run that
// hangs fails on its own with the seed and the sequence; on a slow machine the cases stop
// after FUZZ_TIME_LIMIT_MS (default 2 min) instead of running into the test's timeout: the
// remaining ones pass without running (fast-check's own time limit would abandon the case
// in flight, leaving it to run on behind the test's back).
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writer } from '@containerd-ts/content';
import { ContainerdError } from '@containerd-ts/errdefs';
import { backgroundContext as ctx } from '@containerd-ts/namespaces';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalContentStore } from './local-store.js';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000);
const timeLimitMs = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 120_000);
console.log(`content store fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns} FUZZ_TIME_LIMIT_MS=${timeLimitMs}`);

const sha256 = (data: Uint8Array) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const refs = ['r0', 'r1', 'r2'];
const chunk = fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(new Uint8Array([1, 2, 3]), new Uint8Array()));

type Op =
  | { op: 'open'; ref: string; expectExisting: boolean }
  | { op: 'write'; ref: string; data: Uint8Array }
  | { op: 'truncate'; ref: string }
  | { op: 'commit'; ref: string; size: 'right' | 'wrong' | 'zero'; digest: 'right' | 'wrong' | 'none' }
  | { op: 'close'; ref: string }
  | { op: 'abort'; ref: string }
  | { op: 'delete'; which: number };

const ref = fc.constantFrom(...refs);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('open' as const), ref, expectExisting: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), ref, data: chunk }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), ref }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('commit' as const), ref, size: fc.constantFrom('right' as const, 'wrong' as const, 'zero' as const), digest: fc.constantFrom('right' as const, 'wrong' as const, 'none' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close' as const), ref }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('abort' as const), ref }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), which: fc.nat() }) },
);

/** The error kind a promise rejects with, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof ContainerdError) return err.kind;
    throw err;
  }
}

let base: string;
beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'content-fuzz-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('content store fuzzing', () => {
  it('keeps blobs equal to their digests and ingests to what was written, through any sequence', async () => {
    let run = 0;
    const deadline = Date.now() + timeLimitMs;
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 16 }), async (ops) => {
        if (Date.now() > deadline) return;
        const root = join(base, String(run++));
        const store = await LocalContentStore.open(root, { lockWaitMs: 1 });
        const blobs = new Map<string, Buffer>();
        const ingests = new Map<string, Buffer>();
        const open = new Map<string, Writer>();
        try {
          for (const o of ops) {
            switch (o.op) {
              case 'open': {
                // Sometimes expect a blob that is already there: refused before anything else.
                const existing = [...blobs.keys()][0];
                const expected = o.expectExisting && existing ? existing : '';
                if (open.has(o.ref)) {
                  expect(await outcome(store.writer(ctx, { ref: o.ref, expected }))).toBe('unavailable');
                  break;
                }
                if (expected) {
                  expect(await outcome(store.writer(ctx, { ref: o.ref, expected }))).toBe('already-exists');
                  break;
                }
                const w = await store.writer(ctx, { ref: o.ref });
                const data = ingests.get(o.ref) ?? Buffer.alloc(0);
                ingests.set(o.ref, data);
                open.set(o.ref, w);
                expect((await w.status()).offset).toBe(data.length);
                expect(w.digest()).toBe(sha256(data));
                break;
              }
              case 'write': {
                const w = open.get(o.ref);
                if (!w) break;
                await w.write(o.data);
                ingests.set(o.ref, Buffer.concat([ingests.get(o.ref) ?? Buffer.alloc(0), o.data]));
                break;
              }
              case 'truncate': {
                const w = open.get(o.ref);
                if (!w) break;
                await w.truncate(0);
                ingests.set(o.ref, Buffer.alloc(0));
                break;
              }
              case 'commit': {
                const w = open.get(o.ref);
                if (!w) break;
                const data = ingests.get(o.ref) ?? Buffer.alloc(0);
                const size = o.size === 'right' ? data.length : o.size === 'wrong' ? data.length + 1 : 0;
                const digest = sha256(data);
                const expected = o.digest === 'right' ? digest : o.digest === 'wrong' ? sha256(Buffer.concat([data, Buffer.from('x')])) : '';
                const result = await outcome(w.commit(size, expected));
                if (o.size === 'wrong' || o.digest === 'wrong') {
                  // As containerd's: the writer is closed, the ingest kept for a resume.
                  expect(result).toBe('failed-precondition');
                  open.delete(o.ref);
                  expect((await store.status(ctx, o.ref)).offset).toBe(data.length);
                } else if (blobs.has(digest)) {
                  expect(result).toBe('already-exists');
                  ingests.delete(o.ref);
                  open.delete(o.ref);
                } else {
                  expect(result).toBe('ok');
                  blobs.set(digest, data);
                  ingests.delete(o.ref);
                  open.delete(o.ref);
                }
                break;
              }
              case 'close': {
                await open.get(o.ref)?.close();
                open.delete(o.ref);
                break;
              }
              case 'abort': {
                const result = await outcome(store.abort(ctx, o.ref));
                expect(result).toBe(ingests.has(o.ref) ? 'ok' : 'not-found');
                ingests.delete(o.ref);
                open.delete(o.ref);
                expect(await outcome(store.status(ctx, o.ref))).toBe('not-found');
                break;
              }
              case 'delete': {
                const digests = [...blobs.keys(), sha256(Buffer.from('never written'))];
                const digest = digests[o.which % digests.length] as string;
                expect(await outcome(store.delete(ctx, digest))).toBe(blobs.has(digest) ? 'ok' : 'not-found');
                blobs.delete(digest);
                break;
              }
            }
          }
          for (const w of open.values()) await w.close();
          // The disk: exactly the model's blobs, each equal to its digest, read-only.
          const files = (await readdir(join(root, 'blobs', 'sha256')).catch(() => [])).sort();
          expect(files).toEqual([...blobs.keys()].map((d) => d.slice('sha256:'.length)).sort());
          for (const [digest, data] of blobs) {
            const bytes = await readFile(join(root, 'blobs', 'sha256', digest.slice('sha256:'.length)));
            expect(sha256(bytes)).toBe(digest);
            expect(bytes.equals(data)).toBe(true);
            expect((await store.info(ctx, digest)).size).toBe(data.length);
          }
          // Ingests: exactly those neither committed nor aborted, at the offset written.
          const statuses = await store.listStatuses(ctx);
          expect(statuses.map((s) => s.ref).sort()).toEqual([...ingests.keys()].sort());
          for (const s of statuses) expect(s.offset).toBe(ingests.get(s.ref)?.length);
          expect((await readdir(join(root, 'ingest'))).length).toBe(ingests.size);
        } finally {
          for (const w of open.values()) await w.close().catch(() => {});
          await rm(root, { recursive: true, force: true });
        }
      }),
      // `timeout`: one sequence of at most 16 steps takes milliseconds; one that takes 30 s hangs.
      { seed, numRuns, endOnFailure: true, timeout: 30_000 },
    );
    console.log(`content store fuzz: ${run} of ${numRuns} sequences run`);
  }, 600_000);
});
