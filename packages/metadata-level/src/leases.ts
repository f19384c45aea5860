// Leases: named holds on content, ingests and snapshots, with optional expiry. Anything
// created under a request's lease is added to it (see the *LeaseResource helpers).
import { randomBytes } from 'node:crypto';
import { digestProblem } from '@containerd-ts/content';
import { invalidArgument, notFound, notImplemented, alreadyExists } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import { type Timestamp, now } from '@containerd-ts/timestamp';
import type { DBCore } from './core.js';
import { type LeaseResourceKind, leaseKey, leasedKey, leasedPrefix, leasesPrefix } from './keys.js';
import { GCLabel, labelKeyOf, labelValue, storedLabels, validateLabels } from './labels.js';
import { type LeaseRecord, decodeLeaseRecord, encodeLeaseRecord, leaseLabelBytes } from './lease-record.js';
import { eachMatching, type RecordField, type RecordFormat } from './scan.js';
import type { Txn } from './store.js';

export interface Lease {
  id: string;
  createdAt: Timestamp;
  labels: Record<string, string>;
}

/** A resource held by a lease: type `content`, `ingests` or `snapshots/<snapshotter>`. */
export interface LeaseResource {
  id: string;
  type: string;
}

export interface LeaseCreateOptions {
  /** Lease ID; a random one (as containerd's WithRandomID) when absent or empty. */
  id?: string;
  labels?: Record<string, string>;
}

export interface LeaseDeleteOptions {
  /** Wait until a garbage collection has removed what only this lease held. */
  sync?: boolean;
}

/** Parses an RFC 3339 time as containerd's gc.expire label; undefined when malformed. */
export function parseExpire(value: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value)) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}

function resourceKind(r: LeaseResource): LeaseResourceKind {
  const parts = r.type.split('/');
  const head = parts[0];
  if (head === 'content' || head === 'ingests') {
    if (parts.length !== 1) throw invalidArgument(`invalid resource type ${r.type}`);
    if (head === 'content') {
      const problem = digestProblem(r.id);
      if (problem) throw invalidArgument(`invalid content resource id ${r.id}: ${problem}`);
    }
    return head;
  }
  if (head === 'snapshots') {
    if (parts.length !== 2) throw invalidArgument(`invalid snapshot resource type ${r.type}`);
    // `snapshots/` (no snapshotter) parses; adding it fails on the empty bucket name below
    return `snapshots/${parts[1]}`;
  }
  throw notImplemented(`resource type ${r.type} not supported yet`);
}

function randomLeaseID(): string {
  const nanos = (process.hrtime.bigint() % 1_000_000_000n).toString();
  return `${nanos}-${randomBytes(3).toString('base64url')}`;
}

/** Filter fields of a lease: `id`, `labels.*`. */
const leaseField: RecordField<LeaseRecord> = (path, id, record) => {
  const head = path[0];
  if (head === 'id') return path.length === 1 && id !== '' ? id : undefined;
  if (head === 'labels') return labelValue(record().labels, labelKeyOf(path));
  return undefined;
};

const leaseRecords: RecordFormat<LeaseRecord> = { decode: decodeLeaseRecord, labelBytes: leaseLabelBytes };

export class LeaseManager {
  constructor(private readonly core: DBCore) {}

  async create(ctx: RequestContext, options: LeaseCreateOptions = {}): Promise<Lease> {
    const ns = namespaceRequired(ctx);
    const id = options.id || randomLeaseID();
    const labels = storedLabels(options.labels);
    validateLabels(labels, 'lease.Labels');
    const createdAt = now();
    const expire = labels[GCLabel.expire];
    const expireAt = expire === undefined ? undefined : parseExpire(expire);
    await this.core.update(async (tx) => {
      if ((await tx.get(leaseKey(ns, id))) !== undefined) throw alreadyExists(`lease ${JSON.stringify(id)}`);
      tx.put(leaseKey(ns, id), encodeLeaseRecord({ createdAt, labels }));
      await this.core.touchNamespace(tx, ns);
      // Before the mutation callbacks run, so the GC scheduler sees the new expiry.
      if (expireAt) tx.onCommit(() => this.core.noteExpiry(expireAt));
    });
    return { id, createdAt, labels };
  }

