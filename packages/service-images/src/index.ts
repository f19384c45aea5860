// Registration: io.containerd.service.v1 images-service (the local service) and
// io.containerd.grpc.v1 images (its gRPC API), with containerd's requires.
import type {} from '@containerd-ts/gc-scheduler';
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { imagesGrpcService } from './grpc.js';
import { ImagesService } from './images.js';

export { imagesGrpcService, toApiImage } from './grpc.js';
export { type CollectionRequester, type Image, type ImageInput, ImagesService } from './images.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.images-service': ImagesService;
  }
}

export const imagesServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'images-service',
  requires: ['io.containerd.metadata.v1', 'io.containerd.gc.v1'],
  init: (ctx) => new ImagesService(ctx.get('io.containerd.metadata.v1').images, ctx.get('io.containerd.gc.v1')),
});

export const imagesGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'images',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    // containerd's answer when the local service is not registered (disabled_plugins).
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'images-service')) throw new Error('images service not found');
    return { services: [imagesGrpcService(ctx.getByID('io.containerd.service.v1', 'images-service'))] };
  },
});
