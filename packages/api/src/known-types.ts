// The default type registry: every message of the generated API (as containerd can
// unpack every message compiled into it), the event messages with their topics, and the
// JSON runtime-spec URLs. Registration is explicit here, not a side effect of imports.
import * as cgroupsV1 from './gen/github.com/containerd/cgroups/stats/v1/metrics.js';
import * as cgroupsV2 from './gen/github.com/containerd/cgroups/v2/stats/metrics.js';
import * as containerEvents from './gen/github.com/containerd/containerd/api/events/container.js';
import * as contentEvents from './gen/github.com/containerd/containerd/api/events/content.js';
import * as imageEvents from './gen/github.com/containerd/containerd/api/events/image.js';
import * as namespaceEvents from './gen/github.com/containerd/containerd/api/events/namespace.js';
import * as snapshotEvents from './gen/github.com/containerd/containerd/api/events/snapshot.js';
import * as taskEvents from './gen/github.com/containerd/containerd/api/events/task.js';
import * as containers from './gen/github.com/containerd/containerd/api/services/containers/v1/containers.js';
import * as content from './gen/github.com/containerd/containerd/api/services/content/v1/content.js';
import * as diff from './gen/github.com/containerd/containerd/api/services/diff/v1/diff.js';
import * as events from './gen/github.com/containerd/containerd/api/services/events/v1/events.js';
import * as images from './gen/github.com/containerd/containerd/api/services/images/v1/images.js';
import * as introspection from './gen/github.com/containerd/containerd/api/services/introspection/v1/introspection.js';
import * as leases from './gen/github.com/containerd/containerd/api/services/leases/v1/leases.js';
import * as namespaces from './gen/github.com/containerd/containerd/api/services/namespaces/v1/namespace.js';
import * as snapshots from './gen/github.com/containerd/containerd/api/services/snapshots/v1/snapshots.js';
import * as tasks from './gen/github.com/containerd/containerd/api/services/tasks/v1/tasks.js';
import * as ttrpcEvents from './gen/github.com/containerd/containerd/api/services/ttrpc/events/v1/events.js';
import * as version from './gen/github.com/containerd/containerd/api/services/version/v1/version.js';
import * as descriptor from './gen/github.com/containerd/containerd/api/types/descriptor.js';
import * as metrics from './gen/github.com/containerd/containerd/api/types/metrics.js';
import * as mount from './gen/github.com/containerd/containerd/api/types/mount.js';
import * as platform from './gen/github.com/containerd/containerd/api/types/platform.js';
import * as taskTypes from './gen/github.com/containerd/containerd/api/types/task/task.js';
import * as runctypes from './gen/github.com/containerd/containerd/runtime/linux/runctypes/runc.js';
import * as shimV1 from './gen/github.com/containerd/containerd/runtime/v1/shim/v1/shim.js';
import * as runcOptions from './gen/github.com/containerd/containerd/runtime/v2/runc/options/oci.js';
import * as shim from './gen/github.com/containerd/containerd/runtime/v2/task/shim.js';
import * as anyProto from './gen/google/protobuf/any.js';
import * as empty from './gen/google/protobuf/empty.js';
import * as fieldMask from './gen/google/protobuf/field_mask.js';
import * as timestamp from './gen/google/protobuf/timestamp.js';
import * as rpcStatus from './gen/google/rpc/status.js';
import * as health from './gen/grpc/health/v1/health.js';
import { type MessageCodec, RUNTIME_SPEC_TYPE_URLS, TypeRegistry } from './typeurl.js';

