// The local images service: containerd's image store over the metadata database (which
// publishes /images/create|update|delete), with `sync` deletes that wait for the
// garbage collection that follows, through the GC scheduler as containerd's does.
import { ContainerdError } from '@containerd-ts/errdefs';
import type { Image, ImageInput, ImageStore } from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';

export type { Image, ImageInput } from '@containerd-ts/metadata-level';

/** What runs a collection on request and resolves once it is done (the GC scheduler). */
export interface CollectionRequester {
  scheduleAndWait(signal?: AbortSignal): Promise<unknown>;
}

/** containerd answers a nameless image with a bare gRPC status (no errdefs suffix). */
function nameRequired(): ContainerdError {
  const err = new ContainerdError('invalid-argument');
  err.message = 'Image.Name required';
  return err;
}

export class ImagesService {
  constructor(
    private readonly store: ImageStore,
    private readonly gc: CollectionRequester,
  ) {}

  get(ctx: RequestContext, name: string): Promise<Image> {
    return this.store.get(ctx, name);
  }

  /** Images matching any filter (`name`, `target.digest`, `target.mediatype`, `labels.<key>`, `annotations.<key>`). */
  list(ctx: RequestContext, filters: readonly string[] = []): Promise<Image[]> {
    return this.store.list(ctx, filters);
  }

  /** Calls `fn` with each image `list` would return, as it is read. */
  each(ctx: RequestContext, filters: readonly string[], fn: (image: Image) => void): Promise<void> {
    return this.store.each(ctx, filters, fn);
  }

  /** Calls `fn` with the name and stored record of each image `list` would return (`ImageStore.eachStored`). */
  eachStored(ctx: RequestContext, filters: readonly string[], fn: (name: string, stored: string) => void): Promise<void> {
    return this.store.eachStored(ctx, filters, fn);
  }

  async create(ctx: RequestContext, image: ImageInput): Promise<Image> {
    if (!image.name) throw nameRequired();
    return this.store.create(ctx, image);
  }

  /** Updates the fields named by `fieldpaths` (`labels[.<key>]`, `target`, `annotations[.<key>]`); all of them when empty. */
  async update(ctx: RequestContext, image: ImageInput, fieldpaths: readonly string[] = []): Promise<Image> {
    if (!image.name) throw nameRequired();
    return this.store.update(ctx, image, fieldpaths);
  }

  /**
   * Deletes an image (`not-found` when absent). With `sync`, resolves only after a
   * collection that started after the delete has finished, so what only this image held
   * (content, snapshots) is gone.
   */
  async delete(ctx: RequestContext & { signal?: AbortSignal }, name: string, options: { sync?: boolean } = {}): Promise<void> {
    await this.store.delete(ctx, name);
    if (options.sync) await this.gc.scheduleAndWait(ctx.signal);
  }
}
