// ctr-ts tasks checkpoint: packages/client's checkpointTask (task.Checkpoint) with ctr 1.6's
// flags; prints the checkpoint image's name unless the images went to --image-path.
import { checkpointTask } from '@containerd-ts/client';
import type { Command } from '../cli.js';
import { CommandError, withConnection } from '../context.js';


export const taskCheckpointCommand: Command = {
  name: 'checkpoint',
  usage: 'checkpoint a container',
  argsUsage: '[flags] CONTAINER',
  flags: [
    { name: 'exit', type: 'bool', usage: 'stop the container after the checkpoint' },
    { name: 'image-path', type: 'string', usage: 'path to criu image files' },
    { name: 'work-path', type: 'string', usage: 'path to criu work files and logs' },
  ],
  async action(ctx) {
    const id = ctx.args[0] ?? '';
    if (id === '') throw new CommandError('container id must be provided');
    const image = await withConnection(ctx, (conn) =>
      checkpointTask(conn, id, { exit: ctx.bool('exit'), imagePath: ctx.string('image-path'), workPath: ctx.string('work-path') }).catch((err: unknown) => {
        throw new CommandError((err as Error).message);
      }),
    );
    if (ctx.string('image-path') === '') ctx.out(`${image?.name ?? ''}\n`);
  },
};
