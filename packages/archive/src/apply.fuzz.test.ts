// Property-based fuzzing of layer application (containerd's FuzzApply and beyond): random
// layers — names with `..`, absolute and long names, PAX records, files, directories,
// symlinks and hard links pointing out of the root, fifos, devices, whiteouts and opaque
// markers — and mutated tar bytes, applied to a native-snapshotter-like directory and to
// an overlay upper directory. Nothing outside the target may change, and every failure is
// a clean error; and the apply worker (the default) leaves the same tree, digest and
// error as the applier on the calling thread. Seeded: FUZZ_SEED and FUZZ_RUNS override.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyLayer, type WhiteoutMode } from './apply.js';
import { buildLayer, gzipLayer, type LayerEntry, snapshotTree } from './testing.js';

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const numRuns = Number(process.env.FUZZ_RUNS ?? 1000);
// Per test: on a slow machine, the cases left after this pass without running instead of
// running into the test's timeout (fast-check's own time limit would abandon the case in
// flight, leaving it to run on behind the test's back).
const timeLimitMs = Number(process.env.FUZZ_TIME_LIMIT_MS ?? 120_000);
/** When a test's cases stop running: `timeLimitMs` from now. */
const deadlineFromNow = () => {
  const deadline = Date.now() + timeLimitMs;
  return () => Date.now() > deadline;
};
console.log(`layer apply fuzz: FUZZ_SEED=${seed} FUZZ_RUNS=${numRuns} FUZZ_TIME_LIMIT_MS=${timeLimitMs}`);
// A case that takes 60 s hangs: it fails on its own, with the seed and the layer.
const params = { seed, numRuns, endOnFailure: true, timeout: 60_000 } as const;

let base: string;
let outside: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'apply-fuzz-'));
  // What a layer must never reach: a directory beside the targets, with a file, a
  // directory and a symlink to aim at.
  outside = join(base, 'outside');
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(outside, 'sentinel'), 'untouched');
  symlinkSync('sentinel', join(outside, 'link'));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

function arbitraries(outsideDir: string) {
  const component = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'etc', 'dir', 'x y', 'l') },
    { weight: 2, arbitrary: fc.constantFrom('..', '.', '', '.wh.a', '.wh.b', '.wh..wh..opq', '.wh..', '.wh...', 'link') },
    { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes('/') && !s.includes('\u0000')) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 300 }).map((n) => 'n'.repeat(n)) },
  );
  const name = fc.oneof(
    fc.array(component, { minLength: 1, maxLength: 4 }).map((cs) => cs.join('/')),
    fc.array(component, { minLength: 1, maxLength: 2 }).map((cs) => `/${cs.join('/')}`),
    fc.constantFrom(`${outsideDir}/sentinel`, `${outsideDir}/new`, '../outside/new', '../../outside/sentinel', 'link/new', 'link/sentinel'),
  );
  const target = fc.oneof(name, fc.constantFrom('/', '..', '../outside', outsideDir, `${outsideDir}/sentinel`, `${outsideDir}/dir`, '../outside/sentinel', 'sentinel'));
  // Device numbers harmless to open or write: null, zero, a whiteout, the demo major.
  const device = fc.constantFrom([1, 3], [1, 5], [0, 0], [42, 0], [42, 7]);
  const pax = fc.dictionary(fc.constantFrom('path', 'linkpath', 'mtime', 'atime', 'uid', 'gid', 'size', 'GNU.sparse.major', 'SCHILY.xattr.user.a', 'LIBARCHIVE.xattr.user.b', 'comment'), fc.oneof(target, fc.constantFrom('1', '-1', '1.5', 'x', '99999999999999999999', '')), { maxKeys: 2 });
  const xattrs = fc.dictionary(fc.constantFrom('user.a', 'user.b', 'trusted.overlay.opaque', 'security.capability', 'bogus'), fc.oneof(fc.constant('y'), fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b))), { maxKeys: 2 });
  const entry: fc.Arbitrary<LayerEntry> = fc.oneof(
    fc.record({ name, type: fc.constant('file' as const), data: fc.oneof(fc.string({ maxLength: 32 }), fc.constant('')), mode: fc.constantFrom(0o644, 0o4755, 0o000, 0o7777), pax, xattrs }),
    fc.record({ name, type: fc.constant('dir' as const), mode: fc.constantFrom(0o755, 0o000, 0o1777), pax }),
    fc.record({ name, type: fc.constantFrom('symlink' as const, 'link' as const), linkname: target, pax }),
    fc.record({ name, type: fc.constant('fifo' as const) }),
    fc.tuple(name, fc.constantFrom('char' as const, 'block' as const), device).map(([n, type, [devmajor, devminor]]) => ({ name: n, type, devmajor, devminor })),
  );
  return { layer: fc.array(entry, { maxLength: 8 }) };
}

