// The local diff service: tries the configured differs in order (containerd's
// `default = ["walking"]`), moving to the next one only when a differ answers
// "not implemented" for the request.
import type { ApplyOptions, Descriptor, DiffOptions, Differ, Mount } from '@containerd-ts/diff';
import { isNotImplemented, notImplemented } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';

export class DiffService implements Differ {
  constructor(private readonly differs: ReadonlyArray<{ id: string; differ: Differ }>) {}

  private async first<T>(op: (d: Differ) => Promise<T>): Promise<T> {
    for (const { differ } of this.differs) {
      try {
        return await op(differ);
      } catch (err) {
        if (!isNotImplemented(err)) throw err;
      }
    }
    throw notImplemented();
  }

  apply(ctx: RequestContext, desc: Descriptor, mounts: readonly Mount[], options?: ApplyOptions): Promise<Descriptor> {
    return this.first((d) => d.apply(ctx, desc, mounts, options));
  }

  compare(ctx: RequestContext, lower: readonly Mount[], upper: readonly Mount[], options?: DiffOptions): Promise<Descriptor> {
    return this.first((d) => d.compare(ctx, lower, upper, options));
  }
}
