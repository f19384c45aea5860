// The part every snapshotter that keeps its records in a MetaStore shares: the record-only
// calls (stat, update, walk), mounts by key, prepare/view through one creation method,
// a commit that only moves the record, usage of a one-directory tree, and removal of
// directories with a logged warning. A snapshotter supplies how trees are made, mounted,
// measured and removed.
import { rm } from 'node:fs/promises';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import { diskUsage } from './disk-usage.js';
import { wrapError } from './errors.js';
import type { MetaStore, StoredSnapshot } from './metastore.js';
import { type Info, type InfoUpdate, Kind, type Mount, type SnapshotOptions, type Snapshotter, type Usage, type WalkFn } from './types.js';

/** What a snapshotter logs: debug detail and warnings about what it could not clean up. */
export type SnapshotterLog = Pick<Logger, 'debug' | 'warn'>;

/** A logger that drops everything (for snapshotters opened without one). */
export const noSnapshotterLog: SnapshotterLog = { debug: () => {}, warn: () => {} };

export abstract class MetaStoreSnapshotter implements Snapshotter {
  /**
   * @param root the snapshotter's directory
   * @param ms its records
   * @param mountsError the context of a failed `mounts` lookup (containerd's wording differs
   *   from one snapshotter to another)
   */
  protected constructor(
    readonly root: string,
    protected readonly ms: MetaStore,
    protected readonly log: SnapshotterLog,
    private readonly mountsError: string,
  ) {}

  /** Creates an active snapshot or a view: its tree and its record. */
  protected abstract createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions): Promise<Mount[]>;

  /** The mounts of a snapshot. */
  protected abstract mountsFor(s: StoredSnapshot): Mount[] | Promise<Mount[]>;

  abstract usage(ctx: RequestContext, key: string): Promise<Usage>;
  abstract remove(ctx: RequestContext, key: string): Promise<void>;
  abstract cleanup(ctx: RequestContext): Promise<void>;

  /** What an info shows beyond its record (overlayfs's upperdir label); the record as is by default. */
  protected describe(info: Info, _id: string): Info {
    return info;
  }

  /** Whether `describe` adds anything (so a walk only looks up IDs when it does). */
  protected get describes(): boolean {
    return false;
  }

  async stat(_ctx: RequestContext, key: string): Promise<Info> {
    return this.ms.view((tx) => {
      const { id, info } = tx.getInfo(key);
      return this.describe(info, id);
    });
  }

  async statMany(_ctx: RequestContext, keys: readonly string[]): Promise<Array<Info | undefined>> {
    return this.ms.view((tx) =>
      keys.map((key) => {
        const found = tx.findInfo(key);
        return found && this.describe(found.info, found.id);
      }),
    );
  }

  async update(_ctx: RequestContext, info: InfoUpdate, fieldpaths?: readonly string[]): Promise<Info> {
    return this.ms.update((tx) => {
      const updated = tx.updateInfo(info, fieldpaths);
      return this.describes ? this.describe(updated, tx.getInfo(updated.name).id) : updated;
    });
  }

  async walk(_ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void> {
    await this.ms.view((tx) =>
      tx.walk(this.describes ? (info) => fn(this.describe(info, tx.getInfo(info.name).id)) : fn, filters),
    );
  }

  async mounts(_ctx: RequestContext, key: string): Promise<Mount[]> {
    let s: StoredSnapshot;
    try {
      s = await this.ms.view((tx) => tx.getSnapshot(key));
    } catch (err) {
      throw wrapError(this.mountsError, err);
    }
    return this.mountsFor(s);
  }

  prepare(_ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.createSnapshot(Kind.Active, key, parent, options);
  }

  view(_ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.createSnapshot(Kind.View, key, parent, options);
  }

  /** Commits by moving the record only: for snapshotters whose committed tree stays where the active one was. */
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

  async close(): Promise<void> {
    await this.ms.close();
  }

  /**
   * Usage of a snapshot whose tree is the directory `dirOf(id)`: an active one measured now;
   * a committed one measured on first request and stored (a committed tree never changes,
   * so the figure equals the one at commit time without making every commit walk the tree);
   * a view as stored.
   */
  protected async directoryUsage(key: string, dirOf: (id: string) => string): Promise<Usage> {
    const { id, info, usage } = await this.ms.view((tx) => tx.getInfo(key));
    if (info.kind === Kind.Active) return diskUsage(dirOf(id));
    if (info.kind !== Kind.Committed) return usage ?? { size: 0, inodes: 0 };
    if (usage) return usage;
    const measured = await diskUsage(dirOf(id));
    await this.ms.update((tx) => tx.setUsage(key, id, measured));
    return measured;
  }

  /** Removes directories (recursively) one after the other; a failure is logged with `message`, not thrown. */
  protected async removeDirectories(paths: Iterable<string>, message = 'failed to remove directory'): Promise<void> {
    for (const path of paths) {
      if (!path) continue;
      await rm(path, { recursive: true, force: true }).catch((e: unknown) => this.log.warn({ error: String(e), path }, message));
    }
  }
}
