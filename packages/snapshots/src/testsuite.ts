// The snapshotter conformance suite: the cases of containerd's snapshots/testsuite,
// registered as vitest tests against any Snapshotter factory, plus checks of the error
// classes and of usage. Tests mount what the snapshotter returns for real, so they need root.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isAlreadyExists,
  isFailedPrecondition,
  isInvalidArgument,
  isNotFound,
} from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import { MNT_DETACH, umount2 } from '@containerd-ts/sys';
import { type Timestamp, compareTimestamps, formatRFC3339Nano, now } from '@containerd-ts/timestamp';
import { describe, expect, it } from 'vitest';
import {
  type Applier,
  apply,
  checkDirectoryEqual,
  chown,
  createDir,
  createFile,
  hardlink,
  removeAll,
  renamePath,
} from './fstest.js';
import { mountAll, unmountAll } from './mount.js';
import { readMountInfo } from './mountinfo.js';
import { type Info, Kind, type Snapshotter, type SnapshotOptions } from './types.js';

export * from './fstest.js';
export * from './testing.js';

/** What a factory hands the suite for one test. */
export interface SnapshotterSuiteEnv {
  snapshotter: Snapshotter;
  /** Context the calls are made in; `{ namespace: 'testsuite' }` when absent. */
  ctx?: RequestContext;
  /** Releases what the factory made, after the test (the suite removes `root` itself). */
  cleanup?: () => void | Promise<void>;
}

/** Builds a fresh snapshotter in `root` (an empty directory owned by the suite). */
export type SnapshotterSuiteFactory = (options: { root: string }) => SnapshotterSuiteEnv | Promise<SnapshotterSuiteEnv>;

export interface SnapshotterSuiteOptions {
  /**
   * Directory each test's temporary directory is made in (default: the OS temp dir). A
   * function is read when the test runs, so a `beforeAll` can prepare it (a loop-device file system).
   */
  tmpDir?: string | (() => string);
  /** Cases to skip, by name, with the reason. */
  skip?: Record<string, string>;
  /** Per-test timeout in ms (default 60 s; 128LayersMount does 128 prepare/mount/commit rounds). */
  timeout?: number;
}

interface Run {
  sn: Snapshotter;
  ctx: RequestContext;
  work: string;
}

type Check = (run: Run) => Promise<void>;

/** Labels every snapshot of the suite gets, as containerd's suite (a GC root). */
const opt = (): SnapshotOptions => ({
  labels: { 'containerd.io/gc.root': new Date().toISOString().replace(/\.\d+Z$/, 'Z') },
});

