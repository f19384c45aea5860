// A copy snapshotter written against the public snapshotter contract only: records in the
// MetaStore of @containerd-ts/snapshots, trees as plain directories mounted with bind mounts.
// It differs from the built-in `native` in what an operator controls and sees:
//
//   <root>/metadata.json     snapshot records (MetaStore)
//   <root>/active/<id>/      trees still being written (active snapshots, empty views)
//   <root>/committed/<id>/   trees that no longer change (committed snapshots)
//   <root>/tmp/              copies in progress and trees being removed
//
// - at most `copyConcurrency` parent copies run at once (the rest queue in arrival order),
//   so a burst of container starts cannot saturate the disk;
// - with `syncOnCommit`, every file and directory of a tree is fsync'ed before the commit is
//   recorded, so a committed snapshot survives a power loss as its record does.
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, invalidArgument } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import {
  copyDir,
  diskUsage,
  Kind,
  MetaStore,
  MetaStoreSnapshotter,
  type Mount,
  noSnapshotterLog,
  type SnapshotOptions,
  type SnapshotterLog,
  type StoredSnapshot,
  type Usage,
  wrapError,
} from '@containerd-ts/snapshots';
import { Semaphore } from './semaphore.js';
import { syncTree } from './sync-tree.js';

export interface CopySnapshotterOptions {
  /** Parent copies allowed to run at the same time (at least 1). */
  copyConcurrency?: number;
  /** fsync each tree before its commit is recorded. */
  syncOnCommit?: boolean;
  log?: SnapshotterLog;
}

/** What the snapshotter has done so far; for operators (and the tests that prove the options work). */
export interface CopyStats {
  /** Parent copies running now, and waiting for a slot. */
  copiesRunning: number;
  copiesWaiting: number;
  /** The most copies that ever ran at the same time. */
  peakCopies: number;
  /** Files and directories fsync'ed by commits. */
  syncedEntries: number;
}

// The record-only calls (stat, update, walk), mounts by key, prepare/view and close come
// from MetaStoreSnapshotter; this class says how trees are made, mounted, committed,
// measured and removed.
export class CopySnapshotter extends MetaStoreSnapshotter {
  private readonly copies: Semaphore;
  private readonly syncOnCommit: boolean;
  private syncedEntries = 0;

  private constructor(root: string, store: MetaStore, options: CopySnapshotterOptions) {
    super(root, store, options.log ?? noSnapshotterLog, 'failed to get snapshot mount');
    this.copies = new Semaphore(options.copyConcurrency ?? 2);
    this.syncOnCommit = options.syncOnCommit ?? true;
  }

  /** Opens the snapshotter in `root` (created when missing) and repairs what a crash left. */
  static async open(root: string, options: CopySnapshotterOptions = {}): Promise<CopySnapshotter> {
    const concurrency = options.copyConcurrency ?? 2;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw invalidArgument(`copy concurrency must be a whole number of at least 1, got ${concurrency}`);
    }
    for (const dir of [root, join(root, 'active'), join(root, 'committed'), join(root, 'tmp')]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    // Whatever is in tmp/ belonged to a prepare or a removal that did not finish.
    await rm(join(root, 'tmp'), { recursive: true, force: true });
    await mkdir(join(root, 'tmp'), { mode: 0o700 });
    const store = await MetaStore.open(join(root, 'metadata.json'));
    const sn = new CopySnapshotter(root, store, options);
    await sn.moveBackMisplacedTrees();
    return sn;
  }

  get stats(): CopyStats {
    return {
      copiesRunning: this.copies.running,
      copiesWaiting: this.copies.waiting,
      peakCopies: this.copies.peak,
      syncedEntries: this.syncedEntries,
    };
  }

  private treeDir(kind: Kind, id: string): string {
    return join(this.root, kind === Kind.Committed ? 'committed' : 'active', id);
  }

  async usage(_ctx: RequestContext, key: string): Promise<Usage> {
    const { id, info, usage } = await this.ms.view((tx) => tx.getInfo(key));
    if (info.kind !== Kind.Committed) return diskUsage(this.treeDir(info.kind, id));
    if (usage) return usage;
    const measured = await diskUsage(this.treeDir(Kind.Committed, id));
    await this.ms.update((tx) => tx.setUsage(key, id, measured));
    return measured;
  }

  override async commit(_ctx: RequestContext, name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    const { id, info } = await this.ms.view((tx) => tx.getInfo(key));
    if (info.kind === Kind.Active && this.syncOnCommit) {
      // Outside the write lock: the tree is the client's until it commits, and syncing a
      // large tree must not hold up other snapshots.
      this.syncedEntries += await syncTree(this.treeDir(Kind.Active, id));
    }
    await this.ms.update(async (tx) => {
      let committedId: string;
      try {
        committedId = tx.commitActive(key, name, undefined, options);
      } catch (err) {
        throw wrapError('failed to commit snapshot', err);
      }
      // The record is written when this callback returns; a crash before that leaves the
      // tree in committed/ under an active record, which open() moves back.
      await rename(this.treeDir(Kind.Active, committedId), this.treeDir(Kind.Committed, committedId)).catch((err: unknown) => {
        throw wrapError('failed to move committed tree', err);
      });
    });
  }

