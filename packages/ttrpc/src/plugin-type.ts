// The io.containerd.ttrpc.v1 plugin type: how a plugin offers ttrpc services on the
// daemon's ttrpc socket (`[ttrpc] address`, where shims forward their events).
import { NAMESPACE_HEADER_TTRPC, type RequestContext } from '@containerd-ts/namespaces';
import type {} from '@containerd-ts/plugin';
import type { TtrpcCallContext } from './server.js';
import type { TtrpcServiceRegistration } from './service.js';

/**
 * What offers ttrpc services: the instance of an `io.containerd.ttrpc.v1` plugin, or any
 * other plugin's instance that also has `ttrpcServices` (as containerd's TTRPCService
 * interface: its `events` gRPC plugin serves the ttrpc events service this way).
 */
export interface TtrpcServicePlugin {
  ttrpcServices: TtrpcServiceRegistration[];
}

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.ttrpc.v1': TtrpcServicePlugin;
  }
}

/** True for a plugin instance that offers ttrpc services. */
export function hasTtrpcServices(instance: unknown): instance is TtrpcServicePlugin {
  return (
    typeof instance === 'object' &&
    instance !== null &&
    Array.isArray((instance as Partial<TtrpcServicePlugin>).ttrpcServices)
  );
}

/** The request context a containerd ttrpc client sends: the namespace in `containerd-namespace-ttrpc`. */
export function ttrpcRequestContext(ctx: TtrpcCallContext): RequestContext & { signal: AbortSignal } {
  const namespace = ctx.metadata[NAMESPACE_HEADER_TTRPC]?.[0];
  return { ...(namespace ? { namespace } : {}), signal: ctx.signal };
}
