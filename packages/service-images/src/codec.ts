// The images service definition with direct encoders for the responses that carry images:
// a list writes each image into the response bytes as it is read (see
// `@containerd-ts/api/wire`), with the bytes the generated encoders would produce.
import { type Image as ApiImage, ImagesService, type ListImagesResponse } from '@containerd-ts/api/services/images';
import { RepeatedWriter, type WireWriter, encodeRepeated } from '@containerd-ts/api/wire';
import type { Image } from './images.js';

/** containerd.services.images.v1.Image (name 1, labels 2, target 3, created_at 7, updated_at 8). */
export function writeImage(w: WireWriter, image: Image | ApiImage): void {
  if (image.name !== '') w.string(1, image.name);
  w.stringMap(2, image.labels);
  const target = image.target;
  if (target !== undefined) {
    // containerd.types.Descriptor (media_type 1, digest 2, size 3, annotations 5)
    const at = w.begin(3);
    if (target.mediaType !== '') w.string(1, target.mediaType);
    if (target.digest !== '') w.string(2, target.digest);
    if (target.size !== 0) w.int64(3, target.size);
    w.stringMap(5, target.annotations);
    w.end(at);
  }
  w.timestamp(7, image.createdAt);
  w.timestamp(8, image.updatedAt);
}

/** A ListImagesResponse (`repeated Image images = 1`) written image by image. */
export const listImagesWriter = () => new RepeatedWriter<Image | ApiImage, ListImagesResponse>(1, writeImage);

/** containerd.services.images.v1.Images as the daemon serves it. */
export const imagesServiceDefinition = {
  ...ImagesService,
  list: encodeRepeated(ImagesService.list, 1, (m: ListImagesResponse) => m.images, writeImage),
} as const;
