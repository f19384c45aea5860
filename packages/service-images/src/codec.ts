// The images service definition with direct encoders for the responses that carry images:
// a list writes each image into the response bytes as it is read (see
// `@containerd-ts/api/wire`), with the bytes the generated encoders would produce.
import { type Image as ApiImage, ImagesService, type ListImagesResponse } from '@containerd-ts/api/services/images';
import { RepeatedWriter, type WireWriter, encodeRepeated } from '@containerd-ts/api/wire';
import { writeImageFields, writeStoredRecord } from '@containerd-ts/metadata-level';
import type { Image } from './images.js';

/** containerd.services.images.v1.Image (name 1, labels 2, target 3, created_at 7, updated_at 8). */
export function writeImage(w: WireWriter, image: Image | ApiImage): void {
  if (image.name !== '') w.string(1, image.name);
  writeImageFields(w, image);
}

/** A ListImagesResponse written from stored records (`add(name, stored)`: `ImageStore.eachStored`). */
export const listStoredImagesWriter = () => new RepeatedWriter<string, ListImagesResponse, string>(1, writeStoredRecord);

/** containerd.services.images.v1.Images as the daemon serves it. */
export const imagesServiceDefinition = {
  ...ImagesService,
  list: encodeRepeated(ImagesService.list, 1, (m: ListImagesResponse) => m.images, writeImage),
} as const;
