// The namespaced snapshotter: one per backend snapshotter, keeping each namespace's keys,
// labels and parents in the metadata database and mapping them to backend keys
// `<namespace>/<sequence>/<key>`, so namespaces never see each other's snapshots and the
// collector can tell which backend snapshots are still referenced.
import { ContainerdError, alreadyExists, invalidArgument, isAlreadyExists, isNotFound, notFound } from '@containerd-ts/errdefs';
import { always, parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import { type Timestamp, now } from '@containerd-ts/timestamp';
import {
  type Info,
  type InfoUpdate,
  Kind,
  LABEL_SNAPSHOT_REF,
  type Mount,
  type SnapshotOptions,
  type Snapshotter,
  type Usage,
  type WalkFn,
  adaptSnapshot,
  filterInheritedLabels,
} from '@containerd-ts/snapshots';
import type { DBCore } from './core.js';
import { type LeaseResourceKind, prefixEnd, snapshotKey, snapshotSequenceKey, snapshotterPrefix } from './keys.js';
import { storedLabels, updatedLabels, validateLabels } from './labels.js';
import { addLeaseResource, removeLeaseResource } from './leases.js';
import { type SnapshotRecord, readRecordTime, recordTime } from './records.js';
import { SCAN_READ_AHEAD_BYTES, type Txn } from './store.js';

/**
 * Records read per batch while walking (the backend is asked about the batch between them):
 * one native read for a thousand, as a list of images reads them.
 */
export const WALK_BATCH = 1000;

/** The backend key of a namespaced snapshot, as containerd forms it. */
export const backendKey = (ns: string, sequence: number, key: string): string => `${ns}/${sequence}/${key}`;

interface LocalInfo {
  name: string;
  parent: string;
  labels: Record<string, string>;
  created: Timestamp;
  updated: Timestamp;
}

/** The namespace's view of a record; `rec` is the caller's (just decoded), its labels are taken over. */
const localInfo = (name: string, rec: SnapshotRecord): LocalInfo => ({
  name,
  parent: rec.parent ?? '',
  labels: rec.labels ?? {},
  created: readRecordTime(rec.createdAt),
  updated: readRecordTime(rec.updatedAt),
});

/** The backend's view (kind, its inherited labels) under the namespace's name, parent, times and labels. */
function overlayInfo(backend: Info, local: LocalInfo): Info {
  return {
    kind: backend.kind,
    name: local.name,
    parent: local.parent,
    // A fresh object either way: the backend's and the record's labels stay theirs.
    labels: { ...backend.labels, ...local.labels },
    created: local.created,
    updated: local.updated,
  };
}

const doesNotExist = (key: string) => notFound(`snapshot ${key} does not exist`);

function checkLabels(labels: Record<string, string> | undefined): void {
  validateLabels(labels, 'info.Labels');
}

export class NamespacedSnapshotter implements Snapshotter {
  private readonly lease: LeaseResourceKind;

  constructor(
    private readonly db: DBCore,
    /** The snapshotter's name (its plugin ID). */
    readonly name: string,
    /** The backend snapshotter (not namespaced). */
    readonly backend: Snapshotter,
  ) {
    this.lease = `snapshots/${name}`;
  }

  private record(tx: Txn | DBCore['store'], ns: string, key: string): Promise<SnapshotRecord | undefined> {
    return tx.getJSON<SnapshotRecord>(snapshotKey(ns, this.name, key));
  }

  /** Takes the next backend sequence number of this snapshotter in `ns` (inside `tx`). */
  private async nextSequence(tx: Txn, ns: string): Promise<number> {
    const key = snapshotSequenceKey(ns, this.name);
    const next = Number((await tx.get(key)) ?? '0') + 1;
    tx.put(key, String(next));
    return next;
  }

  private async resolve(ctx: RequestContext, key: string): Promise<string> {
    const ns = namespaceRequired(ctx);
    const rec = await this.record(this.db.store, ns, key);
    if (!rec?.name) throw doesNotExist(key);
    return rec.name;
  }

  async stat(ctx: RequestContext, key: string): Promise<Info> {
    const ns = namespaceRequired(ctx);
    const rec = await this.record(this.db.store, ns, key);
    if (!rec) throw doesNotExist(key);
    const info = await this.backend.stat(ctx, rec.name);
    return overlayInfo(info, localInfo(key, rec));
  }

  async update(ctx: RequestContext, info: InfoUpdate, fieldpaths: readonly string[] = []): Promise<Info> {
    const ns = namespaceRequired(ctx);
    if (!info.name) throw invalidArgument();
    return this.db.snapshotLock(this.name).withShared(() =>
      this.db.update(async (tx) => {
        const rec = await this.record(tx, ns, info.name);
        if (!rec) throw doesNotExist(info.name);
        let labels = updatedLabels(rec.labels, info.labels, fieldpaths, `snapshot ${JSON.stringify(info.name)}`);
        checkLabels(labels);
        labels = storedLabels(labels);
        const next: SnapshotRecord = { ...rec, labels, updatedAt: recordTime(now()) };
        tx.putJSON(snapshotKey(ns, this.name, info.name), next);
        // In the transaction, as containerd does, so the backend and the records rarely disagree.
        const backendInfo = await this.backend.update(ctx, { name: rec.name, labels: filterInheritedLabels(labels) }, fieldpaths);
        return overlayInfo(backendInfo, localInfo(info.name, next));
      }),
    );
  }

  async usage(ctx: RequestContext, key: string): Promise<Usage> {
    return this.backend.usage(ctx, await this.resolve(ctx, key));
  }

  async mounts(ctx: RequestContext, key: string): Promise<Mount[]> {
    return this.backend.mounts(ctx, await this.resolve(ctx, key));
  }

  async prepare(ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create(ctx, key, parent, false, options);
  }

  async view(ctx: RequestContext, key: string, parent = '', options: SnapshotOptions = {}): Promise<Mount[]> {
    return this.create(ctx, key, parent, true, options);
  }

  private async create(ctx: RequestContext, key: string, parent: string, readonly: boolean, options: SnapshotOptions): Promise<Mount[]> {
    const ns = namespaceRequired(ctx);
    const labels: Record<string, string> = { ...(options.labels ?? {}) };
    checkLabels(labels);
    // Held shared from the backend call until the record is written: the collector
    // (exclusive) never sees the new backend snapshot without its record.
    return this.db.snapshotLock(this.name).withShared(async () => {
      let target = labels[LABEL_SNAPSHOT_REF] ?? '';
      let bparent = '';
      let bkey = '';
      await this.db.update(async (tx) => {
        await this.db.touchNamespace(tx, ns);
        if (target && (await this.record(tx, ns, target))) throw alreadyExists(`target snapshot ${JSON.stringify(target)}`);
        if (await this.record(tx, ns, key)) throw alreadyExists(`snapshot ${JSON.stringify(key)}`);
        if (parent) {
          const prec = await this.record(tx, ns, parent);
          if (!prec) throw notFound(`parent snapshot ${parent} does not exist`);
          bparent = prec.name;
        }
        bkey = backendKey(ns, await this.nextSequence(tx, ns), key);
      });

      const backendOptions: SnapshotOptions = { labels: filterInheritedLabels(labels) };
      let mounts: Mount[] = [];
      let created = '';
      let result: unknown;
      let createdAt = now();
      let updatedAt = createdAt;
      let recordKey = key;
      try {
        mounts = readonly
          ? await this.backend.view(ctx, bkey, bparent, backendOptions)
          : await this.backend.prepare(ctx, bkey, bparent, backendOptions);
        created = bkey;
        createdAt = now();
        updatedAt = createdAt;
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        if (!target) {
          // The key was new, so the backend should not have it: not an answer a caller could act on.
          throw new ContainerdError('unknown', `unexpected error from snapshotter: ${(err as Error).message}`, { cause: err });
        }
        // A remote snapshotter already has the target: record it under the target's name.
        const found = await this.findTarget(ctx, target, bparent);
        recordKey = target;
        bkey = found.name;
        bparent = found.parent;
        createdAt = found.created;
        updatedAt = found.updated;
        for (const [k, v] of Object.entries(found.labels)) if (!(k in labels)) labels[k] = v;
        result = alreadyExists(`target snapshot ${JSON.stringify(target)} from snapshotter`);
        target = recordKey;
      }

      try {
        await this.db.update(async (tx) => {
          // containerd's bolt errors (code Unknown): an empty key is neither a lease entry nor a bucket
          if (!recordKey) throw new Error(ctx.lease ? 'key required' : 'bucket name required');
          await addLeaseResource(tx, ctx, ns, this.lease, recordKey);
          if (await this.record(tx, ns, recordKey)) {
            result ??= alreadyExists(`snapshot ${JSON.stringify(recordKey)}`);
            return;
          }
          const rec: SnapshotRecord = {
            name: bkey,
            labels: storedLabels(labels),
            createdAt: recordTime(createdAt),
            updatedAt: recordTime(updatedAt),
          };
          if (parent) {
            const prec = await this.record(tx, ns, parent);
            if (!prec) throw notFound(`parent snapshot ${parent} does not exist`);
            if (prec.name !== bparent) throw invalidArgument(`mismatched parent ${parent} from target ${target}`);
            rec.parent = parent;
          }
          tx.putJSON(snapshotKey(ns, this.name, recordKey), rec);
          await this.db.touchNamespace(tx, ns);
        });
      } catch (err) {
        result = err;
      }

      if (result !== undefined) {
        // The backend snapshot made here has no record: remove it now rather than leave it to the collector.
        if (created) {
          await this.backend.remove(ctx, created).catch((err: unknown) => {
            this.db.log?.error({ snapshotter: this.name, key: created, error: (err as Error).message }, 'failed to cleanup unreferenced snapshot');
          });
          // A backend whose removal only drops the record (overlayfs) reclaims the directory
          // in its cleanup, which the next collection runs only for a dirty snapshotter.
          await this.db.update(async (tx) => this.db.markDirty(tx, { snapshotter: this.name }));
        }
        throw result;
      }
      return mounts;
    });
  }

  /** The committed backend snapshot a remote snapshotter reported for `target` on `bparent`. */
  private async findTarget(ctx: RequestContext, target: string, bparent: string): Promise<Info> {
    let found: Info | undefined;
    const filter = `labels."${LABEL_SNAPSHOT_REF}"==${target},parent==${JSON.stringify(bparent)}`;
    try {
      await this.backend.walk(
        ctx,
        (info) => {
          // Checked again: a backend may ignore the filter.
          if (found || info.kind !== Kind.Committed) return;
          if (info.labels[LABEL_SNAPSHOT_REF] !== target || info.parent !== bparent) return;
          found = info;
        },
        [filter],
      );
    } catch (err) {
      if (err instanceof ContainerdError) {
        const wrapped = new ContainerdError(err.kind, undefined, { cause: err });
        wrapped.message = `failed walking backend snapshots: ${err.message}`;
        throw wrapped;
      }
      throw err;
    }
    if (!found) throw notFound(`target snapshot ${JSON.stringify(target)} in backend`);
    return found;
  }

  async commit(ctx: RequestContext, name: string, key: string, options: SnapshotOptions = {}): Promise<void> {
    const ns = namespaceRequired(ctx);
    const labels = { ...(options.labels ?? {}) };
    checkLabels(labels);
    await this.db.snapshotLock(this.name).withShared(() =>
      this.db.update(async (tx) => {
        // containerd's bolt error (code Unknown) for the empty bucket name
        if (!name) throw new Error('bucket name required');
        if (await this.record(tx, ns, name)) throw alreadyExists(`snapshot ${JSON.stringify(name)}`);
        await addLeaseResource(tx, ctx, ns, this.lease, name);
        const active = await this.record(tx, ns, key);
        if (!active) throw doesNotExist(key);
        const nameKey = backendKey(ns, await this.nextSequence(tx, ns), name);
        const t = recordTime(now());
        const rec: SnapshotRecord = { name: nameKey, labels: storedLabels(labels), createdAt: t, updatedAt: t };
        if (active.parent) {
          if (!(await this.record(tx, ns, active.parent))) throw notFound(`parent snapshot ${active.parent} does not exist`);
          rec.parent = active.parent;
        }
        tx.putJSON(snapshotKey(ns, this.name, name), rec);
        tx.del(snapshotKey(ns, this.name, key));
        removeLeaseResource(tx, ctx, ns, this.lease, key);
        await this.db.touchNamespace(tx, ns);
        // In the transaction, as containerd does: a failed commit leaves the records as they were.
        try {
          await this.backend.commit(ctx, nameKey, active.name, { labels: filterInheritedLabels(labels) });
        } catch (err) {
          this.db.log?.error(
            { snapshotter: this.name, key, error: (err as Error).message },
            'uncommittable snapshot: backend commit failed',
          );
          throw err;
        }
      }),
    );
  }

  /** Removes the record; the backend snapshot goes with the next collection. */
  async remove(ctx: RequestContext, key: string): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.db.snapshotLock(this.name).withShared(() =>
      this.db.update(async (tx) => {
        const rec = await this.record(tx, ns, key);
        if (!rec) throw doesNotExist(key);
        // Children are found by their parent field: a child removed by the collector
        // leaves no stale link behind.
        for (const [, value] of await tx.entries(snapshotterPrefix(ns, this.name))) {
          if ((JSON.parse(value) as SnapshotRecord).parent === key) {
            throw new ContainerdError('failed-precondition', 'cannot remove snapshot with child');
          }
        }
        if (rec.parent && !(await this.record(tx, ns, rec.parent))) throw notFound(`parent snapshot ${rec.parent} does not exist`);
        tx.del(snapshotKey(ns, this.name, key));
        removeLeaseResource(tx, ctx, ns, this.lease, key);
        this.db.markDirty(tx, { snapshotter: this.name });
      }),
    );
  }

  async walk(ctx: RequestContext, fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    const ns = namespaceRequired(ctx);
    const filter = parseAll(filters);
    const prefix = snapshotterPrefix(ns, this.name);
    let after: string | undefined;
    for (;;) {
      // A batch of records from one consistent read, then the backend about all of them.
      const batch: Array<{ bkey: string; local: LocalInfo }> = [];
      const range = after === undefined ? { gte: prefix } : { gt: after };
      // A few native reads for the batch, not a round trip per record: nextv returns what
      // fits its byte budget, which may be fewer records than asked for.
      const it = this.db.store.db.iterator({ ...range, lt: prefixEnd(prefix), limit: WALK_BATCH, highWaterMarkBytes: SCAN_READ_AHEAD_BYTES });
      const entries: Array<[string, string]> = [];
      try {
        for (;;) {
          const more = await it.nextv(WALK_BATCH - entries.length);
          if (more.length === 0) break;
          entries.push(...more);
          if (entries.length >= WALK_BATCH) break;
        }
      } finally {
        await it.close();
      }
      for (const [k, v] of entries) {
        const rec = JSON.parse(v) as SnapshotRecord;
        batch.push({ bkey: rec.name, local: localInfo(k.slice(prefix.length), rec) });
        after = k;
      }
      const backendInfos = await this.backendInfos(ctx, batch.map((b) => b.bkey));
      for (let i = 0; i < batch.length; i++) {
        const found = backendInfos[i];
        // Removed from the backend since the batch was read.
        if (found === undefined) continue;
        const info = overlayInfo(found, batch[i]!.local);
        if (filter === always || filter.match(adaptSnapshot(info))) {
          // A walk function that returns nothing is not waited for.
          const pending = fn(info);
          if (pending) await pending;
        }
      }
      if (entries.length < WALK_BATCH) return;
    }
  }

  /** The backend's infos of `keys` (`undefined` for one it does not have): in one call where it can. */
  private async backendInfos(ctx: RequestContext, keys: readonly string[]): Promise<Array<Info | undefined>> {
    if (this.backend.statMany) return this.backend.statMany(ctx, keys);
    const infos: Array<Info | undefined> = [];
    for (const key of keys) {
      try {
        infos.push(await this.backend.stat(ctx, key));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        infos.push(undefined);
      }
    }
    return infos;
  }

  /** Closes the backend (as containerd's metadata snapshotter does); twice is fine. */
  async close(): Promise<void> {
    return this.backend.close();
  }
}
