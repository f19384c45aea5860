// A collection removes unreferenced snapshots several at a time, children before parents:
// the order helper on its own, then a whole tree of real native snapshots collected at
// once with the snapshots a container still uses (and their parents) kept.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalContentStore } from '@containerd-ts/content-local';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MetadataDB, removeChildrenFirst } from './db.js';

describe('removeChildrenFirst', () => {
  // a tree: r1 <- a <- a1, a <- a2; r1 <- b; r2 <- c <- c1 <- c2
  const parents = new Map([
    ['a', 'r1'],
    ['a1', 'a'],
    ['a2', 'a'],
    ['b', 'r1'],
    ['c', 'r2'],
    ['c1', 'c'],
    ['c2', 'c1'],
  ]);
  const order = ['a1', 'a2', 'a', 'b', 'r1', 'c2', 'c1', 'c', 'r2'];

  it('starts a name only once all its children finished, with several in flight up to the limit', async () => {
    const finished = new Set<string>();
    const active = new Set<string>();
    let most = 0;
    const started: string[] = [];
    await removeChildrenFirst(order, parents, 3, async (name) => {
      for (const [child, parent] of parents) {
        if (parent === name) expect(finished.has(child), `${child} finished before ${name} started`).toBe(true);
      }
      started.push(name);
      active.add(name);
      most = Math.max(most, active.size);
      await new Promise((resolve) => setTimeout(resolve, 5));
      active.delete(name);
      finished.add(name);
    });
    expect([...finished].sort()).toEqual([...order].sort());
    expect(most).toBe(3);
    // the leaves go first
    expect(started.slice(0, 3)).toEqual(['a1', 'a2', 'b']);
  });

  it('does not wait for children that are not being removed, and stops at the first failure', async () => {
    // r1's other child `b` is kept (not in the order): r1 waits only for `a`
    const started: string[] = [];
    await removeChildrenFirst(['a', 'r1'], parents, 4, async (name) => {
      started.push(name);
    });
    expect(started).toEqual(['a', 'r1']);
    const seen: string[] = [];
    await expect(
      removeChildrenFirst(order, parents, 1, async (name) => {
        seen.push(name);
        if (name === 'a2') throw new Error('disk on fire');
      }),
    ).rejects.toThrow('disk on fire');
    expect(seen).toEqual(['a1', 'a2']);
  });
});

describe('collecting snapshots', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'meta-gc-snapshots-'));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('removes a tree of native snapshots a lease held, keeping what a container uses and its parents', async () => {
    const content = await LocalContentStore.open(join(root, 'content'));
    const backend = await NativeSnapshotter.open(join(root, 'native'));
    const db = await MetadataDB.open({ path: join(root, 'meta.leveldb'), content, snapshotters: new Map([['native', backend]]) });
    const sn = db.snapshotter('native');
    if (!sn) throw new Error('native snapshotter not added');
    try {
      await db.garbageCollect();
      const ctx = { namespace: 'gc-tree', lease: 'tree' };
      await db.leases.create(ctx, { id: 'tree' });
      // 6 chains of 4 committed layers, each layer with 3 active children
      let count = 0;
      for (let chain = 0; chain < 6; chain++) {
        let parent = '';
        for (let depth = 0; depth < 4; depth++) {
          const name = `c${chain}-${depth}`;
          await sn.prepare(ctx, `p-${name}`, parent);
          await sn.commit(ctx, name, `p-${name}`);
          await Promise.all([0, 1, 2].map((k) => sn.prepare(ctx, `${name}-a${k}`, name)));
          count += 4;
          parent = name;
        }
      }
      // kept: an active snapshot on c2-3 (so c2-0..c2-3 stay) that a container uses
      await sn.prepare({ namespace: 'gc-tree' }, 'in-use', 'c2-3', { labels: { 'containerd.io/gc.root': 'yes' } });
      const before = await readdir(join(root, 'native', 'snapshots'));
      expect(before).toHaveLength(count + 1);

      await db.leases.delete(ctx, 'tree');
      const stats = await db.garbageCollect();
      expect(stats.removed.snapshots).toBe(count - 4);
      const left: string[] = [];
      await sn.walk({ namespace: 'gc-tree' }, (info) => {
        left.push(info.name);
      });
      expect(left.sort()).toEqual(['c2-0', 'c2-1', 'c2-2', 'c2-3', 'in-use']);
      expect(await readdir(join(root, 'native', 'snapshots'))).toHaveLength(5);
    } finally {
      await sn.close();
      await db.close();
    }
  });
});
