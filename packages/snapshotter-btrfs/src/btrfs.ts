// The btrfs snapshotter: every snapshot is a btrfs subvolume; a child is a copy-on-write
// snapshot of its parent's subvolume, and mounts are the root's device with `subvolid=`.
//
//   <root>/metadata.json      snapshot records
//   <root>/active/<id>        writable subvolumes of active snapshots
//   <root>/view/<id>          read-only snapshots of views
//   <root>/snapshots/<id>     read-only subvolumes of committed snapshots
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestContext } from '@containerd-ts/namespaces';
import {
  diskUsage,
  Kind,
  lookupMount,
  MetaStore,
  MetaStoreSnapshotter,
  type Mount,
  type MountInfo,
  noSnapshotterLog,
  type SnapshotOptions,
  type SnapshotterLog,
  type StoredSnapshot,
  type Usage,
  wrapError,
} from '@containerd-ts/snapshots';
import { subvolCreate, subvolDelete, subvolID, subvolSetReadonly, subvolSnapshot } from './btrfs-cli.js';
import { diffUsage } from './diff-usage.js';

/** The root is not on btrfs: the plugin reports this as a skip. */
export class NotBtrfsError extends Error {
  override name = 'NotBtrfsError';
}

/** Creates `root` (mode 0700) and checks that it is on btrfs; returns the mount it is on. */
export async function checkBtrfsRoot(root: string): Promise<MountInfo> {
  try {
    const st = await stat(root);
    if ((st.mode & 0o777) !== 0o700) await chmod(root, 0o700);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(root, { mode: 0o700 });
  }
  const mnt = await lookupMount(root);
  if (mnt.fstype !== 'btrfs') {
    throw new NotBtrfsError(
      `path ${root} (${mnt.fstype}) must be a btrfs filesystem to be used with the btrfs snapshotter`,
    );
  }
  return mnt;
}

export interface BtrfsSnapshotterOptions {
  log?: SnapshotterLog;
}

const kindDir = (kind: Kind): string => (kind === Kind.Committed ? 'snapshots' : kind.toLowerCase());

export class BtrfsSnapshotter extends MetaStoreSnapshotter {
  /** Subvolume IDs by path, so mounts spawn `btrfs` once per subvolume. */
  private readonly subvolIDs = new Map<string, number>();

  private constructor(
    root: string,
    /** Block device of the root's file system (the source of every mount). */
    readonly device: string,
    ms: MetaStore,
    log: SnapshotterLog,
  ) {
    super(root, ms, log, 'failed to get active snapshot');
  }

  /** Opens a btrfs snapshotter in `root`; throws NotBtrfsError when `root` is not on btrfs. */
  static async open(root: string, options: BtrfsSnapshotterOptions = {}): Promise<BtrfsSnapshotter> {
    const mnt = await checkBtrfsRoot(root);
    for (const dir of ['active', 'view', 'snapshots']) {
      await mkdir(join(root, dir), { recursive: true, mode: 0o755 });
    }
    const ms = await MetaStore.open(join(root, 'metadata.json'));
    return new BtrfsSnapshotter(root, mnt.source, ms, options.log ?? noSnapshotterLog);
  }

  private path(kind: Kind, id: string): string {
    return join(this.root, kindDir(kind), id);
  }

  async usage(_ctx: RequestContext, key: string): Promise<Usage> {
    const { id, info, usage, parentId } = await this.ms.view((tx) => {
      const found = tx.getInfo(key);
      return { ...found, parentId: found.info.parent === '' ? '' : tx.getInfo(found.info.parent).id };
    });
    if (info.kind === Kind.View) return usage ?? { size: 0, inodes: 0 };
    if (info.kind === Kind.Committed && usage) return usage;
    const dir = this.path(info.kind, id);
    const measured =
      parentId === '' ? await diskUsage(dir) : await diffUsage(this.path(Kind.Committed, parentId), dir);
    // A committed subvolume is read-only: measure it once, on first request.
    if (info.kind === Kind.Committed) await this.ms.update((tx) => tx.setUsage(key, id, measured));
    return measured;
  }

