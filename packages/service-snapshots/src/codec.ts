// The snapshots service definition with a direct encoder for List: each Info is written into
// the page's bytes as the walk yields it (see `@containerd-ts/api/wire`), with the bytes the
// generated encoder would produce, instead of an API object per snapshot that the generated
// encoder then writes as nested chunks.
import { type Info as ApiInfo, Kind as ApiKind, type ListSnapshotsResponse, SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { EncodedMessage, WireWriter, acceptEncoded } from '@containerd-ts/api/wire';
import { type Info, Kind } from '@containerd-ts/snapshots';

// containerd maps every kind other than active and view to committed.
export const toApiKind = (kind: Info['kind']): ApiKind =>
  kind === Kind.Active ? ApiKind.ACTIVE : kind === Kind.View ? ApiKind.VIEW : ApiKind.COMMITTED;

/** containerd.services.snapshots.v1.Info (name 1, parent 2, kind 3, created_at 4, updated_at 5, labels 6). */
function writeInfo(w: WireWriter, info: ApiInfo): void {
  if (info.name !== '') w.string(1, info.name);
  if (info.parent !== '') w.string(2, info.parent);
  if (info.kind !== 0) w.int64(3, info.kind);
  w.timestamp(4, info.createdAt);
  w.timestamp(5, info.updatedAt);
  w.stringMap(6, info.labels);
}

/** Writes infos one by one into a ListSnapshotsResponse page (`repeated Info info = 1`). */
export class ListSnapshotsEncoder {
  private w = new WireWriter(16 * 1024);
  #count = 0;

  /** Infos in the page so far. */
  get count(): number {
    return this.#count;
  }

  /** Adds a snapshotter's Info (its kind as containerd's API has it). */
  add(info: Info): void {
    this.addApi({ name: info.name, parent: info.parent, kind: toApiKind(info.kind), createdAt: info.created, updatedAt: info.updated, labels: info.labels });
  }

  addApi(info: ApiInfo): void {
    const at = this.w.begin(1);
    writeInfo(this.w, info);
    this.w.end(at);
    this.#count++;
  }

  /** The page; the encoder starts a new one. */
  take(): EncodedMessage<ListSnapshotsResponse> {
    const page = new EncodedMessage<ListSnapshotsResponse>(this.w.finish());
    this.w = new WireWriter(16 * 1024);
    this.#count = 0;
    return page;
  }
}

const encodeList = (msg: ListSnapshotsResponse): Buffer => {
  const list = new ListSnapshotsEncoder();
  for (const info of msg.info) list.addApi(info);
  return list.take().bytes;
};

/** containerd.services.snapshots.v1.Snapshots as the daemon serves it. */
export const snapshotsServiceDefinition = {
  ...SnapshotsService,
  list: { ...SnapshotsService.list, responseSerialize: acceptEncoded(encodeList) },
} as const;
