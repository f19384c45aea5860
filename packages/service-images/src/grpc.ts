// The containerd.services.images.v1.Images gRPC service over the local service.
import type {
  Image as ApiImage,
  CreateImageRequest,
  DeleteImageRequest,
  GetImageRequest,
  ListImagesRequest,
  ListImagesResponse,
  UpdateImageRequest,
} from '@containerd-ts/api/services/images';
import type { EncodedMessage } from '@containerd-ts/api/wire';
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';
import { imagesServiceDefinition, listStoredImagesWriter } from './codec.js';
import type { Image, ImageInput, ImagesService } from './images.js';

export const toApiImage = (image: Image): ApiImage => ({
  name: image.name,
  labels: image.labels,
  target: {
    mediaType: image.target.mediaType,
    digest: image.target.digest,
    size: image.target.size,
    annotations: image.target.annotations ?? {},
  },
  createdAt: image.createdAt,
  updatedAt: image.updatedAt,
});

// A missing image or target reads as an empty one, as Go's value types do; validation
// then names what is missing.
const fromApiImage = (image: ApiImage | undefined): ImageInput => ({
  name: image?.name ?? '',
  labels: { ...(image?.labels ?? {}) },
  target: {
    mediaType: image?.target?.mediaType ?? '',
    digest: image?.target?.digest ?? '',
    size: image?.target?.size ?? 0,
    annotations: { ...(image?.target?.annotations ?? {}) },
  },
});

export function imagesGrpcService(local: ImagesService): GrpcServiceRegistration {
  return grpcService(imagesServiceDefinition, {
    get: unary(async (req: GetImageRequest, ctx) => ({ image: toApiImage(await local.get(ctx, req.name)) })),
    // each image goes out as it is stored (its record is its message's wire form): a list
    // of thousands decodes nothing and keeps no objects alive
    list: unary(async (req: ListImagesRequest, ctx): Promise<EncodedMessage<ListImagesResponse>> => {
      const out = listStoredImagesWriter();
      await local.eachStored(ctx, req.filters, (name, stored) => out.add(name, stored));
      return out.take();
    }),
    create: unary(async (req: CreateImageRequest, ctx) => ({ image: toApiImage(await local.create(ctx, fromApiImage(req.image))) })),
    update: unary(async (req: UpdateImageRequest, ctx) => ({
      image: toApiImage(await local.update(ctx, fromApiImage(req.image), req.updateMask ?? [])),
    })),
    delete: unary(async (req: DeleteImageRequest, ctx) => {
      await local.delete(ctx, req.name, { sync: req.sync });
      return {};
    }),
  });
}
