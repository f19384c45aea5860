// The other direction: serving one local plugin as a proxy plugin for containerd (or
// containerd-ts) — its snapshots, content or diff gRPC service on a socket. As containerd's
// contrib snapshot service, the snapshotter name in requests is ignored and the plugin
// gets the keys as they come (no namespacing here: the daemon that uses the proxy keeps
// its own records).
import type { ContentStore } from '@containerd-ts/content';
import type { Differ } from '@containerd-ts/diff';
import { type GrpcServiceRegistration, grpcService } from '@containerd-ts/grpc-server';
import { type AnyPluginDefinition, definePlugin, type Logger } from '@containerd-ts/plugin';
import { diffGrpcService } from '@containerd-ts/service-diff';
import { contentServer, contentServiceDefinition, ReaderCache } from '@containerd-ts/service-content';
import { type SnapshotterMap, snapshotsGrpcService } from '@containerd-ts/service-snapshots';
import type { Snapshotter } from '@containerd-ts/snapshots';
import { proxyPluginTypes } from './plugins.js';

/** A snapshotter map that answers every name with `snapshotter` (listed under `id`). */
export class EveryName extends Map<string, Snapshotter> implements SnapshotterMap {
  constructor(
    id: string,
    private readonly snapshotter: Snapshotter,
  ) {
    super([[id, snapshotter]]);
  }

  override get(): Snapshotter {
    return this.snapshotter;
  }

  override has(): boolean {
    return true;
  }
}

/** containerd.services.snapshots.v1.Snapshots over one snapshotter, whatever name a request gives. */
export function snapshotsProxyService(snapshotter: Snapshotter, id = 'proxy'): GrpcServiceRegistration {
  return snapshotsGrpcService(new EveryName(id, snapshotter), { anyName: true });
}

/** containerd.services.content.v1.Content over a content store (Read readers cached in `readers`). */
export function contentProxyService(store: ContentStore, options: { log?: Logger; readers?: ReaderCache } = {}): GrpcServiceRegistration {
  return grpcService(contentServiceDefinition, contentServer(store, options));
}

/** containerd.services.diff.v1.Diff over one differ. */
export function diffProxyService(differ: Differ): GrpcServiceRegistration {
  return diffGrpcService(differ);
}

export type ProxyKind = keyof typeof proxyPluginTypes;

/**
 * An `io.containerd.grpc.v1` plugin (ID `proxy-<kind>`) that serves the plugin `id` of the
 * kind's type: what `containerd-ts serve-proxy` adds to the plugins it initialises.
 */
export function proxyServerPlugin(kind: ProxyKind, id: string): AnyPluginDefinition {
  return definePlugin({
    type: 'io.containerd.grpc.v1',
    id: `proxy-${kind}`,
    requires: [proxyPluginTypes[kind]],
    init(ctx) {
      switch (kind) {
        case 'snapshot':
          return { services: [snapshotsProxyService(ctx.getByID(proxyPluginTypes.snapshot, id), id)] };
        case 'content': {
          const store = ctx.getByID(proxyPluginTypes.content, id);
          const readers = new ReaderCache(store);
          ctx.onClose(() => readers.close());
          return { services: [contentProxyService(store, { log: ctx.log, readers })] };
        }
        case 'diff':
          return { services: [diffProxyService(ctx.getByID(proxyPluginTypes.diff, id))] };
      }
    },
  });
}
