// The containerd.services.leases.v1.Leases gRPC service over the local service.
import type {
  AddResourceRequest,
  CreateRequest,
  DeleteRequest,
  DeleteResourceRequest,
  Lease as ApiLease,
  ListRequest,
  ListResponse,
  ListResourcesRequest,
  Resource,
} from '@containerd-ts/api/services/leases';
import type { EncodedMessage } from '@containerd-ts/api/wire';
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';
import { leasesServiceDefinition, listStoredLeasesWriter } from './codec.js';
import type { Lease, LeaseResource, LeasesService } from './leases.js';

const toApi = (l: Lease): ApiLease => ({ id: l.id, createdAt: l.createdAt, labels: l.labels });
// A missing resource reads as an empty one (its type is then refused), as in containerd.
const fromApi = (r: Resource | undefined): LeaseResource => ({ id: r?.id ?? '', type: r?.type ?? '' });

export function leasesGrpcService(local: LeasesService): GrpcServiceRegistration {
  return grpcService(leasesServiceDefinition, {
    create: unary(async (req: CreateRequest, ctx) => ({ lease: toApi(await local.create(ctx, { id: req.id, labels: req.labels })) })),
    delete: unary(async (req: DeleteRequest, ctx) => {
      await local.delete(ctx, req.id, { sync: req.sync });
      return {};
    }),
    // each lease goes out as it is stored (its record is its message's wire form): a list
    // of thousands decodes nothing and keeps no objects alive
    list: unary(async (req: ListRequest, ctx): Promise<EncodedMessage<ListResponse>> => {
      const out = listStoredLeasesWriter();
      await local.eachStored(ctx, req.filters, (id, stored) => out.add(id, stored));
      return out.take();
    }),
    addResource: unary(async (req: AddResourceRequest, ctx) => {
      await local.addResource(ctx, req.id, fromApi(req.resource));
      return {};
    }),
    deleteResource: unary(async (req: DeleteResourceRequest, ctx) => {
      await local.deleteResource(ctx, req.id, fromApi(req.resource));
      return {};
    }),
    listResources: unary(async (req: ListResourcesRequest, ctx) => ({ resources: await local.listResources(ctx, req.id) })),
  });
}