  async remove(_ctx: RequestContext, key: string): Promise<void> {
    let trash = '';
    await this.ms.update(async (tx) => {
      let removed: { id: string; kind: Kind };
      try {
        removed = tx.remove(key);
      } catch (err) {
        throw wrapError('failed to remove', err);
      }
      const dir = this.treeDir(removed.kind, removed.id);
      const target = join(this.root, 'tmp', `rm-${removed.id}`);
      try {
        await rename(dir, target);
        trash = target;
      } catch (err) {
        // A view of a committed parent has no tree of its own.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapError('failed to remove tree', err);
      }
    }).catch(async (err: unknown) => {
      // The record stays: put its tree back where it was.
      if (trash) await this.restoreTrash(trash);
      trash = '';
      throw err;
    });
    if (trash) await rm(trash, { recursive: true, force: true }).catch((e: unknown) => this.log.warn({ error: String(e), path: trash }, 'failed to delete removed tree'));
  }

  /** Deletes trees that no record owns (a crash between a removal's commit and its delete). */
  async cleanup(_ctx: RequestContext): Promise<void> {
    const owned = await this.ms.view((tx) => tx.idMap());
    for (const area of ['active', 'committed']) {
      for (const name of await readdir(join(this.root, area))) {
        if (owned.has(name)) continue;
        const path = join(this.root, area, name);
        await rm(path, { recursive: true, force: true }).catch((e: unknown) => this.log.warn({ error: String(e), path }, 'failed to delete orphan tree'));
      }
    }
  }

  protected async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
    let parentIds: string[];
    try {
      // Refuse early (taken key, missing parent) so that a refused request copies nothing.
      parentIds = await this.ms.view((tx) => tx.checkCreate(kind, key, parent));
    } catch (err) {
      throw wrapError('failed to create snapshot', err);
    }
    const parentId = parentIds[0] ?? '';
    // A view of a committed parent binds the parent read-only: nothing to copy.
    const ownsTree = kind === Kind.Active || parentId === '';
    let staged = '';
    try {
      if (ownsTree) {
        staged = await mkdtemp(join(this.root, 'tmp', 'new-'));
        // mkdtemp makes 0700; an empty snapshot's root is 0755 (a copy takes the parent's mode).
        await chmod(staged, 0o755);
        if (parentId !== '') await this.copyParent(staged, this.treeDir(Kind.Committed, parentId));
      }
      const created = await this.ms.update(async (tx) => {
        let s: StoredSnapshot;
        try {
          s = tx.createSnapshot(kind, key, parent, options);
        } catch (err) {
          throw wrapError('failed to create snapshot', err);
        }
        if ((s.parentIds[0] ?? '') !== parentId) throw failedPrecondition(`parent ${JSON.stringify(parent)} changed while preparing ${JSON.stringify(key)}`);
        if (staged) {
          await rename(staged, this.treeDir(kind, s.id)).catch((err: unknown) => {
            throw wrapError('failed to move prepared tree', err);
          });
          staged = '';
        }
        return s;
      });
      return this.mountsFor(created);
    } finally {
      if (staged) await rm(staged, { recursive: true, force: true }).catch(() => {});
    }
  }

  private async copyParent(target: string, source: string): Promise<void> {
    const release = await this.copies.acquire();
    try {
      await copyDir(target, source, {
        onXattrError: (err, path, name) => this.log.debug({ error: String(err), path }, `xattr ${JSON.stringify(name)} not copied`),
      });
    } catch (err) {
      throw wrapError('copying of parent failed', err);
    } finally {
      release();
    }
  }

  protected mountsFor(s: StoredSnapshot): Mount[] {
    const parentId = s.parentIds[0];
    if (s.kind === Kind.View && parentId !== undefined) {
      return [{ type: 'bind', source: this.treeDir(Kind.Committed, parentId), options: ['rbind', 'ro'] }];
    }
    return [{ type: 'bind', source: this.treeDir(Kind.Active, s.id), options: ['rbind', s.kind === Kind.View ? 'ro' : 'rw'] }];
  }

  private async restoreTrash(trash: string): Promise<void> {
    const id = trash.slice(trash.lastIndexOf('rm-') + 3);
    const kind = await this.ms.view((tx) => {
      for (const [owned, key] of tx.idMap()) if (owned === id) return tx.getInfo(key).info.kind;
      return undefined;
    });
    if (kind === undefined) return;
    await rename(trash, this.treeDir(kind, id)).catch((e: unknown) => this.log.warn({ error: String(e), path: trash }, 'failed to restore tree after failed removal'));
  }

  /** A crash between a commit's rename and its record leaves a tree in the wrong area. */
  private async moveBackMisplacedTrees(): Promise<void> {
    const records = await this.ms.view((tx) => [...tx.idMap()].map(([id, key]) => ({ id, kind: tx.getInfo(key).info.kind })));
    for (const { id, kind } of records) {
      const want = this.treeDir(kind, id);
      const other = this.treeDir(kind === Kind.Committed ? Kind.Active : Kind.Committed, id);
      const [has, misplaced] = await Promise.all([exists(want), exists(other)]);
      if (!has && misplaced) {
        this.log.warn({ id, from: other, to: want }, 'moving tree back to where its record says it is');
        await rename(other, want);
      }
    }
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
