// Plugin registration of the zfs snapshotter: io.containerd.snapshotter.v1 "zfs".
// containerd-ts has no zfs snapshot implementation: off zfs the plugin skips exactly as
// containerd's does; on a zfs root it fails and says so, rather than pretend.
import { definePlugin, hostPlatform, SkipPluginError } from '@containerd-ts/plugin';
import { z } from 'zod';
import { checkZfsRoot, NotZfsError } from './zfs.js';

export { checkZfsRoot, NotZfsError } from './zfs.js';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'zfs',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** The zfs dataset's mount point for snapshots; the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
    })
    .strict(),
  async init(ctx) {
    const root = ctx.config.root_path || ctx.rootDir;
    ctx.meta.exports.root = root;
    let dataset: string;
    try {
      dataset = (await checkZfsRoot(root)).source;
    } catch (err) {
      if (err instanceof NotZfsError) throw new SkipPluginError(err.message);
      throw err;
    }
    throw new Error(
      `path ${root} is on zfs dataset ${dataset}, but containerd-ts has no zfs snapshotter implementation (use overlayfs, native or btrfs)`,
    );
  },
});