/** Every generated module, keyed by its .proto path. */
export const generatedModules: Readonly<Record<string, Readonly<Record<string, unknown>>>> = {
  'github.com/containerd/cgroups/stats/v1/metrics.proto': cgroupsV1,
  'github.com/containerd/cgroups/v2/stats/metrics.proto': cgroupsV2,
  'github.com/containerd/containerd/api/events/container.proto': containerEvents,
  'github.com/containerd/containerd/api/events/content.proto': contentEvents,
  'github.com/containerd/containerd/api/events/image.proto': imageEvents,
  'github.com/containerd/containerd/api/events/namespace.proto': namespaceEvents,
  'github.com/containerd/containerd/api/events/snapshot.proto': snapshotEvents,
  'github.com/containerd/containerd/api/events/task.proto': taskEvents,
  'github.com/containerd/containerd/api/services/containers/v1/containers.proto': containers,
  'github.com/containerd/containerd/api/services/content/v1/content.proto': content,
  'github.com/containerd/containerd/api/services/diff/v1/diff.proto': diff,
  'github.com/containerd/containerd/api/services/events/v1/events.proto': events,
  'github.com/containerd/containerd/api/services/images/v1/images.proto': images,
  'github.com/containerd/containerd/api/services/introspection/v1/introspection.proto': introspection,
  'github.com/containerd/containerd/api/services/leases/v1/leases.proto': leases,
  'github.com/containerd/containerd/api/services/namespaces/v1/namespace.proto': namespaces,
  'github.com/containerd/containerd/api/services/snapshots/v1/snapshots.proto': snapshots,
  'github.com/containerd/containerd/api/services/tasks/v1/tasks.proto': tasks,
  'github.com/containerd/containerd/api/services/ttrpc/events/v1/events.proto': ttrpcEvents,
  'github.com/containerd/containerd/api/services/version/v1/version.proto': version,
  'github.com/containerd/containerd/api/types/descriptor.proto': descriptor,
  'github.com/containerd/containerd/api/types/metrics.proto': metrics,
  'github.com/containerd/containerd/api/types/mount.proto': mount,
  'github.com/containerd/containerd/api/types/platform.proto': platform,
  'github.com/containerd/containerd/api/types/task/task.proto': taskTypes,
  'github.com/containerd/containerd/runtime/linux/runctypes/runc.proto': runctypes,
  'github.com/containerd/containerd/runtime/v1/shim/v1/shim.proto': shimV1,
  'github.com/containerd/containerd/runtime/v2/runc/options/oci.proto': runcOptions,
  'github.com/containerd/containerd/runtime/v2/task/shim.proto': shim,
  'google/protobuf/any.proto': anyProto,
  'google/protobuf/empty.proto': empty,
  'google/protobuf/field_mask.proto': fieldMask,
  'google/protobuf/timestamp.proto': timestamp,
  'google/rpc/status.proto': rpcStatus,
  'grpc/health/v1/health.proto': health,
};

function isCodec(value: unknown): value is MessageCodec<unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Partial<Record<'$type' | 'encode' | 'decode' | 'fromPartial', unknown>>;
  return typeof v.$type === 'string' && typeof v.encode === 'function' && typeof v.decode === 'function' && typeof v.fromPartial === 'function';
}

/** Every generated message codec, by protobuf full name (map entry types excluded). */
export const messageCodecs: ReadonlyMap<string, MessageCodec<unknown>> = (() => {
  const codecs = new Map<string, MessageCodec<unknown>>();
  for (const mod of Object.values(generatedModules)) {
    for (const [exportName, value] of Object.entries(mod)) {
      if (!isCodec(value)) continue;
      // ts-proto names map entries Parent_FieldEntry; they are not messages anyone packs.
      if (exportName.includes('_') && exportName.endsWith('Entry') && value.$type.endsWith('Entry')) continue;
      codecs.set(value.$type, value);
    }
  }
  return codecs;
})();

/** The topic containerd publishes each event message on. */
export const EVENT_TOPICS = {
  'containerd.events.ContainerCreate': '/containers/create',
  'containerd.events.ContainerUpdate': '/containers/update',
  'containerd.events.ContainerDelete': '/containers/delete',
  'containerd.events.ContentDelete': '/content/delete',
  'containerd.services.images.v1.ImageCreate': '/images/create',
  'containerd.services.images.v1.ImageUpdate': '/images/update',
  'containerd.services.images.v1.ImageDelete': '/images/delete',
  'containerd.events.NamespaceCreate': '/namespaces/create',
  'containerd.events.NamespaceUpdate': '/namespaces/update',
  'containerd.events.NamespaceDelete': '/namespaces/delete',
  'containerd.events.SnapshotPrepare': '/snapshot/prepare',
  'containerd.events.SnapshotCommit': '/snapshot/commit',
  'containerd.events.SnapshotRemove': '/snapshot/remove',
  'containerd.events.TaskCreate': '/tasks/create',
  'containerd.events.TaskStart': '/tasks/start',
  'containerd.events.TaskDelete': '/tasks/delete',
  'containerd.events.TaskExit': '/tasks/exit',
  'containerd.events.TaskOOM': '/tasks/oom',
  'containerd.events.TaskExecAdded': '/tasks/exec-added',
  'containerd.events.TaskExecStarted': '/tasks/exec-started',
  'containerd.events.TaskPaused': '/tasks/paused',
  'containerd.events.TaskResumed': '/tasks/resumed',
  'containerd.events.TaskCheckpointed': '/tasks/checkpointed',
} as const;

export type EventTypeName = keyof typeof EVENT_TOPICS;

/** The event message codecs, by protobuf full name (which is also their type URL). */
export const eventCodecs: ReadonlyMap<EventTypeName, MessageCodec<unknown>> = new Map(
  (Object.keys(EVENT_TOPICS) as EventTypeName[]).map((name) => {
    const codec = messageCodecs.get(name);
    if (!codec) throw new Error(`event message ${name} is missing from the generated code`);
    return [name, codec] as const;
  }),
);

/** A registry with every API message under its containerd type URL and the runtime-spec JSON URLs. */
export function createDefaultRegistry(): TypeRegistry {
  const registry = new TypeRegistry();
  for (const codec of messageCodecs.values()) registry.registerType(undefined, codec);
  for (const url of Object.values(RUNTIME_SPEC_TYPE_URLS)) registry.registerJsonType(url);
  return registry;
}
