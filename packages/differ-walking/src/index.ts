// Plugin registration of the walking differ: io.containerd.differ.v1 "walking".
import { join } from 'node:path';
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import type {} from '@containerd-ts/metadata-level';
import type {} from '@containerd-ts/diff';
import { z } from 'zod';
import { WalkingDiffer } from './walking.js';

export { readonlyMounts, WalkingDiffer, type WalkingDifferOptions } from './walking.js';

export default definePlugin({
  type: 'io.containerd.differ.v1',
  id: 'walking',
  // The metadata plugin gives the namespaced content store (blobs of the request's namespace).
  requires: ['io.containerd.metadata.v1'],
  platforms: [hostPlatform()],
  // containerd's walking differ takes no configuration.
  config: z.object({}).strict(),
  init(ctx) {
    const db = ctx.get('io.containerd.metadata.v1');
    // Temporary mounts live under the daemon root, as containerd's `<root>/tmpmounts`.
    return new WalkingDiffer(db.contentStore(), { tempMountRoot: join(ctx.daemon.root, 'tmpmounts'), log: ctx.log });
  },
});
