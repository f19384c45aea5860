// The native snapshotter: every active snapshot is a full copy of its parent in a plain
// directory, mounted with a bind mount. Works on any file system; costs a copy per prepare.
//
//   <root>/metadata.json        snapshot records
//   <root>/snapshots/<id>/      the tree of snapshot <id>
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestContext } from '@containerd-ts/namespaces';
import {
  copyDir,
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

export interface NativeSnapshotterOptions {
  log?: SnapshotterLog;
}

export class NativeSnapshotter extends MetaStoreSnapshotter {
  /** Temporary directories of prepares in progress (cleanup must not take them). */
  private readonly inflight = new Set<string>();

  /** Opens (creating when needed) a native snapshotter in `root`. */
  static async open(root: string, options: NativeSnapshotterOptions = {}): Promise<NativeSnapshotter> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const ms = await MetaStore.open(join(root, 'metadata.json'));
    return new NativeSnapshotter(root, ms, options.log ?? noSnapshotterLog, 'failed to get snapshot mount');
  }

  private snapshotDir(id: string): string {
    return join(this.root, 'snapshots', id);
  }

  usage(_ctx: RequestContext, key: string): Promise<Usage> {
    return this.directoryUsage(key, (id) => this.snapshotDir(id));
  }

  async remove(_ctx: RequestContext, key: string): Promise<void> {
    let path = '';
    let renamed = '';
    try {
      await this.ms.update(async (tx) => {
        let id: string;
        try {
          ({ id } = tx.remove(key));
        } catch (err) {
          throw wrapError('failed to remove', err);
        }
        path = this.snapshotDir(id);
        renamed = join(this.root, 'snapshots', `rm-${id}`);
        try {
          await rename(path, renamed);
        } catch (err) {
          renamed = '';
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw wrapError('failed to rename', err);
        }
      });
    } catch (err) {
      if (renamed) {
        await rename(renamed, path).catch((e: unknown) =>
          this.log.warn({ error: String(e), path: renamed }, 'failed to rename after failed commit'),
        );
      }
      throw err;
    }
    await this.removeDirectories([renamed], 'failed to remove root filesystem');
  }

  /** Removes directories under `snapshots/` that no snapshot owns (left by a crash or a failed removal). */
  async cleanup(_ctx: RequestContext): Promise<void> {
    const dir = join(this.root, 'snapshots');
    const ids = await this.ms.view((tx) => tx.idMap());
    const names = await readdir(dir);
    const inflight = this.inflight;
    // Lazily, so a prepare that starts while earlier orphans are removed is not taken.
    function* orphans(): Generator<string> {
      for (const name of names) {
        const path = join(dir, name);
        if (!ids.has(name) && !inflight.has(path)) yield path;
      }
    }
    await this.removeDirectories(orphans());
  }

  protected async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
    // Check first, so a refused request copies nothing; the transaction checks again.
    let parentId: string;
    try {
      parentId = (await this.ms.view((tx) => tx.checkCreate(kind, key, parent)))[0] ?? '';
    } catch (err) {
      throw wrapError('failed to create snapshot', err);
    }
    let td = '';
    let path = '';
    try {
      if (kind === Kind.Active || parent === '') {
        td = await mkdtemp(join(this.root, 'snapshots', 'new-'));
        this.inflight.add(td);
        await chmod(td, 0o755);
        if (parentId !== '') {
          await copyDir(td, this.snapshotDir(parentId), {
            onXattrError: (err, p, name) =>
              this.log.debug({ error: String(err), path: p }, `failed to copy xattr ${JSON.stringify(name)}`),
          }).catch((err: unknown) => {
            throw wrapError('copying of parent failed', err);
          });
        }
      }
      const s = await this.ms.update(async (tx) => {
        let s: StoredSnapshot;
        try {
          s = tx.createSnapshot(kind, key, parent, options);
        } catch (err) {
          throw wrapError('failed to create snapshot', err);
        }
        if (td) {
          if ((s.parentIds[0] ?? '') !== parentId) throw new Error(`parent ${JSON.stringify(parent)} changed during prepare`);
          path = this.snapshotDir(s.id);
          // An ID is only reused after a crash between rename and commit: that tree is garbage.
          await rm(path, { recursive: true, force: true });
          await rename(td, path).catch((err: unknown) => {
            throw wrapError('failed to rename', err);
          });
          this.inflight.delete(td);
          td = '';
        }
        return s;
      });
      path = '';
      return this.mountsFor(s);
    } finally {
      for (const p of [td, path]) this.inflight.delete(p);
      await this.removeDirectories([td, path], 'failed to remove temporary snapshot directory');
    }
  }

  protected mountsFor(s: StoredSnapshot): Mount[] {
    const roFlag = s.kind === Kind.View ? 'ro' : 'rw';
    const source =
      s.parentIds.length === 0 || s.kind === Kind.Active ? this.snapshotDir(s.id) : this.snapshotDir(s.parentIds[0] ?? '');
    return [{ type: 'bind', source, options: ['rbind', roFlag] }];
  }
}
