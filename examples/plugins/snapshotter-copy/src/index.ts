// Registration of the example copy snapshotter: io.containerd.snapshotter.v1 "copy".
// This module is what plugin_dir loads (package.json "containerd-ts".plugin); the
// implementation in copy-snapshotter.ts knows nothing of plugins.
import { definePlugin, hostPlatform, SkipPluginError } from '@containerd-ts/plugin';
import { z } from 'zod';
import { CopySnapshotter } from './copy-snapshotter.js';

export { CopySnapshotter, type CopySnapshotterOptions, type CopyStats } from './copy-snapshotter.js';

export const copySnapshotterConfig = z
  .object({
    root_path: z.string().default('').describe('Where snapshots live; the plugin directory under the daemon root when empty'),
    copy_concurrency: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe('How many prepares may copy their parent at the same time; the others wait their turn'),
    sync_on_commit: z.boolean().default(true).describe('fsync every file and directory of a snapshot before its commit is recorded'),
  })
  .strict();

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'copy',
  platforms: [hostPlatform()],
  config: copySnapshotterConfig,
  async init(ctx) {
    // Bind mounts are Linux's: anywhere else this plugin is expected not to work.
    if (process.platform !== 'linux') throw new SkipPluginError(`copy snapshotter needs Linux bind mounts, not ${process.platform}`);
    const root = ctx.config.root_path || ctx.rootDir;
    const snapshotter = await CopySnapshotter.open(root, {
      copyConcurrency: ctx.config.copy_concurrency,
      syncOnCommit: ctx.config.sync_on_commit,
      log: ctx.log,
    });
    ctx.meta.exports.root = root;
    ctx.onClose(() => snapshotter.close());
    return snapshotter;
  },
});
