// Plugin registration of the opt directory: io.containerd.internal.v1 "opt".
import { definePlugin } from '@containerd-ts/plugin';
import { z } from 'zod';
import { DEFAULT_OPT_PATH, prepareOpt } from './opt.js';

export { DEFAULT_OPT_PATH, type OptDirectory, prepareOpt } from './opt.js';

export const optConfig = z
  .object({
    path: z.string().default(DEFAULT_OPT_PATH).describe('Directory `ctr install` installs into (its bin/ and lib/ go first on the daemon\'s PATH and LD_LIBRARY_PATH)'),
  })
  .strict();

export default definePlugin({
  type: 'io.containerd.internal.v1',
  id: 'opt',
  config: optConfig,
  async init(ctx) {
    // exported before anything can fail, as containerd does: `ctr install` reads it
    ctx.meta.exports.path = ctx.config.path;
    return prepareOpt(ctx.config.path);
  },
});
