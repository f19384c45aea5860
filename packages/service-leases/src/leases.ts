// The local leases service: containerd's lease manager over the metadata database, with
// `sync` deletes that wait for the garbage collection that follows (through the GC
// scheduler, as containerd's leases service does).
import { invalidArgument } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import type { Lease, LeaseManager, LeaseResource } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';

export type { Lease, LeaseResource } from '@containerd-ts/metadata-level';

/** What runs a collection on request and resolves once it is done (the GC scheduler). */
export interface CollectionRequester {
  scheduleAndWait(signal?: AbortSignal): Promise<unknown>;
}

export interface CreateLeaseOptions {
  /** The lease ID; a random one (containerd's `<nanoseconds>-<base64>` form) when empty. */
  id?: string;
  /** Labels; `containerd.io/gc.expire` (RFC 3339) ends the hold at that time. */
  labels?: Record<string, string>;
}

function checkFilters(filters: readonly string[]): void {
  try {
    parseAll(filters);
  } catch (err) {
    // containerd's lease manager wraps the parse error in one more invalid-argument, so
    // its message ends in `invalid argument: invalid argument`; clients see the same here.
    throw invalidArgument((err as Error).message, err);
  }
}

export class LeasesService {
  constructor(
    private readonly manager: LeaseManager,
    private readonly gc: CollectionRequester,
  ) {}

  create(ctx: RequestContext, options: CreateLeaseOptions = {}): Promise<Lease> {
    return this.manager.create(ctx, { ...(options.id ? { id: options.id } : {}), labels: { ...(options.labels ?? {}) } });
  }

  /**
   * Deletes a lease (`not-found` when absent). With `sync`, resolves only after a
   * collection that started after the delete has finished, so what only this lease
   * held is gone from the metadata and the backends.
   */
  async delete(ctx: RequestContext, id: string, options: { sync?: boolean } = {}): Promise<void> {
    await this.manager.delete(ctx, id);
    if (options.sync) await this.gc.scheduleAndWait(ctx.signal);
  }

  /** Leases of the request's namespace matching any filter (`id`, `labels.<key>`). */
  list(ctx: RequestContext, filters: readonly string[] = []): Promise<Lease[]> {
    checkFilters(filters);
    return this.manager.list(ctx, filters);
  }

  /** Calls `fn` with each lease `list` would return, as it is read. */
  async each(ctx: RequestContext, filters: readonly string[], fn: (lease: Lease) => void): Promise<void> {
    checkFilters(filters);
    await this.manager.each(ctx, filters, fn);
  }

  /** Calls `fn` with the ID and stored record of each lease `list` would return (`LeaseManager.eachStored`). */
  async eachStored(ctx: RequestContext, filters: readonly string[], fn: (id: string, stored: string) => void): Promise<void> {
    checkFilters(filters);
    await this.manager.eachStored(ctx, filters, fn);
  }

  /** Holds a resource: type `content` (ID a digest), `ingests` (a ref) or `snapshots/<snapshotter>` (a key). */
  addResource(ctx: RequestContext, id: string, resource: LeaseResource): Promise<void> {
    return this.manager.addResource(ctx, id, resource);
  }

  deleteResource(ctx: RequestContext, id: string, resource: LeaseResource): Promise<void> {
    return this.manager.deleteResource(ctx, id, resource);
  }

  listResources(ctx: RequestContext, id: string): Promise<LeaseResource[]> {
    return this.manager.listResources(ctx, id);
  }
}
