// Plugin registration of the btrfs snapshotter: io.containerd.snapshotter.v1 "btrfs".
import { definePlugin, hostPlatform, SkipPluginError } from '@containerd-ts/plugin';
import { z } from 'zod';
import { BtrfsSnapshotter, NotBtrfsError } from './btrfs.js';

export { BtrfsSnapshotter, type BtrfsSnapshotterOptions, checkBtrfsRoot, NotBtrfsError } from './btrfs.js';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'btrfs',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** Where snapshots live (must be on btrfs); the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
    })
    .strict(),
  async init(ctx) {
    const root = ctx.config.root_path || ctx.rootDir;
    ctx.meta.exports.root = root;
    let sn: BtrfsSnapshotter;
    try {
      sn = await BtrfsSnapshotter.open(root, { log: ctx.log });
    } catch (err) {
      if (err instanceof NotBtrfsError) throw new SkipPluginError(err.message);
      throw err;
    }
    ctx.onClose(() => sn.close());
    return sn;
  },
});