/** Registers the snapshotter conformance cases under `describe(name)`. */
export function snapshotterSuite(name: string, factory: SnapshotterSuiteFactory, options: SnapshotterSuiteOptions = {}): void {
  const cases: [string, Check][] = [
    ['Basic', checkBasic],
    ['StatActive', checkStatActive],
    ['StatCommitted', checkStatCommitted],
    ['Transitivity', checkTransitivity],
    ['PrepareViewFailing', checkPrepareView],
    ['Update', checkUpdate],
    ['Remove', checkRemove],
    ['Walk', checkWalk],
    ['LayerFileUpdate', checkLayerFileUpdate],
    ['RemoveDirectoryInLowerLayer', checkRemoveDirectoryInLowerLayer],
    ['Chown', checkChown],
    ['DirectoryPermissionOnCommit', checkDirectoryPermissionOnCommit],
    ['RemoveIntermediateSnapshot', checkRemoveIntermediateSnapshot],
    ['DeletedFilesInChildSnapshot', checkDeletedFilesInChildSnapshot],
    ['MoveFileFromLowerLayer', checkFileFromLowerLayer],
    ['Rename', checkRename],
    ['ViewReadonly', checkViewReadonly],
    ['StatInWalk', checkStatInWalk],
    ['StatMany', checkStatMany],
    ['CloseTwice', checkCloseTwice],
    ['RootPermission', checkRootPermission],
    ['128LayersMount', check128LayersMount],
    ['ErrorClasses', checkErrorClasses],
    ['Usage', checkUsage],
  ];
  const timeout = options.timeout ?? 60_000;
  describe(name, () => {
    for (const [caseName, check] of cases) {
      const reason = options.skip?.[caseName];
      if (reason !== undefined) {
        it.skip(`${caseName} (${reason})`, () => {});
        continue;
      }
      it(
        caseName,
        async () => {
          const base = typeof options.tmpDir === 'function' ? options.tmpDir() : (options.tmpDir ?? tmpdir());
          const tmp = await mkdtemp(join(base, `snapshot-suite-${name.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
          try {
            const root = join(tmp, 'root');
            const work = join(tmp, 'work');
            await mkdir(root, { mode: 0o777 });
            await mkdir(work, { mode: 0o777 });
            const env = await factory({ root });
            try {
              await check({ sn: env.snapshotter, ctx: env.ctx ?? { namespace: 'testsuite' }, work });
            } finally {
              await env.cleanup?.();
            }
          } finally {
            await detachMountsUnder(tmp);
            // Best effort, as containerd's suite: a file system may keep read-only parts.
            await rm(tmp, { recursive: true, force: true }).catch(() => {});
          }
        },
        timeout,
      );
    }
  });
}

/** Detaches every mount at or below `dir`, deepest first, so removing `dir` never reaches into a snapshot. */
async function detachMountsUnder(dir: string): Promise<void> {
  const mounts = (await readMountInfo())
    .map((m) => m.mountpoint)
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of mounts) {
    try {
      umount2(p, MNT_DETACH);
    } catch {
      // already gone with a parent
    }
  }
}

const unmount = (target: string): Promise<void> => unmountAll(target, MNT_DETACH);

/** Runs `fn`, which must fail with an error `is` recognises. */
async function expectError(what: string, fn: () => Promise<unknown>, is: (err: unknown) => boolean): Promise<unknown> {
  let failed: unknown;
  try {
    await fn();
  } catch (err) {
    failed = err;
  }
  if (failed === undefined) throw new Error(`expected ${what} error`);
  if (!is(failed)) throw new Error(`unexpected error (wanted ${what}): ${String(failed)}`, { cause: failed });
  return failed;
}

/** Applies to a temporary directory `td` with the contents of `applier`, then compares. */
async function checkEqualWithApplier(work: string, dir: string, applier: Applier): Promise<void> {
  const applied = await mkdtemp(join(work, 'fstest-'));
  try {
    await applier(applied);
    await checkDirectoryEqual(applied, dir);
  } finally {
    await rm(applied, { recursive: true, force: true });
  }
}

async function prepareMount(run: Run, dirName: string, parent: string): Promise<string> {
  const preparing = join(run.work, dirName);
  await mkdir(preparing, { recursive: true });
  const mounts = await run.sn.prepare(run.ctx, preparing, parent, opt());
  expect(mounts.length, 'expected mounts to have entries').toBeGreaterThan(0);
  await mountAll(mounts, preparing);
  return preparing;
}

async function applyToMounts(run: Run, mounts: Parameters<typeof mountAll>[0], applier: Applier): Promise<void> {
  const td = await mkdtemp(join(run.work, 'prepare'));
  try {
    await mountAll(mounts, td);
    try {
      await applier(td);
    } finally {
      await unmount(td);
    }
  } finally {
    await rm(td, { recursive: true, force: true });
  }
}

const uniqueName = (): string => `snap-${randomBytes(6).toString('hex')}`;

async function createSnapshot(run: Run, parent: string, applier: Applier): Promise<string> {
  const n = uniqueName();
  const prepare = `${n}-prepare`;
  const mounts = await run.sn.prepare(run.ctx, prepare, parent, opt());
  await applyToMounts(run, mounts, applier);
  await run.sn.commit(run.ctx, n, prepare, opt());
  return n;
}

async function checkSnapshot(run: Run, name: string, check: string): Promise<void> {
  const td = await mkdtemp(join(run.work, 'check'));
  const view = `${name}-view`;
  try {
    const mounts = await run.sn.view(run.ctx, view, name, opt());
    try {
      await mountAll(mounts, td);
      try {
        await checkDirectoryEqual(check, td);
      } finally {
        await unmount(td);
      }
    } finally {
      await run.sn.remove(run.ctx, view);
    }
  } finally {
    await rm(td, { recursive: true, force: true });
  }
}

/** Commits one snapshot per applier, each on the last, and checks each against a flat tree. */
async function checkSnapshots(run: Run, ...appliers: Applier[]): Promise<void> {
  const flat = await mkdtemp(join(run.work, 'flat'));
  try {
    let parent = '';
    for (const [i, a] of appliers.entries()) {
      let s: string;
      try {
        s = await createSnapshot(run, parent, a);
      } catch (err) {
        throw new Error(`failed to create snapshot ${i + 1}: ${String(err)}`, { cause: err });
      }
      await a(flat);
      try {
        await checkSnapshot(run, s, flat);
      } catch (err) {
        throw new Error(`snapshot check failed on snapshot ${i + 1}: ${String(err)}`, { cause: err });
      }
      parent = s;
    }
  } finally {
    await rm(flat, { recursive: true, force: true });
  }
}

const checkBasic: Check = async (run) => {
  const { sn, ctx, work } = run;
  const initial = apply(
    createFile('/foo', 'foo\n', 0o777),
    createDir('/a', 0o755),
    createDir('/a/b', 0o755),
    createDir('/a/b/c', 0o755),
  );
  const diff = apply(createFile('/bar', 'bar\n', 0o777), createFile('/foo', 'bar\n', 0o777), removeAll('/a/b'));

  const preparing = await prepareMount(run, 'preparing', '');
  await initial(preparing);
  await unmount(preparing);

  const committed = join(work, 'committed');
  await sn.commit(ctx, committed, preparing, opt());
  const si = await sn.stat(ctx, committed);
  expect(si.parent).toBe('');
  expect(si.kind).toBe(Kind.Committed);
  await expectError('not found', () => sn.stat(ctx, preparing), isNotFound);

  const next = await prepareMount(run, 'nextlayer', committed);
  await checkEqualWithApplier(work, next, initial);
  await diff(next);
  await unmount(next);

  const ni = await sn.stat(ctx, next);
  expect(ni.parent).toBe(committed);
  expect(ni.kind).toBe(Kind.Active);

  const nextCommitted = join(work, 'committed-next');
  await sn.commit(ctx, nextCommitted, next, opt());
  const si2 = await sn.stat(ctx, nextCommitted);
  expect(si2.parent).toBe(committed);
  expect(si2.kind).toBe(Kind.Committed);
  await expectError('not found', () => sn.stat(ctx, next), isNotFound);

  const walked = new Map<string, Info>();
  await sn.walk(ctx, (info) => {
    walked.set(info.name, info);
  });
  expect(walked.get(si.name)).toEqual(si);
  expect(walked.get(si2.name)).toEqual(si2);

  const nextnext = join(work, 'nextnextlayer');
  await mkdir(nextnext);
  const mounts = await sn.view(ctx, nextnext, nextCommitted, opt());
  await mountAll(mounts, nextnext);
  try {
    await checkEqualWithApplier(work, nextnext, apply(initial, diff));
  } finally {
    await unmount(nextnext);
  }
  await sn.remove(ctx, nextnext);
  const err = await expectError('failed precondition', () => sn.remove(ctx, committed), isFailedPrecondition);
  expect(String(err)).toContain('remove');
  await sn.remove(ctx, nextCommitted);
  await sn.remove(ctx, committed);
};

const checkStatActive: Check = async (run) => {
  const preparing = await prepareMount(run, 'preparing', '');
  try {
    await writeFile(join(preparing, 'foo'), 'foo\n', { mode: 0o777 });
    const si = await run.sn.stat(run.ctx, preparing);
    expect(si.name).toBe(preparing);
    expect(si.kind).toBe(Kind.Active);
    expect(si.parent).toBe('');
  } finally {
    await unmount(preparing);
  }
};

const checkStatCommitted: Check = async (run) => {
  const preparing = await prepareMount(run, 'preparing', '');
  try {
    await writeFile(join(preparing, 'foo'), 'foo\n', { mode: 0o777 });
    const committed = join(run.work, 'committed');
    await run.sn.commit(run.ctx, committed, preparing, opt());
    const si = await run.sn.stat(run.ctx, committed);
    expect(si.name).toBe(committed);
    expect(si.kind).toBe(Kind.Committed);
    expect(si.parent).toBe('');
  } finally {
    await unmount(preparing);
  }
};

const checkTransitivity: Check = async (run) => {
  const { sn, ctx, work } = run;
  const preparing = await prepareMount(run, 'preparing', '');
  const next = join(work, 'next');
  try {
    await writeFile(join(preparing, 'foo'), 'foo\n', { mode: 0o777 });
    const snapA = join(work, 'snapA');
    await sn.commit(ctx, snapA, preparing, opt());
    await prepareMount(run, 'next', snapA);
    await writeFile(join(next, 'foo'), 'foo bar\n', { mode: 0o777 });
    const snapB = join(work, 'snapB');
    await sn.commit(ctx, snapB, next, opt());

    const siA = await sn.stat(ctx, snapA);
    const siB = await sn.stat(ctx, snapB);
    const siParentB = await sn.stat(ctx, siB.parent);
    expect(siA.parent).toBe('');
    expect(siB.parent).toBe(snapA);
    expect(siParentB.parent).toBe('');
  } finally {
    await unmount(next);
    await unmount(preparing);
  }
};

const checkPrepareView: Check = async (run) => {
  const { sn, ctx, work } = run;
  const preparing = await prepareMount(run, 'preparing', '');
  try {
    const snapA = join(work, 'snapA');
    await sn.commit(ctx, snapA, preparing, opt());

    const newLayer = join(work, 'newlayer');
    await sn.prepare(ctx, newLayer, snapA, opt());
    await expectError('already exists', () => sn.view(ctx, newLayer, snapA, opt()), isAlreadyExists);

    const prepLayer = join(work, 'prepLayer');
    await sn.prepare(ctx, prepLayer, snapA, opt());
    await expectError('already exists', () => sn.prepare(ctx, prepLayer, snapA, opt()), isAlreadyExists);

    const viewLayer = join(work, 'viewLayer');
    await sn.view(ctx, viewLayer, snapA, opt());
    await expectError('already exists', () => sn.view(ctx, viewLayer, snapA, opt()), isAlreadyExists);
  } finally {
    await unmount(preparing);
  }
};

/** c1 (committed) ← c2 (committed) ← a1 (active), v1 (view); a2 (active) and v2 (view) without parent. */
async function baseTestSnapshots(run: Run): Promise<void> {
  const { sn, ctx } = run;
  await sn.prepare(ctx, 'c1-a', '', opt());
  await sn.commit(ctx, 'c1', 'c1-a', opt());
  await sn.prepare(ctx, 'c2-a', 'c1', opt());
  await sn.commit(ctx, 'c2', 'c2-a', opt());
  await sn.prepare(ctx, 'a1', 'c2', opt());
  await sn.prepare(ctx, 'a2', '', opt());
  await sn.view(ctx, 'v1', 'c2', opt());
  await sn.view(ctx, 'v2', '', opt());
}

function expectBetween(what: string, actual: Timestamp, from: Timestamp, to: Timestamp): void {
  if (compareTimestamps(actual, from) < 0 || compareTimestamps(actual, to) > 0) {
    throw new Error(
      `wrong ${what} ${formatRFC3339Nano(actual)}: expected between ${formatRFC3339Nano(from)} and ${formatRFC3339Nano(to)}`,
    );
  }
}

const checkUpdate: Check = async (run) => {
  const { sn, ctx } = run;
  const t1 = now();
  await baseTestSnapshots(run);
  const t2 = now();
  const cases: { name: string; kind: Kind; parent: string }[] = [
    { name: 'c1', kind: Kind.Committed, parent: '' },
    { name: 'c2', kind: Kind.Committed, parent: 'c1' },
    { name: 'a1', kind: Kind.Active, parent: 'c2' },
    { name: 'a2', kind: Kind.Active, parent: '' },
    { name: 'v1', kind: Kind.View, parent: 'c2' },
    { name: 'v2', kind: Kind.View, parent: '' },
  ];
  for (const tc of cases) {
    let st = await sn.stat(ctx, tc.name);
    expectBetween(`(${tc.name}) created time`, st.created, t1, t2);
    expect(st.updated, `(${tc.name}) updated equals created`).toEqual(st.created);
    expect(st.kind).toBe(tc.kind);
    expect(st.parent).toBe(tc.parent);
    expect(st.name).toBe(tc.name);

    const createdAt = st.created;
    const rootTime = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    let expected: Record<string, string> = { l1: 'v1', l2: 'v2', l3: 'v3', 'containerd.io/gc.root': rootTime };
    st.parent = 'doesnotexist';
    st.labels = expected;
    const u1 = now();
    st = await sn.update(ctx, st);
    const u2 = now();
    expect(st.created, `(${tc.name}) created time kept`).toEqual(createdAt);
    expectBetween(`(${tc.name}) updated time`, st.updated, u1, u2);
    expect(st.kind).toBe(tc.kind);
    expect(st.parent).toBe(tc.parent);
    expect(st.name).toBe(tc.name);
    expect(st.labels).toEqual(expected);

    expected = { l1: 'updated', l3: 'v3', 'containerd.io/gc.root': rootTime };
    st.labels = { l1: 'updated', l4: 'v4' };
    st = await sn.update(ctx, st, ['labels.l1', 'labels.l2']);
    expect(st.labels).toEqual(expected);

    expected = { l4: 'v4', 'containerd.io/gc.root': rootTime };
    st.labels = expected;
    st = await sn.update(ctx, st, ['labels']);
    expect(st.labels).toEqual(expected);
    expect((await sn.stat(ctx, tc.name)).labels, 'stat after update').toEqual(expected);

    st.parent = 'doesnotexist';
    await expectError('invalid argument', () => sn.update(ctx, st, ['parent']), isInvalidArgument);
  }
};

const checkRemove: Check = async ({ sn, ctx }) => {
  await sn.prepare(ctx, 'committed-a', '', opt());
  await sn.commit(ctx, 'committed-1', 'committed-a', opt());
  await sn.prepare(ctx, 'reuse-1', 'committed-1', opt());
  await sn.remove(ctx, 'reuse-1');
  await sn.view(ctx, 'reuse-1', 'committed-1', opt());
  await sn.remove(ctx, 'reuse-1');
  await sn.prepare(ctx, 'reuse-1', '', opt());
  await sn.remove(ctx, 'committed-1');
  await sn.commit(ctx, 'committed-1', 'reuse-1', opt());
};

const checkViewReadonly: Check = async ({ sn, ctx, work }) => {
  const preparing = join(work, 'preparing');
  await sn.prepare(ctx, preparing, '', opt());
  const committed = join(work, 'committed');
  await sn.commit(ctx, committed, preparing, opt());
  const view = join(work, 'view');
  const m = await sn.view(ctx, view, committed, opt());
  const viewMountPoint = join(work, 'view-mount');
  await mkdir(viewMountPoint);
  // The option strings are not enough: the real mount must refuse writes.
  await mountAll(m, viewMountPoint);
  try {
    let wrote = false;
    try {
      await writeFile(join(viewMountPoint, 'testfile'), 'testcontent', { mode: 0o777 });
      wrote = true;
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EROFS');
    }
    expect(wrote, 'write to a view should fail (EROFS)').toBe(false);
  } finally {
    await unmount(viewMountPoint);
  }
  await sn.remove(ctx, view);
  await sn.remove(ctx, committed);
};

const checkFileFromLowerLayer: Check = (run) =>
  checkSnapshots(
    run,
    apply(
      createDir('/dir1', 0o700),
      createFile('/dir1/f1', 'Hello', 0o644),
      createDir('dir2', 0o700),
      createFile('dir2/f2', '...', 0o644),
    ),
    apply(
      createDir('/dir3', 0o700),
      createFile('/dir3/f1', 'Hello', 0o644),
      removeAll('/dir1'),
      hardlink('dir2/f2', 'dir3/f2'),
      removeAll('dir2/f2'),
    ),
  );

const checkCloseTwice: Check = async ({ sn, ctx }) => {
  const n = `closeTwice-${randomBytes(4).toString('hex')}`;
  const prepare = `${n}-prepare`;
  await sn.prepare(ctx, prepare, '', opt());
  await sn.commit(ctx, n, prepare, opt());
  await sn.remove(ctx, n);
  await sn.close();
  await sn.close();
};

const checkRootPermission: Check = async (run) => {
  const preparing = await prepareMount(run, 'preparing', '');
  try {
    const st = await stat(preparing);
    expect((st.mode & 0o777).toString(8)).toBe('755');
  } finally {
    await unmount(preparing);
  }
};

const check128LayersMount: Check = async (run) => {
  const { sn, ctx, work } = run;
  const appliers: Applier[] = [
    apply(
      createFile('/bottom', 'way at the bottom\n', 0o777),
      createFile('/overwriteme', 'FIRST!\n', 0o777),
      createDir('/ADDHERE', 0o755),
      createDir('/ONLYME', 0o755),
      createFile('/ONLYME/bottom', 'bye!\n', 0o777),
    ),
  ];
  for (let i = 1; i <= 127; i++) {
    appliers.push(
      apply(
        createFile('/overwriteme', `${i} WAS HERE!\n`, 0o777),
        createFile(`/ADDHERE/file-${i}`, 'same\n', 0o755),
        removeAll('/ONLYME'),
        createDir('/ONLYME', 0o755),
        createFile(`/ONLYME/file-${i}`, 'only me!\n', 0o777),
      ),
    );
  }
  const flat = join(work, 'flat');
  await mkdir(flat);
  let parent = '';
  for (const [i, applier] of appliers.entries()) {
    const preparing = join(work, `prepare-layer-${i}`);
    await mkdir(preparing);
    const mounts = await sn.prepare(ctx, preparing, parent, opt());
    await mountAll(mounts, preparing);
    try {
      await checkDirectoryEqual(flat, preparing).catch((err: unknown) => {
        throw new Error(`[layer ${i}] preparing doesn't equal to flat before apply: ${String(err)}`);
      });
      await applier(flat);
      await applier(preparing);
      await checkDirectoryEqual(flat, preparing).catch((err: unknown) => {
        throw new Error(`[layer ${i}] preparing doesn't equal to flat after apply: ${String(err)}`);
      });
    } finally {
      await unmount(preparing);
    }
    parent = join(work, `committed-${i}`);
    await sn.commit(ctx, parent, preparing, opt());
  }
  const view = join(work, 'fullview');
  await mkdir(view);
  const mounts = await sn.view(ctx, view, parent, opt());
  await mountAll(mounts, view);
  try {
    await checkDirectoryEqual(flat, view);
  } finally {
    await unmount(view);
  }
};

const checkWalk: Check = async ({ sn, ctx }) => {
  const labels = (extra: Record<string, string> = {}): SnapshotOptions => ({
    labels: { 'containerd.io/gc.root': 'check-walk', ...extra },
  });
  await sn.prepare(ctx, 'a-np', '', labels());
  await sn.prepare(ctx, 'p-tmp', '', labels());
  await sn.commit(ctx, 'p', 'p-tmp', labels());
  await sn.prepare(ctx, 'a', 'p', labels());
  await sn.view(ctx, 'v', 'p', labels());
  await sn.prepare(ctx, 'p-wl-tmp', '', labels());
  await sn.commit(ctx, 'p-wl', 'p-wl-tmp', labels({ l: '1' }));
  await sn.prepare(ctx, 'a-wl', 'p-wl', labels({ l: '2' }));
  await sn.view(ctx, 'v-wl', 'p-wl', labels({ l: '3' }));
  await sn.prepare(ctx, 'a-np-wl', '', labels({ l: '2' }));

  const cases: { matches: string[]; filters: string[] }[] = [
    {
      matches: ['a-np', 'p', 'a', 'v', 'p-wl', 'a-wl', 'v-wl', 'a-np-wl'],
      filters: ['labels."containerd.io/gc.root"==check-walk'],
    },
    { matches: ['a-np', 'a', 'a-wl', 'a-np-wl'], filters: ['kind==active,labels."containerd.io/gc.root"==check-walk'] },
    { matches: ['v', 'v-wl'], filters: ['kind==view,labels."containerd.io/gc.root"==check-walk'] },
    { matches: ['p', 'p-wl'], filters: ['kind==committed,labels."containerd.io/gc.root"==check-walk'] },
    { matches: ['p', 'a-np-wl'], filters: ['name==p', 'name==a-np-wl'] },
    { matches: ['a-wl'], filters: ['name==a-wl,labels.l'] },
    { matches: ['a', 'v'], filters: ['parent==p'] },
    { matches: ['a', 'v', 'a-wl', 'v-wl'], filters: ['parent!="",labels."containerd.io/gc.root"==check-walk'] },
    { matches: ['p-wl', 'a-wl', 'v-wl', 'a-np-wl'], filters: ['labels.l'] },
    { matches: ['a-wl', 'a-np-wl'], filters: ['labels.l==2'] },
  ];
  for (const [i, tc] of cases.entries()) {
    const actual: string[] = [];
    await sn.walk(
      ctx,
      (info) => {
        actual.push(info.name);
      },
      tc.filters,
    );
    expect(actual.sort(), `[${i}] ${tc.filters.join(' | ')}`).toEqual([...tc.matches].sort());
  }
};

const checkLayerFileUpdate: Check = async (run) => {
  const l1 = apply(
    createDir('/etc', 0o700),
    createFile('/etc/hosts', 'mydomain 10.0.0.1', 0o644),
    createFile('/etc/profile', 'PATH=/usr/bin', 0o644),
  );
  const l2 = apply(
    createFile('/etc/hosts', 'mydomain 10.0.0.2', 0o644),
    createFile('/etc/profile', 'PATH=/usr/bin', 0o666),
    createDir('/root', 0o700),
    createFile('/root/.bashrc', 'PATH=/usr/sbin:/usr/bin', 0o644),
  );
  // containerd repeats this five times a second apart to catch mtime-based change
  // detection; two rounds across a second boundary cover the same ground.
  for (let i = 0; i < 2; i++) {
    if (i > 0) await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 5));
    await checkSnapshots(run, l1, l2);
  }
};

const checkRemoveDirectoryInLowerLayer: Check = (run) =>
  checkSnapshots(
    run,
    apply(createDir('/lib', 0o700), createFile('/lib/hidden', '', 0o644)),
    apply(removeAll('/lib'), createDir('/lib', 0o700), createFile('/lib/not-hidden', '', 0o644)),
    apply(createFile('/lib/newfile', '', 0o644)),
  );

const checkChown: Check = (run) =>
  checkSnapshots(
    run,
    apply(
      createDir('/opt', 0o700),
      createDir('/opt/a', 0o700),
      createDir('/opt/a/b', 0o700),
      createFile('/opt/a/b/file.txt', 'hello', 0o644),
    ),
    apply(chown('/opt', 1, 1), chown('/opt/a', 1, 1), chown('/opt/a/b', 1, 1), chown('/opt/a/b/file.txt', 1, 1)),
  );

const checkRename: Check = (run) =>
  checkSnapshots(
    run,
    apply(
      createDir('/dir1', 0o700),
      createDir('/somefiles', 0o700),
      createFile('/somefiles/f1', 'was here first!', 0o644),
      createFile('/somefiles/f2', 'nothing interesting', 0o644),
    ),
    apply(
      renamePath('/dir1', '/dir2'),
      createFile('/somefiles/f1-overwrite', 'new content 1', 0o644),
      renamePath('/somefiles/f1-overwrite', '/somefiles/f1'),
      renamePath('/somefiles/f2', '/somefiles/f3'),
    ),
  );

const checkDirectoryPermissionOnCommit: Check = (run) =>
  checkSnapshots(
    run,
    apply(
      createDir('/dir1', 0o700),
      createDir('/dir2', 0o700),
      createDir('/dir3', 0o700),
      createDir('/dir4', 0o700),
      createFile('/dir4/f1', '...', 0o644),
      createDir('/dir5', 0o700),
      createFile('/dir5/f1', '...', 0o644),
      chown('/dir1', 1, 1),
      chown('/dir2', 1, 1),
      chown('/dir3', 1, 1),
      chown('/dir5', 1, 1),
      chown('/dir5/f1', 1, 1),
    ),
    apply(chown('/dir2', 0, 0), removeAll('/dir3'), chown('/dir4', 1, 1), chown('/dir4/f1', 1, 1)),
    apply(
      createDir('/dir3', 0o700),
      chown('/dir3', 1, 1),
      removeAll('/dir5'),
      createDir('/dir5', 0o700),
      chown('/dir5', 1, 1),
    ),
  );

const checkRemoveIntermediateSnapshot: Check = async (run) => {
  const { sn, ctx, work } = run;
  const base = await prepareMount(run, 'base', '');
  try {
    const committedBase = join(work, 'committed-base');
    await sn.commit(ctx, committedBase, base, opt());
    const intermediate = join(work, 'intermediate');
    await sn.prepare(ctx, intermediate, committedBase, opt());
    const committedInter = join(work, 'committed-inter');
    await sn.commit(ctx, committedInter, intermediate, opt());
    const topLayer = join(work, 'toplayer');
    await sn.prepare(ctx, topLayer, committedInter, opt());

    await expectError('failed precondition', () => sn.remove(ctx, committedInter), isFailedPrecondition);
    await sn.remove(ctx, topLayer);
    await sn.remove(ctx, committedInter);
    await unmount(base);
    await sn.remove(ctx, committedBase);
  } finally {
    await unmount(base);
  }
};

const checkDeletedFilesInChildSnapshot: Check = (run) =>
  checkSnapshots(
    run,
    apply(createFile('/foo', 'foo\n', 0o777), createFile('/foobar', 'foobar\n', 0o777)),
    apply(removeAll('/foobar')),
    apply(),
  );

const checkStatInWalk: Check = async ({ sn, ctx }) => {
  const prefix = 'stats-in-walk-';
  const c1 = `${prefix}c1`;
  const c2 = `${prefix}c2`;
  await sn.prepare(ctx, `${c1}-a`, '', opt());
  await sn.commit(ctx, c1, `${c1}-a`, opt());
  await sn.prepare(ctx, `${c2}-a`, c1, opt());
  await sn.commit(ctx, c2, `${c2}-a`, opt());
  await sn.prepare(ctx, `${prefix}a1`, c2, opt());
  await sn.view(ctx, `${prefix}v1`, c2, opt());
  let seen = 0;
  await sn.walk(ctx, async (si) => {
    if (!si.name.startsWith(prefix)) return;
    const si2 = await sn.stat(ctx, si.name);
    expect(si2).toEqual(si);
    seen++;
  });
  expect(seen).toBe(4);
};

/** `statMany`, where a snapshotter has it, answers what `stat` answers for each key, in order. */
const checkStatMany: Check = async ({ sn, ctx }) => {
  if (!sn.statMany) return;
  await sn.prepare(ctx, 'stat-many-c-a', '', opt());
  await sn.commit(ctx, 'stat-many-c', 'stat-many-c-a', opt());
  await sn.prepare(ctx, 'stat-many-a', 'stat-many-c', opt());
  await sn.view(ctx, 'stat-many-v', 'stat-many-c', opt());
  const keys = ['stat-many-v', 'stat-many-missing', 'stat-many-c', 'stat-many-c-a', 'stat-many-a'];
  const expected = await Promise.all(keys.map((k) => sn.stat(ctx, k).catch((err) => (isNotFound(err) ? undefined : Promise.reject(err)))));
  expect(expected.map((i) => i?.kind)).toEqual([Kind.View, undefined, Kind.Committed, undefined, Kind.Active]);
  expect(await sn.statMany(ctx, keys)).toEqual(expected);
  expect(await sn.statMany(ctx, [])).toEqual([]);
};

/** Each failure has containerd's error class (what clients see as the gRPC code). */
const checkErrorClasses: Check = async ({ sn, ctx }) => {
  await expectError('not found', () => sn.stat(ctx, 'missing'), isNotFound);
  await expectError('not found', () => sn.usage(ctx, 'missing'), isNotFound);
  await expectError('not found', () => sn.mounts(ctx, 'missing'), isNotFound);
  await expectError('not found', () => sn.remove(ctx, 'missing'), isNotFound);
  await expectError('not found', () => sn.update(ctx, { name: 'missing', labels: {} }), isNotFound);
  await expectError('not found', () => sn.commit(ctx, 'name', 'missing'), isNotFound);
  await expectError('not found', () => sn.prepare(ctx, 'on-missing', 'missing', opt()), isNotFound);
  await expectError('not found', () => sn.view(ctx, 'view-on-missing', 'missing', opt()), isNotFound);

  await sn.prepare(ctx, 'active', '', opt());
  await expectError('invalid argument', () => sn.prepare(ctx, 'on-active', 'active', opt()), isInvalidArgument);
  await expectError('invalid argument', () => sn.view(ctx, 'view-on-active', 'active', opt()), isInvalidArgument);
  await sn.view(ctx, 'view', '', opt());
  await expectError('failed precondition', () => sn.commit(ctx, 'from-view', 'view', opt()), isFailedPrecondition);
  await sn.commit(ctx, 'committed', 'active', opt());
  await expectError('failed precondition', () => sn.mounts(ctx, 'committed'), isFailedPrecondition);
  await sn.prepare(ctx, 'active2', 'committed', opt());
  await expectError('already exists', () => sn.commit(ctx, 'committed', 'active2', opt()), isAlreadyExists);
  await expectError('already exists', () => sn.prepare(ctx, 'committed', '', opt()), isAlreadyExists);
  await expectError('invalid argument', () => sn.walk(ctx, () => {}, ['labels."unterminated']), isInvalidArgument);
  // A failed call leaves no trace: the keys it tried to create stay free.
  await expectError('not found', () => sn.stat(ctx, 'on-missing'), isNotFound);
  await expectError('not found', () => sn.stat(ctx, 'from-view'), isNotFound);
  await sn.prepare(ctx, 'on-missing', '', opt());
};

/** Usage counts what a snapshot adds, and a commit keeps it. */
const checkUsage: Check = async (run) => {
  const { sn, ctx } = run;
  const base = await createSnapshot(run, '', apply(createFile('/big', Buffer.alloc(1 << 20, 1), 0o644)));
  const baseUsage = await sn.usage(ctx, base);
  expect(baseUsage.size).toBeGreaterThanOrEqual(1 << 20);
  expect(baseUsage.inodes).toBeGreaterThanOrEqual(2);

  const key = 'usage-active';
  const mounts = await sn.prepare(ctx, key, base, opt());
  await applyToMounts(run, mounts, apply(createFile('/small', Buffer.alloc(256 << 10, 2), 0o644)));
  const active = await sn.usage(ctx, key);
  expect(active.size, 'active usage includes the new file').toBeGreaterThanOrEqual(256 << 10);
  await sn.commit(ctx, 'usage-committed', key, opt());
  expect(await sn.usage(ctx, 'usage-committed')).toEqual(active);
  expect(await sn.usage(ctx, base)).toEqual(baseUsage);
};
