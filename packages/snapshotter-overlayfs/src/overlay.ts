// The overlayfs snapshotter: each snapshot is one directory of changes; a snapshot with
// parents is an overlay mount of its own upper directory over its parents' directories.
// Prepare makes two empty directories and commit copies nothing.
//
//   <root>/metadata.json              snapshot records
//   <root>/snapshots/<id>/fs          the snapshot's changes (overlay upperdir; a parent's lowerdir)
//   <root>/snapshots/<id>/work        overlay workdir (active snapshots)
import { chmod, lchown, mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestContext } from '@containerd-ts/namespaces';
import {
  type Info,
  Kind,
  MetaStore,
  MetaStoreSnapshotter,
  type Mount,
  noSnapshotterLog,
  type ReadTransaction,
  type SnapshotOptions,
  type SnapshotterLog,
  type StoredSnapshot,
  type Usage,
  wrapError,
} from '@containerd-ts/snapshots';
import { needsUserXattr, supportsDType, supportsIndex } from './check.js';

/** Label with a snapshot's upper directory, added to its info when `upperdirLabel` is on. */
export const UPPERDIR_LABEL = 'containerd.io/snapshot/overlay.upperdir';

export interface OverlaySnapshotterOptions {
  /** Add the `containerd.io/snapshot/overlay.upperdir` label to infos (config `upperdir_label`). */
  upperdirLabel?: boolean;
  /**
   * Remove a snapshot's directories when it is removed (config `sync_remove`). Otherwise,
   * as containerd's default, removal only drops the record and `cleanup` reclaims the space.
   */
  syncRemove?: boolean;
  /** Extra options for overlay mounts (not bind mounts), config `mount_options`. */
  mountOptions?: readonly string[];
  log?: SnapshotterLog;
}

const hasOption = (options: readonly string[], name: string): boolean =>
  options.some((o) => o === name || o.startsWith(`${name}=`));

export class OverlaySnapshotter extends MetaStoreSnapshotter {
  private readonly upperdirLabel: boolean;
  private readonly syncRemove: boolean;
  /** Options every overlay mount starts with. */
  private readonly overlayOptions: readonly string[];

  private constructor(root: string, ms: MetaStore, overlayOptions: string[], options: OverlaySnapshotterOptions) {
    super(root, ms, options.log ?? noSnapshotterLog, 'failed to get active mount');
    this.upperdirLabel = options.upperdirLabel ?? false;
    this.syncRemove = options.syncRemove ?? false;
    this.overlayOptions = overlayOptions;
  }

