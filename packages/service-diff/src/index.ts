// Registration: io.containerd.service.v1 diff-service (config `default`: differ IDs in
// order) and io.containerd.grpc.v1 diff, as containerd registers them.
import { DiffService as DiffDefinition } from '@containerd-ts/api/services/diff';
import type { Descriptor as ApiDescriptor } from '@containerd-ts/api/types/descriptor';
import type { Mount as ApiMount } from '@containerd-ts/api/types/mount';
import type { Descriptor, Mount } from '@containerd-ts/diff';
import { ContainerdError, invalidArgument, isContainerdError, notFound } from '@containerd-ts/errdefs';
import { grpcService, unary } from '@containerd-ts/grpc-server';
import { definePlugin } from '@containerd-ts/plugin';
import { z } from 'zod';
import { DiffService } from './diff-service.js';

export { DiffService } from './diff-service.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.diff-service': DiffService;
  }
}

export const diffServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'diff-service',
  requires: ['io.containerd.differ.v1'],
  config: z
    .object({ default: z.array(z.string()).default(['walking']).describe('Differ IDs tried in order') })
    .strict(),
  init(ctx) {
    // containerd 1.6's three answers: no differ registered at all (NotFound), a configured
    // differ that is not registered (disabled, or unknown), one whose init failed.
    const records = ctx.plugins().filter((r) => r.type === 'io.containerd.differ.v1');
    if (records.length === 0) throw notFound('no plugins registered for io.containerd.differ.v1');
    const all = ctx.getAll('io.containerd.differ.v1');
    const differs = ctx.config.default.map((id) => {
      const record = records.find((r) => r.id === id);
      if (!record) throw new Error(`needed differ not loaded: ${id}`);
      const differ = all.get(id);
      if (!differ) throw initError(`could not load required differ due plugin init error: ${id}`, record.error);
      return { id, differ };
    });
    return new DiffService(differs);
  },
});

/** `context: <cause>`, keeping the cause's containerd class (and so its gRPC code), as Go's %w does. */
function initError(context: string, cause: Error | undefined): Error {
  const message = `${context}: ${cause?.message ?? 'not loaded'}`;
  if (!isContainerdError(cause)) return new Error(message, { cause });
  const wrapped = new ContainerdError(cause.kind, undefined, { cause });
  wrapped.message = message;
  return wrapped;
}

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

export const diffGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'diff',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'diff-service')) throw new Error('diff service not found');
    const local = ctx.getByID('io.containerd.service.v1', 'diff-service');
    return {
      services: [
        grpcService(DiffDefinition, {
          apply: unary(async (req: { diff: ApiDescriptor | undefined; mounts: ApiMount[]; payloads: Record<string, { typeUrl: string; value: Uint8Array } | undefined> }, rctx) => {
            if (!req.diff) throw invalidArgument('diff descriptor is required');
            const payloads = Object.fromEntries(
              Object.entries(req.payloads).flatMap(([k, v]) => (v ? [[k, { typeUrl: v.typeUrl, value: v.value }]] : [])),
            );
            const applied = await local.apply(rctx, fromDescriptor(req.diff), req.mounts.map(toMount), { payloads });
            return { applied: toDescriptor(applied) };
          }),
          diff: unary(async (req: { left: ApiMount[]; right: ApiMount[]; mediaType: string; ref: string; labels: Record<string, string> }, rctx) => {
            const desc = await local.compare(rctx, req.left.map(toMount), req.right.map(toMount), {
              ...(req.mediaType ? { mediaType: req.mediaType } : {}),
              ...(req.ref ? { reference: req.ref } : {}),
              labels: req.labels,
            });
            return { diff: toDescriptor(desc) };
          }),
        }),
      ],
    };
  },
});
