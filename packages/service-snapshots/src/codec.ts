// The snapshots service definition with a direct encoder for List: each Info is written into
// the page's bytes as the walk yields it (see `@containerd-ts/api/wire`), with the bytes the
// generated encoder would produce, instead of an API object per snapshot that the generated
// encoder then writes as nested chunks.
import { type Info as ApiInfo, Kind as ApiKind, type ListSnapshotsResponse, SnapshotsService } from '@containerd-ts/api/services/snapshots';
import type { Timestamp } from '@containerd-ts/api/types/timestamp';
import { RepeatedWriter, type WireWriter, encodeRepeated } from '@containerd-ts/api/wire';
import { type Info, Kind } from '@containerd-ts/snapshots';

// containerd maps every kind other than active and view to committed.
export const toApiKind = (kind: Info['kind']): ApiKind =>
  kind === Kind.Active ? ApiKind.ACTIVE : kind === Kind.View ? ApiKind.VIEW : ApiKind.COMMITTED;

/** containerd.services.snapshots.v1.Info (name 1, parent 2, kind 3, created_at 4, updated_at 5, labels 6). */
function writeInfo(
  w: WireWriter,
  name: string,
  parent: string,
  kind: ApiKind,
  created: Timestamp | undefined,
  updated: Timestamp | undefined,
  labels: Record<string, string>,
): void {
  if (name !== '') w.string(1, name);
  if (parent !== '') w.string(2, parent);
  if (kind !== 0) w.int64(3, kind);
  w.timestamp(4, created);
  w.timestamp(5, updated);
  w.stringMap(6, labels);
}

const writeApiInfo = (w: WireWriter, i: ApiInfo) => writeInfo(w, i.name, i.parent, i.kind, i.createdAt, i.updatedAt, i.labels);

/** A snapshotter's Info, its kind as containerd's API has it. */
const writeSnapshotterInfo = (w: WireWriter, i: Info) => writeInfo(w, i.name, i.parent, toApiKind(i.kind), i.created, i.updated, i.labels);

/** ListSnapshotsResponse pages (`repeated Info info = 1`) written Info by Info. */
export const listSnapshotsWriter = () => new RepeatedWriter<Info, ListSnapshotsResponse>(1, writeSnapshotterInfo, 16 * 1024);

/** containerd.services.snapshots.v1.Snapshots as the daemon serves it. */
export const snapshotsServiceDefinition = {
  ...SnapshotsService,
  list: encodeRepeated(SnapshotsService.list, 1, (m: ListSnapshotsResponse) => m.info, writeApiInfo),
} as const;