  override async commit(_ctx: RequestContext, name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    let source = '';
    let target = '';
    let moved = false;
    try {
      await this.ms.update(async (tx) => {
        try {
          tx.getInfo(key);
        } catch (err) {
          throw wrapError('failed to compute usage', err);
        }
        let id: string;
        try {
          id = tx.commitActive(key, name, undefined, options);
        } catch (err) {
          throw wrapError('failed to commit', err);
        }
        source = this.path(Kind.Active, id);
        target = this.path(Kind.Committed, id);
        // The active subvolume itself becomes the committed one: moved, then made
        // read-only (btrfs refuses to move a read-only subvolume to another directory),
        // rather than snapshotted and deleted: one btrfs command instead of two.
        await rename(source, target);
        moved = true;
        await subvolSetReadonly(target, true);
        this.subvolIDs.delete(source);
      });
    } catch (err) {
      if (moved) {
        await subvolSetReadonly(target, false).catch(() => {});
        await rename(target, source).catch((e: unknown) =>
          this.log.warn({ error: String(e), subvolume: source }, 'failed to restore active subvolume'),
        );
      }
      throw err;
    }
  }

  async remove(_ctx: RequestContext, key: string): Promise<void> {
    let source = '';
    let removed = '';
    try {
      await this.ms.update(async (tx) => {
        let id: string;
        let kind: Kind;
        try {
          ({ id, kind } = tx.remove(key));
        } catch (err) {
          throw wrapError('failed to remove snapshot', err);
        }
        source = this.path(kind, id);
        const candidate = join(this.root, kindDir(kind), `rm-${id}`);
        await rename(source, candidate);
        removed = candidate;
        this.subvolIDs.delete(source);
      });
    } catch (err) {
      if (removed) {
        await rename(removed, source).catch((e: unknown) =>
          this.log.warn({ error: String(e), subvolume: source, renamed: removed }, 'failed to restore subvolume from renamed'),
        );
      }
      throw err;
    }
    await subvolDelete(removed).catch((e: unknown) =>
      this.log.warn({ error: String(e), subvolume: removed }, 'failed to delete subvolume'),
    );
  }

  /** Deletes subvolumes no record owns (removals that failed, a crash mid-call). */
  async cleanup(_ctx: RequestContext): Promise<void> {
    const orphans = await this.ms.update(async (tx) => {
      const ids = tx.idMap();
      const found: string[] = [];
      for (const dir of ['active', 'view', 'snapshots']) {
        for (const name of await readdir(join(this.root, dir))) {
          if (!ids.has(name)) found.push(join(this.root, dir, name));
        }
      }
      return found;
    });
    for (const path of orphans) {
      await subvolDelete(path).catch((e: unknown) =>
        this.log.warn({ error: String(e), subvolume: path }, 'failed to delete subvolume'),
      );
    }
  }

  protected async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
    let target = '';
    try {
      const s = await this.ms.update(async (tx) => {
        const s = tx.createSnapshot(kind, key, parent, options);
        const path = this.path(kind, s.id);
        // An ID is only reused after a crash between creating the subvolume and the record.
        if (existsSync(path)) await subvolDelete(path);
        const parentId = s.parentIds[0];
        if (parentId === undefined) {
          this.subvolIDs.set(path, await subvolCreate(path));
          target = path;
          // The new root's mode would otherwise follow the umask of the btrfs command.
          await chmod(path, 0o755);
        } else {
          this.subvolIDs.set(path, await subvolSnapshot(path, this.path(Kind.Committed, parentId), kind === Kind.View));
          target = path;
        }
        return s;
      });
      target = '';
      return await this.mountsFor(s);
    } finally {
      if (target) {
        this.subvolIDs.delete(target);
        await subvolDelete(target).catch((e: unknown) =>
          this.log.warn({ error: String(e), subvolume: target }, 'failed to delete subvolume'),
        );
      }
    }
  }

  protected async mountsFor(s: StoredSnapshot): Promise<Mount[]> {
    const dir = this.path(s.kind, s.id);
    let sid = this.subvolIDs.get(dir);
    if (sid === undefined) {
      sid = await subvolID(dir);
      this.subvolIDs.set(dir, sid);
    }
    const options = [`subvolid=${sid}`];
    if (s.kind !== Kind.Active) options.push('ro');
    return [{ type: 'btrfs', source: this.device, options }];
  }
}
