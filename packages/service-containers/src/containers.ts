// The local containers service: containerd's container records over the metadata
// database, which publishes /containers/create|update|delete as containerd's service does.
import { ContainerdError } from '@containerd-ts/errdefs';
import type { Container, ContainerInput, ContainerStore } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';

export type { AnyValue, Container, ContainerInput } from '@containerd-ts/metadata-level';

/** containerd answers an update without an ID with a bare gRPC status (no errdefs suffix). */
function idRequired(): ContainerdError {
  const err = new ContainerdError('invalid-argument');
  err.message = 'Container.ID required';
  return err;
}

export class ContainersService {
  constructor(private readonly store: ContainerStore) {}

  get(ctx: RequestContext, id: string): Promise<Container> {
    return this.store.get(ctx, id);
  }

  /** Containers matching any filter (`id`, `image`, `runtime.name`, `labels.<key>`). */
  list(ctx: RequestContext, filters: readonly string[] = []): Promise<Container[]> {
    return this.store.list(ctx, filters);
  }

  create(ctx: RequestContext, container: ContainerInput): Promise<Container> {
    return this.store.create(ctx, container);
  }

  /**
   * Updates the fields named by `fieldpaths` (`labels[.<key>]`, `extensions[.<key>]`,
   * `spec`, `image`, `snapshotkey`); with none, all of them, refusing a change of the
   * immutable snapshotter or runtime name.
   */
  async update(ctx: RequestContext, container: ContainerInput, fieldpaths: readonly string[] = []): Promise<Container> {
    if (!container.id) throw idRequired();
    return this.store.update(ctx, container, fieldpaths);
  }

  delete(ctx: RequestContext, id: string): Promise<void> {
    return this.store.delete(ctx, id);
  }
}