  /**
   * Opens (creating when needed) an overlay snapshotter in `root`. Fails, as containerd,
   * when the root's file system does not record d_type.
   */
  static async open(root: string, options: OverlaySnapshotterOptions = {}): Promise<OverlaySnapshotter> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    if (!(await supportsDType(root))) {
      throw new Error(
        `${root} does not support d_type. If the backing filesystem is xfs, please reformat with ftype=1 to enable d_type support`,
      );
    }
    const ms = await MetaStore.open(join(root, 'metadata.json'));
    await mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const extra = [...(options.mountOptions ?? [])];
    const overlayOptions: string[] = [];
    if (!hasOption(extra, 'index') && supportsIndex()) overlayOptions.push('index=off');
    if (!hasOption(extra, 'userxattr')) {
      let userxattr = false;
      try {
        userxattr = await needsUserXattr(root);
      } catch (err) {
        options.log?.warn({ error: String(err) }, 'cannot detect whether "userxattr" option needs to be used, assuming to be false');
      }
      if (userxattr) overlayOptions.push('userxattr');
    }
    overlayOptions.push(...extra);
    return new OverlaySnapshotter(root, ms, overlayOptions, options);
  }

  private snapshotDir(id: string): string {
    return join(this.root, 'snapshots', id);
  }

  /** The upper directory of snapshot `id` (its changes; the lowerdir its children see). */
  upperPath(id: string): string {
    return join(this.root, 'snapshots', id, 'fs');
  }

  private workPath(id: string): string {
    return join(this.root, 'snapshots', id, 'work');
  }

  protected override describe(info: Info, id: string): Info {
    if (this.upperdirLabel) info.labels[UPPERDIR_LABEL] = this.upperPath(id);
    return info;
  }

  protected override get describes(): boolean {
    return this.upperdirLabel;
  }

  usage(_ctx: RequestContext, key: string): Promise<Usage> {
    return this.directoryUsage(key, (id) => this.upperPath(id));
  }

  async remove(_ctx: RequestContext, key: string): Promise<void> {
    let removals: string[] = [];
    await this.ms.update(async (tx) => {
      try {
        tx.remove(key);
      } catch (err) {
        throw wrapError('failed to remove', err);
      }
      if (this.syncRemove) {
        try {
          removals = await this.orphanDirectories(tx);
        } catch (err) {
          throw wrapError('unable to get directories for removal', err);
        }
      }
    });
    // The record is gone whatever happens now: a directory left behind is only garbage.
    await this.removeDirectories(removals);
  }

  /** Removes snapshot directories no record owns: removed snapshots, and leftovers of failed or interrupted calls. */
  async cleanup(_ctx: RequestContext): Promise<void> {
    // Listed as the only writer, so no snapshot is being created meanwhile.
    const dirs = await this.ms.update((tx) => this.orphanDirectories(tx));
    await this.removeDirectories(dirs);
  }

  private async orphanDirectories(tx: ReadTransaction): Promise<string[]> {
    const ids = tx.idMap();
    const dir = join(this.root, 'snapshots');
    return (await readdir(dir)).filter((name) => !ids.has(name)).map((name) => join(dir, name));
  }

  protected async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
    let td = '';
    let path = '';
    try {
      const s = await this.ms.update(async (tx) => {
        td = await this.prepareDirectory(kind).catch((err: unknown) => {
          throw wrapError('failed to create prepare snapshot dir', err);
        });
        let s: StoredSnapshot;
        try {
          s = tx.createSnapshot(kind, key, parent, options);
        } catch (err) {
          throw wrapError('failed to create snapshot', err);
        }
        const parentId = s.parentIds[0];
        if (parentId !== undefined) {
          // The new upper directory is owned like the parent's, so the merged root keeps its owner.
          const st = await stat(this.upperPath(parentId)).catch((err: unknown) => {
            throw wrapError('failed to stat parent', err);
          });
          await lchown(join(td, 'fs'), st.uid, st.gid).catch((err: unknown) => {
            throw wrapError('failed to chown', err);
          });
        }
        path = this.snapshotDir(s.id);
        // An ID is only reused after a crash between rename and commit: that tree is garbage.
        await rm(path, { recursive: true, force: true });
        await rename(td, path).catch((err: unknown) => {
          throw wrapError('failed to rename', err);
        });
        td = '';
        return s;
      });
      path = '';
      return this.mountsFor(s);
    } finally {
      await this.removeDirectories([td, path], 'failed to remove temporary snapshot directory');
    }
  }

  private async prepareDirectory(kind: Kind): Promise<string> {
    const td = await mkdtemp(join(this.root, 'snapshots', 'new-'));
    const fs = join(td, 'fs');
    await mkdir(fs);
    await chmod(fs, 0o755);
    if (kind === Kind.Active) {
      const work = join(td, 'work');
      await mkdir(work);
      await chmod(work, 0o711);
    }
    return td;
  }

  protected mountsFor(s: StoredSnapshot): Mount[] {
    if (s.parentIds.length === 0) {
      // Nothing to overlay: the snapshot's own directory, bound.
      return [{ type: 'bind', source: this.upperPath(s.id), options: [s.kind === Kind.View ? 'ro' : 'rw', 'rbind'] }];
    }
    const options = [...this.overlayOptions];
    if (s.kind === Kind.Active) {
      options.push(`workdir=${this.workPath(s.id)}`, `upperdir=${this.upperPath(s.id)}`);
    } else if (s.parentIds.length === 1) {
      // A read-only view of one layer is that layer's directory, bound read-only.
      return [{ type: 'bind', source: this.upperPath(s.parentIds[0] ?? ''), options: ['ro', 'rbind'] }];
    }
    options.push(`lowerdir=${s.parentIds.map((id) => this.upperPath(id)).join(':')}`);
    return [{ type: 'overlay', source: 'overlay', options }];
  }
}
