// Plugin registration of the overlay snapshotter: io.containerd.snapshotter.v1 "overlayfs".
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { z } from 'zod';
import { OverlaySnapshotter } from './overlay.js';

export { OverlaySnapshotter, type OverlaySnapshotterOptions, UPPERDIR_LABEL } from './overlay.js';
export { needsUserXattr, runningInUserNS, supportsDType, supportsIndex } from './check.js';
// Where the differ can write a layer without mounting (the upper directory of an active snapshot).
export { overlayDirs, type UpperDir, upperDirOf } from '@containerd-ts/snapshots';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'overlayfs',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** Where snapshots live; the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
      /** Add `containerd.io/snapshot/overlay.upperdir` to each snapshot's labels. */
      upperdir_label: z.boolean().default(false),
      /** Remove directories when a snapshot is removed, instead of at the next cleanup. */
      sync_remove: z.boolean().default(false),
      /** Extra options for overlay mounts (containerd 1.7). */
      mount_options: z.array(z.string()).default([]),
    })
    .strict(),
  async init(ctx) {
    const root = ctx.config.root_path || ctx.rootDir;
    ctx.meta.exports.root = root;
    const sn = await OverlaySnapshotter.open(root, {
      upperdirLabel: ctx.config.upperdir_label,
      syncRemove: ctx.config.sync_remove,
      mountOptions: ctx.config.mount_options,
      log: ctx.log,
    });
    ctx.onClose(() => sn.close());
    return sn;
  },
});
