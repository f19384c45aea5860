// Plugin registration of the local content store: io.containerd.content.v1 "content".
import { definePlugin } from '@containerd-ts/plugin';
import { z } from 'zod';
import { LocalContentStore } from './local-store.js';

export { LocalContentStore, type LocalContentStoreOptions } from './local-store.js';
export { type LabelStore, MemoryLabelStore } from './label-store.js';

export default definePlugin({
  type: 'io.containerd.content.v1',
  id: 'content',
  // containerd's content plugin takes no configuration.
  config: z.object({}).strict(),
  async init(ctx) {
    const store = await LocalContentStore.open(ctx.rootDir, { log: ctx.log });
    ctx.meta.exports.root = ctx.rootDir;
    return store;
  },
});
