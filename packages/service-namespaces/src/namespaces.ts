// The local namespaces service: containerd's Namespaces API over the metadata database.
// The metadata layer publishes /namespaces/create, /update and /delete as it commits,
// with the payloads and namespaces containerd's service publishes.
import { invalidArgument } from '@containerd-ts/errdefs';
import type { Namespace, NamespaceStore } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';

export type { Namespace } from '@containerd-ts/metadata-level';

export class NamespacesService {
  constructor(private readonly store: NamespaceStore) {}

  /** A namespace's labels; an unknown namespace reads as one without labels, as in containerd. */
  get(name: string): Promise<Namespace> {
    return this.store.get(name);
  }

  /** Every namespace, in name order. */
  list(): Promise<Namespace[]> {
    return this.store.list();
  }

  /** Creates a namespace with labels; `already-exists` when it exists. */
  create(ctx: RequestContext, namespace: Namespace): Promise<Namespace> {
    return this.store.create(ctx, namespace.name, namespace.labels);
  }

  /**
   * Sets labels. With field paths, only the `labels.<key>` they name change (an empty or
   * missing value removes the label); without, the labels are replaced. Any other path
   * is `invalid-argument`.
   */
  update(ctx: RequestContext, namespace: Namespace, fieldpaths: readonly string[] = []): Promise<Namespace> {
    for (const path of fieldpaths) {
      if (!path.startsWith('labels.')) throw invalidArgument(`cannot update ${JSON.stringify(path)} field`);
    }
    return this.store.update(ctx, namespace, fieldpaths);
  }

  /**
   * Deletes a namespace. Refused with `failed-precondition` while it still holds images,
   * content, containers, leases or snapshots; `not-found` when it does not exist.
   */
  delete(ctx: RequestContext, name: string): Promise<void> {
    return this.store.delete(ctx, name);
  }
}
