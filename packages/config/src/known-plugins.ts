// Plugins containerd 1.6 ships that this daemon may not provide. A config section for
// one of them is accepted with a warning (so existing config.toml files load as is);
// a section for a plugin nobody knows is an error.
export const containerdPluginURIs: readonly string[] = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.internal.v1.opt',
  'io.containerd.internal.v1.restart',
  'io.containerd.internal.v1.tracing',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.runtime.v1.linux',
  'io.containerd.runtime.v2.task',
  'io.containerd.runtime.v2.shim',
  'io.containerd.monitor.v1.cgroups',
  'io.containerd.service.v1.diff-service',
  'io.containerd.service.v1.tasks-service',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.native',
  'io.containerd.snapshotter.v1.overlayfs',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.metadata.v1.bolt',
  'io.containerd.gc.v1.scheduler',
  'io.containerd.content.v1.content',
  'io.containerd.differ.v1.walking',
  'io.containerd.event.v1.exchange',
  'io.containerd.nri.v1.nri',
];