/** Whether an error is one the applier means (not a JavaScript exception escaping it). */
function isCleanError(err: unknown): boolean {
  if (!(err instanceof Error) || err.message === '') return false;
  return !(err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError || err instanceof SyntaxError);
}

let counter = 0;
async function applyAndCheck(tar: Buffer, mode: WhiteoutMode, worker: boolean): Promise<void> {
  const dir = join(base, `case-${++counter}`);
  const root = join(dir, 'root');
  const lower = join(dir, 'lower');
  mkdirSync(root, { recursive: true });
  mkdirSync(join(lower, 'a'), { recursive: true });
  writeFileSync(join(lower, 'a', 'b'), 'lower');
  const before = snapshotTree(outside);
  try {
    await applyLayer(root, Readable.from([tar]), { whiteouts: mode, parents: mode === 'overlay' ? [lower] : undefined, worker });
  } catch (err) {
    if (!isCleanError(err)) throw new Error(`not a clean error: ${String(err)}`, { cause: err });
  }
  expect(snapshotTree(outside)).toEqual(before);
  expect(readdirSync(dir).sort()).toEqual(['lower', 'root']);
  expect(readdirSync(base).sort()).toEqual([`case-${counter}`, 'outside']);
  rmSync(dir, { recursive: true, force: true });
}

/** What an apply leaves: its result or its error (class, message, code), and the tree. */
async function outcomeOf(root: string, tar: Buffer, mode: WhiteoutMode, lower: string, worker: boolean, since: bigint) {
  let result: unknown;
  try {
    result = await applyLayer(root, Readable.from([tar]), { whiteouts: mode, parents: mode === 'overlay' ? [lower] : undefined, worker });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    result = { error: e.constructor.name, name: e.name, message: e.message, code: e.code, cause: String(e.cause) };
  }
  // Times the layer does not give (implicit parents, whiteout devices, an entry that
  // failed half-way) are the clock's: left out of the comparison.
  const tree = snapshotTree(root, { xattrFilter: (n) => n !== 'security.selinux' }).map((e) =>
    BigInt(e.mtimeNs) >= since ? { ...e, mtimeNs: 'now' } : e,
  );
  return { result, tree };
}

describe('layer apply fuzzing', () => {
  it('applies random layers in the apply worker to the same tree, digest and error as on the calling thread', async () => {
    const { layer } = arbitraries(outside);
    const pastDeadline = deadlineFromNow();
    await fc.assert(
      fc.asyncProperty(layer, fc.constantFrom<WhiteoutMode>('remove', 'overlay', 'aufs'), fc.boolean(), async (entries, mode, gzip) => {
        if (pastDeadline()) return;
        const tar = gzip ? gzipLayer(buildLayer(entries)) : buildLayer(entries);
        const dir = join(base, `same-${++counter}`);
        const root = join(dir, 'root');
        const lower = join(dir, 'lower');
        mkdirSync(join(lower, 'a'), { recursive: true });
        writeFileSync(join(lower, 'a', 'b'), 'lower');
        const since = BigInt(Date.now() - 2000) * 1_000_000n;
        mkdirSync(root);
        const here = await outcomeOf(root, tar, mode, lower, false, since);
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root);
        const inWorker = await outcomeOf(root, tar, mode, lower, true, since);
        expect(inWorker).toEqual(here);
        rmSync(dir, { recursive: true, force: true });
      }),
      params,
    );
  }, 600_000);


  it('applies random layers without touching anything outside the target, failing only with clean errors', async () => {
    const { layer } = arbitraries(outside);
    const pastDeadline = deadlineFromNow();
    await fc.assert(
      fc.asyncProperty(layer, fc.constantFrom<WhiteoutMode>('remove', 'overlay', 'aufs'), fc.boolean(), async (entries, mode, gzip) => {
        if (pastDeadline()) return;
        const tar = buildLayer(entries);
        await applyAndCheck(gzip ? gzipLayer(tar) : tar, mode, false);
      }),
      params,
    );
  }, 600_000);

  it('answers mutated layer bytes (flipped, cut, spliced) with clean errors, in and out of the worker', async () => {
    const { layer } = arbitraries(outside);
    const mutation = fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), cut: fc.boolean(), junk: fc.uint8Array({ maxLength: 16 }) });
    const pastDeadline = deadlineFromNow();
    await fc.assert(
      fc.asyncProperty(layer, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.boolean(), fc.boolean(), async (entries, mutations, gzip, worker) => {
        if (pastDeadline()) return;
        let tar = gzip ? gzipLayer(buildLayer(entries)) : buildLayer(entries);
        for (const m of mutations) {
          const at = m.at % (tar.length + 1);
          if (m.cut) tar = Buffer.concat([tar.subarray(0, at), Buffer.from(m.junk)]);
          else if (at < tar.length) {
            tar = Buffer.from(tar);
            tar[at] = (tar[at] ?? 0) ^ (1 << m.bit);
          }
        }
        await applyAndCheck(tar, 'remove', worker);
      }),
      params,
    );
  }, 600_000);
});
