// The containerd.services.containers.v1.Containers gRPC service over the local service.
import type { Any } from '@containerd-ts/api';
import {
  type Container as ApiContainer,
  type CreateContainerRequest,
  type DeleteContainerRequest,
  type GetContainerRequest,
  ContainersService as ContainersDefinition,
  type ListContainerMessage,
  type ListContainersRequest,
  type UpdateContainerRequest,
} from '@containerd-ts/api/services/containers';
import { ContainerdError } from '@containerd-ts/errdefs';
import { type GrpcServiceRegistration, grpcService, serverStream, unary } from '@containerd-ts/grpc-server';
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { AnyValue, Container, ContainerInput, ContainersService } from './containers.js';

const anyOut = (a: AnyValue): Any => ({ typeUrl: a.typeUrl, value: a.value });
const anyIn = (a: Any | undefined): AnyValue => ({ typeUrl: a?.typeUrl ?? '', value: a?.value ?? new Uint8Array() });

export const toApiContainer = (c: Container): ApiContainer => {
  const extensions: Record<string, Any> = {};
  for (const [k, v] of Object.entries(c.extensions)) extensions[k] = anyOut(v);
  return {
    id: c.id,
    labels: c.labels,
    image: c.image,
    runtime: { name: c.runtime.name, options: c.runtime.options ? anyOut(c.runtime.options) : undefined },
    spec: c.spec ? anyOut(c.spec) : undefined,
    snapshotter: c.snapshotter,
    snapshotKey: c.snapshotKey,
    createdAt: c.createdAt,
    updatedAt: c.updatedAt,
    extensions,
  };
};

// A missing container or runtime reads as an empty one, as Go's value types do;
// validation then names what is missing.
const fromApiContainer = (c: ApiContainer | undefined): ContainerInput => {
  const extensions: Record<string, AnyValue> = {};
  for (const [k, v] of Object.entries(c?.extensions ?? {})) extensions[k] = anyIn(v);
  return {
    id: c?.id ?? '',
    labels: { ...(c?.labels ?? {}) },
    image: c?.image ?? '',
    runtime: c?.runtime?.options ? { name: c.runtime.name, options: anyIn(c.runtime.options) } : { name: c?.runtime?.name ?? '' },
    ...(c?.spec ? { spec: anyIn(c.spec) } : {}),
    snapshotter: c?.snapshotter ?? '',
    snapshotKey: c?.snapshotKey ?? '',
    extensions,
  };
};

/** Sends one message, waiting while the client is slow (back-pressure) or until it goes away. */
async function send(call: ServerWritableStream<ListContainersRequest, ListContainerMessage>, message: ListContainerMessage): Promise<void> {
  if (call.cancelled) throw new ContainerdError('canceled');
  if (call.write(message)) return;
  await new Promise<void>((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.once('drain', done);
    call.once('cancelled', done);
  });
}

export function containersGrpcService(local: ContainersService): GrpcServiceRegistration {
  return grpcService(ContainersDefinition, {
    get: unary(async (req: GetContainerRequest, ctx) => ({ container: toApiContainer(await local.get(ctx, req.id)) })),
    list: unary(async (req: ListContainersRequest, ctx) => ({ containers: (await local.list(ctx, req.filters)).map(toApiContainer) })),
    // One container per message, as containerd streams them.
    listStream: serverStream<ListContainersRequest, ListContainerMessage>(async (req, ctx, call) => {
      for (const c of await local.list(ctx, req.filters)) {
        // containerd stops quietly when the client has gone.
        if (call.cancelled) return;
        await send(call, { container: toApiContainer(c) });
      }
    }),
    create: unary(async (req: CreateContainerRequest, ctx) => ({ container: toApiContainer(await local.create(ctx, fromApiContainer(req.container))) })),
    update: unary(async (req: UpdateContainerRequest, ctx) => ({
      container: toApiContainer(await local.update(ctx, fromApiContainer(req.container), req.updateMask ?? [])),
    })),
    delete: unary(async (req: DeleteContainerRequest, ctx) => {
      await local.delete(ctx, req.id);
      return {};
    }),
  });
}
