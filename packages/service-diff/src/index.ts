// Registration: io.containerd.service.v1 diff-service (config `default`: differ IDs in
// order) and io.containerd.grpc.v1 diff, as containerd registers them.
import { ContainerdError, isContainerdError, notFound } from '@containerd-ts/errdefs';
import { definePlugin } from '@containerd-ts/plugin';
import { z } from 'zod';
import { DiffService } from './diff-service.js';
import { diffGrpcService } from './grpc.js';

export { DiffService } from './diff-service.js';
export { diffGrpcService } from './grpc.js';

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

export const diffGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'diff',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'diff-service')) throw new Error('diff service not found');
    const local = ctx.getByID('io.containerd.service.v1', 'diff-service');
    return { services: [diffGrpcService(local)] };
  },
});
