// A differ served by another process over containerd.services.diff.v1.Diff (containerd
// 2.x's proxy differ): Apply and Diff calls carrying the caller's namespace and lease.
import { DiffService } from '@containerd-ts/api/services/diff';
import type { Descriptor as ApiDescriptor } from '@containerd-ts/api/types/descriptor';
import type { Mount as ApiMount } from '@containerd-ts/api/types/mount';
import type { ApplyOptions, Descriptor, DiffOptions, Differ, Mount } from '@containerd-ts/diff';
import { invalidArgument } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { ProxyConnection } from './connection.js';

export const toApiMount = (m: Mount): ApiMount => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] });
export const fromApiMount = (m: ApiMount): Mount => ({
  type: m.type,
  source: m.source,
  ...(m.target ? { target: m.target } : {}),
  options: [...m.options],
});
export const toApiDescriptor = (d: Descriptor): ApiDescriptor => ({
  mediaType: d.mediaType ?? '',
  digest: d.digest,
  size: d.size,
  annotations: { ...(d.annotations ?? {}) },
});
export const fromApiDescriptor = (d: ApiDescriptor): Descriptor => ({
  mediaType: d.mediaType,
  digest: d.digest,
  size: d.size,
  ...(Object.keys(d.annotations).length > 0 ? { annotations: { ...d.annotations } } : {}),
});

export class RemoteDiff implements Differ {
  constructor(private readonly conn: ProxyConnection) {}

  apply(ctx: RequestContext, desc: Descriptor, mounts: readonly Mount[], options: ApplyOptions = {}): Promise<Descriptor> {
    return this.conn.call(ctx, async (c, call) => {
      const payloads = Object.fromEntries(
        Object.entries(options.payloads ?? {}).map(([id, p]) => [id, { typeUrl: p.typeUrl, value: p.value }]),
      );
      const res = await c.unary(DiffService.apply, { diff: toApiDescriptor(desc), mounts: mounts.map(toApiMount), payloads }, call);
      if (!res.applied) throw invalidArgument('diff proxy answered Apply without a descriptor');
      return fromApiDescriptor(res.applied);
    });
  }

  compare(ctx: RequestContext, lower: readonly Mount[], upper: readonly Mount[], options: DiffOptions = {}): Promise<Descriptor> {
    return this.conn.call(ctx, async (c, call) => {
      const res = await c.unary(
        DiffService.diff,
        {
          left: lower.map(toApiMount),
          right: upper.map(toApiMount),
          mediaType: options.mediaType ?? '',
          ref: options.reference ?? '',
          labels: { ...(options.labels ?? {}) },
        },
        call,
      );
      if (!res.diff) throw invalidArgument('diff proxy answered Diff without a descriptor');
      return fromApiDescriptor(res.diff);
    });
  }
}
