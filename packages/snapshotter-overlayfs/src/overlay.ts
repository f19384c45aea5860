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
import type { Logger } from '@containerd-ts/plugin';
import {
  diskUsage,
  type Info,
  type InfoUpdate,
  Kind,
  MetaStore,
  type Mount,
  type ReadTransaction,
  type SnapshotOptions,
  type Snapshotter,
  type StoredSnapshot,
  type Usage,
  type WalkFn,
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
  log?: Pick<Logger, 'debug' | 'warn'>;
}

const noLog: Pick<Logger, 'debug' | 'warn'> = { debug: () => {}, warn: () => {} };

const hasOption = (options: readonly string[], name: string): boolean =>
  options.some((o) => o === name || o.startsWith(`${name}=`));

export class OverlaySnapshotter implements Snapshotter {
  readonly root: string;
  private readonly ms: MetaStore;
  private readonly upperdirLabel: boolean;
  private readonly syncRemove: boolean;
  /** Options every overlay mount starts with. */
  private readonly overlayOptions: readonly string[];
  private readonly log: Pick<Logger, 'debug' | 'warn'>;

  private constructor(root: string, ms: MetaStore, overlayOptions: string[], options: OverlaySnapshotterOptions) {
    this.root = root;
    this.ms = ms;
    this.upperdirLabel = options.upperdirLabel ?? false;
    this.syncRemove = options.syncRemove ?? false;
    this.overlayOptions = overlayOptions;
    this.log = options.log ?? noLog;
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

  private withUpperdirLabel(info: Info, id: string): Info {
    if (this.upperdirLabel) info.labels[UPPERDIR_LABEL] = this.upperPath(id);
    return info;
  }

  async stat(_ctx: RequestContext, key: string): Promise<Info> {
    const { id, info } = await this.ms.view((tx) => tx.getInfo(key));
    return this.withUpperdirLabel(info, id);
  }

  async update(_ctx: RequestContext, info: InfoUpdate, fieldpaths?: readonly string[]): Promise<Info> {
    return this.ms.update((tx) => {
      const updated = tx.updateInfo(info, fieldpaths);
      return this.withUpperdirLabel(updated, tx.getInfo(updated.name).id);
    });
  }

  async usage(_ctx: RequestContext, key: string): Promise<Usage> {
    const { id, info, usage } = await this.ms.view((tx) => tx.getInfo(key));
    if (info.kind === Kind.Active) return diskUsage(this.upperPath(id));
    if (info.kind !== Kind.Committed) return usage ?? { size: 0, inodes: 0 };
    if (usage) return usage;
    // Measured on first request rather than at commit: a committed upper directory never
    // changes, so the figure is the same and commit stays free of a tree walk.
    const measured = await diskUsage(this.upperPath(id));
    await this.ms.update((tx) => tx.setUsage(key, id, measured));
    return measured;
  }

  async mounts(_ctx: RequestContext, key: string): Promise<Mount[]> {
    let s: StoredSnapshot;
    try {
      s = await this.ms.view((tx) => tx.getSnapshot(key));
    } catch (err) {
      throw wrapError('failed to get active mount', err);
    }
    return this.mountsFor(s);
  }

  prepare(_ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.createSnapshot(Kind.Active, key, parent, options);
  }

  view(_ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.createSnapshot(Kind.View, key, parent, options);
  }

  async commit(_ctx: RequestContext, name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    await this.ms.update((tx) => {
      tx.getInfo(key);
      try {
        tx.commitActive(key, name, undefined, options);
      } catch (err) {
        throw wrapError('failed to commit snapshot', err);
      }
    });
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
    await this.removeAll(removals);
  }

  async walk(_ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void> {
    await this.ms.view((tx) =>
      tx.walk(this.upperdirLabel ? (info) => fn(this.withUpperdirLabel(info, tx.getInfo(info.name).id)) : fn, filters),
    );
  }

  /** Removes snapshot directories no record owns: removed snapshots, and leftovers of failed or interrupted calls. */
  async cleanup(_ctx: RequestContext): Promise<void> {
    // Listed as the only writer, so no snapshot is being created meanwhile.
    const dirs = await this.ms.update((tx) => this.orphanDirectories(tx));
    await this.removeAll(dirs);
  }

  async close(): Promise<void> {
    await this.ms.close();
  }

  private async orphanDirectories(tx: ReadTransaction): Promise<string[]> {
    const ids = tx.idMap();
    const dir = join(this.root, 'snapshots');
    return (await readdir(dir)).filter((name) => !ids.has(name)).map((name) => join(dir, name));
  }

  private async removeAll(dirs: readonly string[]): Promise<void> {
    for (const dir of dirs) {
      await rm(dir, { recursive: true, force: true }).catch((e: unknown) =>
        this.log.warn({ error: String(e), path: dir }, 'failed to remove directory'),
      );
    }
  }

  private async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
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
      for (const p of [td, path]) {
        if (!p) continue;
        await rm(p, { recursive: true, force: true }).catch((e: unknown) =>
          this.log.warn({ error: String(e), path: p }, 'failed to remove temporary snapshot directory'),
        );
      }
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

  private mountsFor(s: StoredSnapshot): Mount[] {
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
