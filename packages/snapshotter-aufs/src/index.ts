// Plugin registration of the aufs snapshotter: io.containerd.snapshotter.v1 "aufs".
// containerd-ts has no aufs snapshot implementation: where the kernel lacks aufs the
// plugin skips exactly as containerd's does; where it has aufs, it fails and says so.
import { definePlugin, hostPlatform, SkipPluginError } from '@containerd-ts/plugin';
import { z } from 'zod';
import { AufsUnsupportedError, checkAufsSupported } from './aufs.js';

export { AufsUnsupportedError, checkAufsSupported, goQuote } from './aufs.js';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'aufs',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** Where snapshots would live; the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
    })
    .strict(),
  async init(ctx) {
    const root = ctx.config.root_path || ctx.rootDir;
    ctx.meta.exports.root = root;
    try {
      await checkAufsSupported();
    } catch (err) {
      if (err instanceof AufsUnsupportedError) throw new SkipPluginError(err.message);
      throw err;
    }
    throw new Error('the kernel supports aufs, but containerd-ts has no aufs snapshotter implementation (use overlayfs)');
  },
});
