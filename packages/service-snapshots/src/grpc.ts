// The containerd.services.snapshots.v1.Snapshots gRPC service over the local snapshotters.
import {
  type CleanupRequest,
  type CommitSnapshotRequest,
  type Info as ApiInfo,
  Kind as ApiKind,
  type ListSnapshotsRequest,
  type ListSnapshotsResponse,
  type MountsRequest,
  type PrepareSnapshotRequest,
  type RemoveSnapshotRequest,
  type StatSnapshotRequest,
  type UpdateSnapshotRequest,
  type UsageRequest,
  type ViewSnapshotRequest,
} from '@containerd-ts/api/services/snapshots';
import type { Mount as ApiMount } from '@containerd-ts/api/types/mount';
import type { EncodedMessage } from '@containerd-ts/api/wire';
import { ContainerdError, invalidArgument, notImplemented } from '@containerd-ts/errdefs';
import { type GrpcServiceRegistration, grpcService, serverStream, unary } from '@containerd-ts/grpc-server';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { type Info, type InfoUpdate, Kind, type Mount, type SnapshotOptions, type Snapshotter } from '@containerd-ts/snapshots';
import { listSnapshotsWriter, snapshotsServiceDefinition, toApiKind } from './codec.js';
import type { SnapshotterMap } from './publishing.js';

/** Infos per List message, as containerd sends them. */
export const LIST_BATCH = 100;

function snapshotterOf(snapshotters: SnapshotterMap, name: string): Snapshotter {
  if (!name) throw invalidArgument('snapshotter argument missing');
  const sn = snapshotters.get(name);
  if (!sn) throw invalidArgument(`snapshotter not loaded: ${name}`);
  return sn;
}

const fromApiKind = (kind: ApiKind): Info['kind'] =>
  kind === ApiKind.ACTIVE ? Kind.Active : kind === ApiKind.VIEW ? Kind.View : Kind.Committed;

export const toApiInfo = (info: Info): ApiInfo => ({
  name: info.name,
  parent: info.parent,
  kind: toApiKind(info.kind),
  createdAt: info.created,
  updatedAt: info.updated,
  labels: info.labels,
});

const fromApiInfo = (info: ApiInfo | undefined): InfoUpdate => {
  const out: InfoUpdate = {
    name: info?.name ?? '',
    parent: info?.parent ?? '',
    kind: fromApiKind(info?.kind ?? ApiKind.UNKNOWN),
    labels: { ...(info?.labels ?? {}) },
  };
  if (info?.createdAt) out.created = info.createdAt;
  if (info?.updatedAt) out.updated = info.updatedAt;
  return out;
};

const toApiMounts = (mounts: readonly Mount[]): ApiMount[] =>
  mounts.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: [...m.options] }));

// containerd passes labels only when the request carries a map; an empty one is no labels.
const options = (labels: Record<string, string>): SnapshotOptions => ({ labels: { ...labels } });

/** containerd's List returns walk errors unconverted, so clients see them with code Unknown. */
function asUnknown(err: unknown): unknown {
  if (!(err instanceof ContainerdError) || err.kind === 'canceled') return err;
  const out = new ContainerdError('unknown', undefined, { cause: err });
  out.message = err.message;
  return out;
}

/**
 * The Snapshots service over `snapshotters`. With `anyName`, the `snapshotter` field of a
 * request is not checked (a proxy serving one snapshotter answers whatever its client calls
 * it, as containerd's contrib snapshotservice does); `snapshotters.get` decides.
 */
export function snapshotsGrpcService(snapshotters: SnapshotterMap, serviceOptions: { anyName?: boolean } = {}): GrpcServiceRegistration {
  const get = (name: string) => {
    if (!serviceOptions.anyName) return snapshotterOf(snapshotters, name);
    const sn = snapshotters.get(name);
    if (!sn) throw invalidArgument(`snapshotter not loaded: ${name}`);
    return sn;
  };
  const listSnapshots = async (
    req: ListSnapshotsRequest,
    ctx: RequestContext,
    call: ServerWritableStream<ListSnapshotsRequest, ListSnapshotsResponse | EncodedMessage<ListSnapshotsResponse>>,
  ): Promise<void> => {
    const sn = get(req.snapshotter);
    // Each Info is encoded as the walk yields it, LIST_BATCH to a message.
    const page = listSnapshotsWriter();
    const send = async () => {
      if (call.cancelled) throw new ContainerdError('canceled');
      // Respect back-pressure: a slow client holds the walk, not the daemon's memory.
      if (call.write(page.take())) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          call.off('drain', done);
          call.off('cancelled', done);
          resolve();
        };
        call.once('drain', done);
        call.once('cancelled', done);
      });
    };
    try {
      await sn.walk(
        ctx,
        // Not an async function: most infos only go into the page, with nothing to wait for.
        (info) => {
          page.add(info);
          return page.count >= LIST_BATCH ? send() : undefined;
        },
        req.filters,
      );
    } catch (err) {
      throw asUnknown(err);
    }
    if (page.count > 0) await send();
  };
  return grpcService(snapshotsServiceDefinition, {
    prepare: unary(async (req: PrepareSnapshotRequest, ctx) => ({
      mounts: toApiMounts(await get(req.snapshotter).prepare(ctx, req.key, req.parent, options(req.labels))),
    })),
    view: unary(async (req: ViewSnapshotRequest, ctx) => ({
      mounts: toApiMounts(await get(req.snapshotter).view(ctx, req.key, req.parent, options(req.labels))),
    })),
    mounts: unary(async (req: MountsRequest, ctx) => ({ mounts: toApiMounts(await get(req.snapshotter).mounts(ctx, req.key)) })),
    commit: unary(async (req: CommitSnapshotRequest, ctx) => {
      await get(req.snapshotter).commit(ctx, req.name, req.key, options(req.labels));
      return {};
    }),
    remove: unary(async (req: RemoveSnapshotRequest, ctx) => {
      await get(req.snapshotter).remove(ctx, req.key);
      return {};
    }),
    stat: unary(async (req: StatSnapshotRequest, ctx) => ({ info: toApiInfo(await get(req.snapshotter).stat(ctx, req.key)) })),
    update: unary(async (req: UpdateSnapshotRequest, ctx) => ({
      info: toApiInfo(await get(req.snapshotter).update(ctx, fromApiInfo(req.info), req.updateMask ?? [])),
    })),
    list: serverStream<ListSnapshotsRequest, ListSnapshotsResponse | EncodedMessage<ListSnapshotsResponse>>(listSnapshots),
    usage: unary(async (req: UsageRequest, ctx) => get(req.snapshotter).usage(ctx, req.key)),
    cleanup: unary(async (req: CleanupRequest, ctx) => {
      const sn = get(req.snapshotter);
      if (!sn.cleanup) throw notImplemented('snapshotter does not implement Cleanup method');
      await sn.cleanup(ctx);
      return {};
    }),
  });
}
