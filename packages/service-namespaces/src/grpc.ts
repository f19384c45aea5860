// The containerd.services.namespaces.v1.Namespaces gRPC service over the local service.
import {
  type CreateNamespaceRequest,
  type DeleteNamespaceRequest,
  type GetNamespaceRequest,
  type Namespace as ApiNamespace,
  NamespacesService as NamespacesDefinition,
  type UpdateNamespaceRequest,
} from '@containerd-ts/api/services/namespaces';
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';
import type { Namespace, NamespacesService } from './namespaces.js';

// A missing message reads as an empty one, as gogo's non-nullable fields do in containerd.
const fromApi = (ns: ApiNamespace | undefined): Namespace => ({ name: ns?.name ?? '', labels: { ...(ns?.labels ?? {}) } });

export function namespacesGrpcService(local: NamespacesService): GrpcServiceRegistration {
  return grpcService(NamespacesDefinition, {
    get: unary(async (req: GetNamespaceRequest) => ({ namespace: await local.get(req.name) })),
    // containerd ignores the request's `filter`; so does this service.
    list: unary(async () => ({ namespaces: await local.list() })),
    create: unary(async (req: CreateNamespaceRequest, ctx) => ({ namespace: await local.create(ctx, fromApi(req.namespace)) })),
    update: unary(async (req: UpdateNamespaceRequest, ctx) => ({
      namespace: await local.update(ctx, fromApi(req.namespace), req.updateMask ?? []),
    })),
    delete: unary(async (req: DeleteNamespaceRequest, ctx) => {
      await local.delete(ctx, req.name);
      return {};
    }),
  });
}
