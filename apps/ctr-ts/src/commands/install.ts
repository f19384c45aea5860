// ctr-ts install: an image's bin/ (and lib/) files into the daemon's opt directory
// (the `opt` plugin's exported path) or --path, as ctr install does (packages/client installImage).
import { installImage } from '@containerd-ts/client';
import type { Command } from '../cli.js';
import { CommandError, connect, globalOptions } from '../context.js';

export const installCommand: Command = {
  name: 'install',
  usage: 'install a new package',
  argsUsage: '<ref>',
  description: 'install a new package',
  flags: [
    { name: 'libs', aliases: ['l'], type: 'bool', usage: 'install libs from the image' },
    { name: 'replace', aliases: ['r'], type: 'bool', usage: 'replace any binaries or libs in the opt directory' },
    { name: 'path', type: 'string', usage: 'set an optional install path other than the managed opt directory' },
  ],
  async action(ctx) {
    const opts = globalOptions(ctx);
    const conn = await connect(opts);
    try {
      await installImage(
        conn,
        ctx.args[0] ?? '',
        { libs: ctx.bool('libs'), replace: ctx.bool('replace'), path: ctx.string('path') },
        { namespace: opts.namespace },
      );
    } catch (err) {
      throw new CommandError((err as Error).message);
    } finally {
      conn.close();
    }
  },
};
