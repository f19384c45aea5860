// The full containerd-ts plugin set, in registration order (containerd's order where it
// matters for `ctr plugins ls`). The daemon gets this explicit list: nothing registers
// itself by being imported.
import contentPlugin from '@containerd-ts/content-local';
import walkingDifferPlugin from '@containerd-ts/differ-walking';
import exchangePlugin from '@containerd-ts/events-exchange';
import gcSchedulerPlugin from '@containerd-ts/gc-scheduler';
import metadataPlugin from '@containerd-ts/metadata-level';
import cgroupsMonitorPlugin from '@containerd-ts/monitor-cgroups';
import optPlugin from '@containerd-ts/opt';
import { type AnyPluginDefinition, pluginURI } from '@containerd-ts/plugin';
import restartPlugin from '@containerd-ts/restart-monitor';
import runtimeV1Plugin from '@containerd-ts/runtime-v1';
import runtimeV2Plugin from '@containerd-ts/runtime-v2';
import { containersGrpcPlugin, containersServicePlugin } from '@containerd-ts/service-containers';
import { contentGrpcPlugin, contentServicePlugin } from '@containerd-ts/service-content';
import { diffGrpcPlugin, diffServicePlugin } from '@containerd-ts/service-diff';
import { eventsGrpcPlugin } from '@containerd-ts/service-events';
import { gcGrpcPlugin } from '@containerd-ts/service-gc';
import { healthcheckPlugin } from '@containerd-ts/service-healthcheck';
import { imagesGrpcPlugin, imagesServicePlugin } from '@containerd-ts/service-images';
import { introspectionGrpcPlugin, introspectionServicePlugin } from '@containerd-ts/service-introspection';
import { leasesGrpcPlugin, leasesServicePlugin } from '@containerd-ts/service-leases';
import { namespacesGrpcPlugin, namespacesServicePlugin } from '@containerd-ts/service-namespaces';
import { snapshotsGrpcPlugin, snapshotsServicePlugin } from '@containerd-ts/service-snapshots';
import { tasksGrpcPlugin, tasksServicePlugin } from '@containerd-ts/service-tasks';
import { versionPlugin } from '@containerd-ts/service-version';
import aufsSnapshotterPlugin from '@containerd-ts/snapshotter-aufs';
import btrfsSnapshotterPlugin from '@containerd-ts/snapshotter-btrfs';
import devmapperSnapshotterPlugin from '@containerd-ts/snapshotter-devmapper';
import nativeSnapshotterPlugin from '@containerd-ts/snapshotter-native';
import overlayfsSnapshotterPlugin from '@containerd-ts/snapshotter-overlayfs';
import zfsSnapshotterPlugin from '@containerd-ts/snapshotter-zfs';

export function allPlugins(): AnyPluginDefinition[] {
  return [
    contentPlugin,
    aufsSnapshotterPlugin,
    btrfsSnapshotterPlugin,
    devmapperSnapshotterPlugin,
    nativeSnapshotterPlugin,
    overlayfsSnapshotterPlugin,
    zfsSnapshotterPlugin,
    metadataPlugin,
    walkingDifferPlugin,
    exchangePlugin,
    gcSchedulerPlugin,
    introspectionServicePlugin,
    containersServicePlugin,
    contentServicePlugin,
    diffServicePlugin,
    imagesServicePlugin,
    leasesServicePlugin,
    namespacesServicePlugin,
    snapshotsServicePlugin,
    runtimeV1Plugin,
    runtimeV2Plugin,
    cgroupsMonitorPlugin,
    tasksServicePlugin,
    introspectionGrpcPlugin,
    restartPlugin,
    containersGrpcPlugin,
    contentGrpcPlugin,
    diffGrpcPlugin,
    eventsGrpcPlugin,
    gcGrpcPlugin,
    healthcheckPlugin,
    imagesGrpcPlugin,
    leasesGrpcPlugin,
    namespacesGrpcPlugin,
    optPlugin,
    snapshotsGrpcPlugin,
    tasksGrpcPlugin,
    versionPlugin,
  ];
}

/** `<type>.<id>` of every plugin in allPlugins(), in the same order (what disabled_plugins takes). */
export function allPluginURIs(): string[] {
  return allPlugins().map(pluginURI);
}
