// The plugins of the minimal runtime: what `ctr` needs to pull, unpack and mount images, and
// nothing else (no tasks, containers, other snapshotters, events or gc APIs).
import contentPlugin from '@containerd-ts/content-local';
import walkingDifferPlugin from '@containerd-ts/differ-walking';
import exchangePlugin from '@containerd-ts/events-exchange';
import gcSchedulerPlugin from '@containerd-ts/gc-scheduler';
import metadataPlugin from '@containerd-ts/metadata-level';
import type { AnyPluginDefinition } from '@containerd-ts/plugin';
import { contentGrpcPlugin, contentServicePlugin } from '@containerd-ts/service-content';
import { diffGrpcPlugin, diffServicePlugin } from '@containerd-ts/service-diff';
import { imagesGrpcPlugin, imagesServicePlugin } from '@containerd-ts/service-images';
import { introspectionGrpcPlugin, introspectionServicePlugin } from '@containerd-ts/service-introspection';
import { leasesGrpcPlugin, leasesServicePlugin } from '@containerd-ts/service-leases';
import { namespacesGrpcPlugin, namespacesServicePlugin } from '@containerd-ts/service-namespaces';
import { snapshotsGrpcPlugin, snapshotsServicePlugin } from '@containerd-ts/service-snapshots';
import { versionPlugin } from '@containerd-ts/service-version';
import nativeSnapshotterPlugin from '@containerd-ts/snapshotter-native';

/** In registration order; the daemon orders init by `requires`, `ctr plugins ls` shows this order. */
export function minimalPlugins(): AnyPluginDefinition[] {
  return [
    // Storage: blobs, the metadata database (namespaces, images, leases, snapshot records)
    // and one snapshotter that works on any file system.
    contentPlugin,
    nativeSnapshotterPlugin,
    metadataPlugin,
    // Applies layer tars onto snapshots (the unpack half of a pull).
    walkingDifferPlugin,
    // The metadata store and the services publish events; nobody subscribes here, but
    // the services require the exchange.
    exchangePlugin,
    // Garbage collection: the images and leases services take the scheduler (as in
    // containerd) for `images rm --sync` and lease deletion, and without it unreferenced
    // blobs and snapshots would never be removed.
    gcSchedulerPlugin,
    // Local services (io.containerd.service.v1) and the gRPC APIs ctr calls.
    introspectionServicePlugin,
    contentServicePlugin,
    diffServicePlugin,
    imagesServicePlugin,
    leasesServicePlugin,
    namespacesServicePlugin,
    snapshotsServicePlugin,
    introspectionGrpcPlugin,
    contentGrpcPlugin,
    diffGrpcPlugin,
    imagesGrpcPlugin,
    leasesGrpcPlugin,
    namespacesGrpcPlugin,
    snapshotsGrpcPlugin,
    versionPlugin,
  ];
}
