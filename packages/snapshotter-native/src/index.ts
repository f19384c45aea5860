// Plugin registration of the native snapshotter: io.containerd.snapshotter.v1 "native".
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { z } from 'zod';
import { NativeSnapshotter } from './native.js';

export { NativeSnapshotter, type NativeSnapshotterOptions } from './native.js';

export default definePlugin({
  type: 'io.containerd.snapshotter.v1',
  id: 'native',
  platforms: [hostPlatform()],
  config: z
    .object({
      /** Where snapshots live; the plugin's directory under the daemon root when empty. */
      root_path: z.string().default(''),
    })
    .strict(),
  async init(ctx) {
    const root = ctx.config.root_path || ctx.rootDir;
    // containerd 1.6 publishes no exports for native (`ctr plugins ls -d id==native` shows none).
    const sn = await NativeSnapshotter.open(root, { log: ctx.log });
    ctx.onClose(() => sn.close());
    return sn;
  },
});
