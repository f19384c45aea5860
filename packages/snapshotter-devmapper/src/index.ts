// Plugin registration of the devmapper snapshotter: io.containerd.snapshotter.v1 "devmapper".
// Without a pool_name it fails as containerd's does ("devmapper not configured"); with one
// it runs containerd's start-up checks and fails at the first that does not hold.
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { z } from 'zod';
import { checkDevmapper } from './devmapper.js';

export { type DevmapperConfig, parseDevmapperConfig, type ParsedDevmapperConfig, ramInBytes } from './config.js';
export { checkDevmapper } from './devmapper.js';
export { dmsetup, dmsetupErrno } from './dmsetup.js';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'devmapper',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** Metadata directory; the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
      /** Name of the device-mapper thin pool (`/dev/mapper/<pool_name>`); the plugin is off when empty. */
      pool_name: z.string().default(''),
      /** Size of each thin device, e.g. `10GB` (binary units). */
      base_image_size: z.string().default(''),
      /** Remove devices in the background. */
      async_remove: z.boolean().default(false),
      /** Discard blocks when removing devices (needs blkdiscard). */
      discard_blocks: z.boolean().default(false),
      /** File system of new devices: ext4 (default) or xfs. */
      fs_type: z.string().default(''),
      /** Options for mkfs of new devices. */
      fs_options: z.string().default(''),
    })
    .strict(),
  async init(ctx) {
    if (ctx.config.pool_name === '') throw new Error('devmapper not configured');
    return checkDevmapper({ ...ctx.config, root_path: ctx.config.root_path || ctx.rootDir });
  },
});
