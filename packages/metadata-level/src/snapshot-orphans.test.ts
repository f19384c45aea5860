// A snapshot the metadata layer creates in the backend and then cannot record (a concurrent
// Prepare of the same key won) is removed from the backend at once; with a backend whose
// removal only drops the record (overlayfs, as containerd's default), the next collection
// must still run its cleanup so the directory does not outlive it. Found by fuzzing.
import { readdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalContentStore } from '@containerd-ts/content-local';
import { OverlaySnapshotter } from '@containerd-ts/snapshotter-overlayfs';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MetadataDB } from './db.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'meta-orphans-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

it('collects the directory of a backend snapshot dropped after a lost Prepare race', async () => {
  const content = await LocalContentStore.open(join(root, 'content'));
  const backend = await OverlaySnapshotter.open(join(root, 'overlayfs'));
  const db = await MetadataDB.open({ path: join(root, 'meta.leveldb'), content, snapshotters: new Map([['overlayfs', backend]]), sync: false });
  const sn = db.snapshotter('overlayfs');
  if (!sn) throw new Error('overlayfs snapshotter not added');
  try {
    await db.garbageCollect();
    const ctx = { namespace: 'orphans' };
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => sn.prepare(ctx, 'same-key', '', { labels: { 'containerd.io/gc.root': 'kept' } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String(r.reason))).toEqual(Array(3).fill('ContainerdError: snapshot "same-key": already exists'));
    expect(await readdir(join(root, 'overlayfs', 'snapshots'))).toHaveLength(4);
    await db.garbageCollect();
    expect(await readdir(join(root, 'overlayfs', 'snapshots'))).toHaveLength(1);
  } finally {
    await sn.close();
    await db.close();
  }
});
