// The events the metadata layer publishes (containerd's topics and messages) and the
// publisher it sends them to. The exchange implements EventPublisher in the daemon.
import type { RequestContext } from '@containerd-ts/namespaces';

/** An event message: its protobuf full name and its fields (proto field names). */
export interface MetadataEvent {
  readonly type: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface EventPublisher {
  publish(ctx: RequestContext, topic: string, event: MetadataEvent): Promise<void>;
}

export function namespaceEvent(
  kind: 'NamespaceCreate' | 'NamespaceUpdate' | 'NamespaceDelete',
  name: string,
  labels?: Record<string, string>,
): MetadataEvent {
  return { type: `containerd.events.${kind}`, fields: kind === 'NamespaceDelete' ? { name } : { name, labels: { ...labels } } };
}

export function contentDeleteEvent(digest: string): MetadataEvent {
  return { type: 'containerd.events.ContentDelete', fields: { digest } };
}

export function imageEvent(
  kind: 'ImageCreate' | 'ImageUpdate' | 'ImageDelete',
  name: string,
  labels?: Record<string, string>,
): MetadataEvent {
  return {
    type: `containerd.services.images.v1.${kind}`,
    fields: kind === 'ImageDelete' ? { name } : { name, labels: { ...labels } },
  };
}

export function containerCreateEvent(id: string, image: string, runtime: { name: string; options?: unknown }): MetadataEvent {
  return { type: 'containerd.events.ContainerCreate', fields: { id, image, runtime: { ...runtime } } };
}

export function containerUpdateEvent(id: string, image: string, labels: Record<string, string>, snapshotKey: string): MetadataEvent {
  return { type: 'containerd.events.ContainerUpdate', fields: { id, image, labels: { ...labels }, snapshot_key: snapshotKey } };
}

export function containerDeleteEvent(id: string): MetadataEvent {
  return { type: 'containerd.events.ContainerDelete', fields: { id } };
}
