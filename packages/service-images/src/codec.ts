// The images service definition with direct encoders for the responses that carry images:
// a list writes each image into the response bytes as it is read (see
// `@containerd-ts/api/wire`), with the bytes the generated encoders would produce.
import { type Image as ApiImage, ImagesService, type ListImagesResponse } from '@containerd-ts/api/services/images';
import { EncodedMessage, RepeatedWriter, WireWriter, acceptEncoded, encodeRepeated } from '@containerd-ts/api/wire';
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

/**
 * A response whose one field is `Image image = 1` (what Get, Create and Update answer),
 * written with the list's own writer: the code a burst of creates or gets runs is the code
 * a list runs, and no API object is built for it.
 */
export function imageResponse<M>(image: Image | ApiImage): EncodedMessage<M> {
  const w = new WireWriter(1024);
  const at = w.begin(1);
  writeImage(w, image);
  w.end(at);
  return new EncodedMessage<M>(w.finish());
}

const serializeImageResponse = (m: { image?: ApiImage | undefined }): Buffer => (m.image === undefined ? Buffer.alloc(0) : imageResponse(m.image).bytes);

/** containerd.services.images.v1.Images as the daemon serves it. */
export const imagesServiceDefinition = {
  ...ImagesService,
  get: { ...ImagesService.get, responseSerialize: acceptEncoded(serializeImageResponse) },
  create: { ...ImagesService.create, responseSerialize: acceptEncoded(serializeImageResponse) },
  update: { ...ImagesService.update, responseSerialize: acceptEncoded(serializeImageResponse) },
  list: encodeRepeated(ImagesService.list, 1, (m: ListImagesResponse) => m.images, writeImage),
} as const;