  /** Deletes a lease (`not-found` when absent); with `sync`, waits for the collection that follows. */
  async delete(ctx: RequestContext, id: string, options: LeaseDeleteOptions = {}): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.update(async (tx) => {
      if ((await tx.get(leaseKey(ns, id))) === undefined) throw notFound(`lease ${JSON.stringify(id)}`);
      tx.del(leaseKey(ns, id));
      await tx.delPrefix(leasedPrefix(ns, id));
      this.core.markDirty(tx, {});
    });
    if (options.sync) await this.core.scheduleAndWait();
  }

  async get(ctx: RequestContext, id: string): Promise<Lease> {
    const ns = namespaceRequired(ctx);
    const stored = await this.core.store.get(leaseKey(ns, id));
    if (stored === undefined) throw notFound(`lease ${JSON.stringify(id)}`);
    const rec = decodeLeaseRecord(stored);
    return { id, createdAt: rec.createdAt, labels: rec.labels };
  }

  /** Leases of the request's namespace matching any of `filters` (fields `id`, `labels.<key>`). */
  async list(ctx: RequestContext, filters: readonly string[] = []): Promise<Lease[]> {
    const out: Lease[] = [];
    await this.each(ctx, filters, (lease) => out.push(lease));
    return out;
  }

  /** Calls `fn` with each lease `list` would return, in the same order, as it is read. */
  async each(ctx: RequestContext, filters: readonly string[], fn: (lease: Lease) => void): Promise<void> {
    const ns = namespaceRequired(ctx);
    await eachMatching(
      this.core.store,
      leasesPrefix(ns),
      parseAll(filters),
      leaseField,
      (id, _stored, record) => {
        const r = record();
        fn({ id, createdAt: r.createdAt, labels: r.labels });
      },
      leaseRecords,
    );
  }

  /**
   * Calls `fn` with the ID and the stored record of each lease `list` would return, in the
   * same order, as it is read: the record is the wire form of the lease's API message
   * without its ID (lease-record.ts), one Latin-1 character per byte.
   */
  async eachStored(ctx: RequestContext, filters: readonly string[], fn: (id: string, stored: string) => void): Promise<void> {
    const ns = namespaceRequired(ctx);
    await eachMatching(this.core.store, leasesPrefix(ns), parseAll(filters), leaseField, fn, leaseRecords);
  }

  async addResource(ctx: RequestContext, id: string, resource: LeaseResource): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.update(async (tx) => {
      if ((await tx.get(leaseKey(ns, id))) === undefined) throw notFound(`lease ${JSON.stringify(id)}`);
      const kind = resourceKind(resource);
      // containerd's bolt errors (code Unknown) for an empty snapshotter or resource ID
      if (kind === 'snapshots/') throw new Error('bucket name required');
      if (!resource.id) throw new Error('key required');
      tx.put(leasedKey(ns, id, kind, resource.id), '');
    });
  }

  async deleteResource(ctx: RequestContext, id: string, resource: LeaseResource): Promise<void> {
    const ns = namespaceRequired(ctx);
    await this.core.update(async (tx) => {
      if ((await tx.get(leaseKey(ns, id))) === undefined) throw notFound(`lease ${JSON.stringify(id)}`);
      const kind = resourceKind(resource);
      // nothing can be stored under an empty snapshotter or ID: deleting it is a no-op, as in containerd
      if (kind === 'snapshots/' || !resource.id) return;
      tx.del(leasedKey(ns, id, kind, resource.id));
      this.core.markDirty(tx, {});
    });
  }

  /** Resources a lease holds: content, then ingests, then snapshots by snapshotter, each in key order. */
  async listResources(ctx: RequestContext, id: string): Promise<LeaseResource[]> {
    const ns = namespaceRequired(ctx);
    if ((await this.core.store.get(leaseKey(ns, id))) === undefined) throw notFound(`lease ${JSON.stringify(id)}`);
    const prefix = leasedPrefix(ns, id);
    const out: LeaseResource[] = [];
    for await (const key of this.core.store.keys(prefix)) {
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      const head = rest.slice(0, slash);
      if (head === 'snapshots') {
        const tail = rest.slice(slash + 1);
        const s = tail.indexOf('/');
        out.push({ type: `snapshots/${tail.slice(0, s)}`, id: tail.slice(s + 1) });
      } else {
        out.push({ type: head, id: rest.slice(slash + 1) });
      }
    }
    return out;
  }
}

/**
 * Adds a resource to the request's lease inside `tx`. Returns false when the request has
 * no lease; fails with `lease does not exist: not found` when the lease is unknown.
 */
export async function addLeaseResource(
  tx: Txn,
  ctx: RequestContext,
  ns: string,
  kind: LeaseResourceKind,
  id: string,
): Promise<boolean> {
  if (!ctx.lease) return false;
  if ((await tx.get(leaseKey(ns, ctx.lease))) === undefined) throw notFound('lease does not exist');
  tx.put(leasedKey(ns, ctx.lease, kind, id), '');
  return true;
}

/** Removes a resource from the request's lease inside `tx` (nothing when no lease). */
export function removeLeaseResource(tx: Txn, ctx: RequestContext, ns: string, kind: LeaseResourceKind, id: string): void {
  if (ctx.lease) tx.del(leasedKey(ns, ctx.lease, kind, id));
}
