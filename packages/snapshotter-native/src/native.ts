// The native snapshotter: every active snapshot is a full copy of its parent in a plain
// directory, mounted with a bind mount. Works on any file system; costs a copy per prepare.
//
//   <root>/metadata.json        snapshot records
//   <root>/snapshots/<id>/      the tree of snapshot <id>
import { chmod, mkdir, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import {
  copyDir,
  diskUsage,
  type Info,
  type InfoUpdate,
  Kind,
  MetaStore,
  type Mount,
  type SnapshotOptions,
  type Snapshotter,
  type StoredSnapshot,
  type Usage,
  type WalkFn,
  wrapError,
} from '@containerd-ts/snapshots';

export interface NativeSnapshotterOptions {
  log?: Pick<Logger, 'debug' | 'warn'>;
}

const noLog: Pick<Logger, 'debug' | 'warn'> = { debug: () => {}, warn: () => {} };

export class NativeSnapshotter implements Snapshotter {
  readonly root: string;
  private readonly ms: MetaStore;
  private readonly log: Pick<Logger, 'debug' | 'warn'>;
  /** Temporary directories of prepares in progress (cleanup must not take them). */
  private readonly inflight = new Set<string>();

  private constructor(root: string, ms: MetaStore, log: Pick<Logger, 'debug' | 'warn'>) {
    this.root = root;
    this.ms = ms;
    this.log = log;
  }

  /** Opens (creating when needed) a native snapshotter in `root`. */
  static async open(root: string, options: NativeSnapshotterOptions = {}): Promise<NativeSnapshotter> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    await mkdir(join(root, 'snapshots'), { recursive: true, mode: 0o700 });
    const ms = await MetaStore.open(join(root, 'metadata.json'));
    return new NativeSnapshotter(root, ms, options.log ?? noLog);
  }

  private snapshotDir(id: string): string {
    return join(this.root, 'snapshots', id);
  }

  async stat(_ctx: RequestContext, key: string): Promise<Info> {
    return this.ms.view((tx) => tx.getInfo(key).info);
  }

  async update(_ctx: RequestContext, info: InfoUpdate, fieldpaths?: readonly string[]): Promise<Info> {
    return this.ms.update((tx) => tx.updateInfo(info, fieldpaths));
  }

  async usage(_ctx: RequestContext, key: string): Promise<Usage> {
    const { id, info, usage } = await this.ms.view((tx) => tx.getInfo(key));
    if (info.kind === Kind.Active) return diskUsage(this.snapshotDir(id));
    if (info.kind !== Kind.Committed) return usage ?? { size: 0, inodes: 0 };
    if (usage) return usage;
    // Measured on first request: a committed tree never changes, so this equals the
    // usage at commit time without making every commit walk the tree.
    const measured = await diskUsage(this.snapshotDir(id));
    await this.ms.update((tx) => tx.setUsage(key, id, measured));
    return measured;
  }

  async mounts(_ctx: RequestContext, key: string): Promise<Mount[]> {
    let s: StoredSnapshot;
    try {
      s = await this.ms.view((tx) => tx.getSnapshot(key));
    } catch (err) {
      throw wrapError('failed to get snapshot mount', err);
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
    if (renamed) {
      await rm(renamed, { recursive: true, force: true }).catch((e: unknown) =>
        this.log.warn({ error: String(e), path: renamed }, 'failed to remove root filesystem'),
      );
    }
  }

  async walk(_ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void> {
    await this.ms.view((tx) => tx.walk(fn, filters));
  }

  /** Removes directories under `snapshots/` that no snapshot owns (left by a crash or a failed removal). */
  async cleanup(_ctx: RequestContext): Promise<void> {
    const dir = join(this.root, 'snapshots');
    const ids = await this.ms.view((tx) => tx.idMap());
    for (const name of await readdir(dir)) {
      const path = join(dir, name);
      if (ids.has(name) || this.inflight.has(path)) continue;
      await rm(path, { recursive: true, force: true }).catch((e: unknown) =>
        this.log.warn({ error: String(e), path }, 'failed to remove directory'),
      );
    }
  }

  async close(): Promise<void> {
    await this.ms.close();
  }

  private async createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]> {
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
      for (const p of [td, path]) {
        if (!p) continue;
        this.inflight.delete(p);
        await rm(p, { recursive: true, force: true }).catch((e: unknown) =>
          this.log.warn({ error: String(e), path: p }, 'failed to remove temporary snapshot directory'),
        );
      }
    }
  }

  private mountsFor(s: StoredSnapshot): Mount[] {
    const roFlag = s.kind === Kind.View ? 'ro' : 'rw';
    const source =
      s.parentIds.length === 0 || s.kind === Kind.Active ? this.snapshotDir(s.id) : this.snapshotDir(s.parentIds[0] ?? '');
    return [{ type: 'bind', source, options: ['rbind', roFlag] }];
  }
}
