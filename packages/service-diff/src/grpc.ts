// The containerd.services.diff.v1.Diff gRPC service over anything that applies and
// compares: the local diff service here, one differ in `containerd-ts serve-proxy`.
import { DiffService as DiffDefinition } from '@containerd-ts/api/services/diff';
import type { Descriptor as ApiDescriptor } from '@containerd-ts/api/types/descriptor';
import type { Mount as ApiMount } from '@containerd-ts/api/types/mount';
import type { Descriptor, Differ, Mount } from '@containerd-ts/diff';
import { invalidArgument } from '@containerd-ts/errdefs';
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';

const toMount = (m: ApiMount): Mount => ({ type: m.type, source: m.source, ...(m.target ? { target: m.target } : {}), options: [...m.options] });
const fromDescriptor = (d: ApiDescriptor): Descriptor => ({
  mediaType: d.mediaType,
  digest: d.digest,
  size: d.size,
  ...(Object.keys(d.annotations).length > 0 ? { annotations: d.annotations } : {}),
});
const toDescriptor = (d: Descriptor): ApiDescriptor => ({
  mediaType: d.mediaType ?? '',
  digest: d.digest,
  size: d.size,
  annotations: d.annotations ?? {},
});

export function diffGrpcService(differ: Pick<Differ, 'apply' | 'compare'>): GrpcServiceRegistration {
  return grpcService(DiffDefinition, {
    apply: unary(async (req: { diff: ApiDescriptor | undefined; mounts: ApiMount[]; payloads: Record<string, { typeUrl: string; value: Uint8Array } | undefined> }, rctx) => {
      if (!req.diff) throw invalidArgument('diff descriptor is required');
      const payloads = Object.fromEntries(Object.entries(req.payloads).flatMap(([k, v]) => (v ? [[k, { typeUrl: v.typeUrl, value: v.value }]] : [])));
      const applied = await differ.apply(rctx, fromDescriptor(req.diff), req.mounts.map(toMount), { payloads });
      return { applied: toDescriptor(applied) };
    }),
    diff: unary(async (req: { left: ApiMount[]; right: ApiMount[]; mediaType: string; ref: string; labels: Record<string, string> }, rctx) => {
      const desc = await differ.compare(rctx, req.left.map(toMount), req.right.map(toMount), {
        ...(req.mediaType ? { mediaType: req.mediaType } : {}),
        ...(req.ref ? { reference: req.ref } : {}),
        labels: req.labels,
      });
      return { diff: toDescriptor(desc) };
    }),
  });
}
