// ctr-ts containers checkpoint / restore: packages/client's checkpointContainer (the task
// paused for the duration) and restoreContainer + startRestoredTask, with ctr 1.6's flags and
// messages. A checkpoint image missing from the namespace is fetched first, as ctr does.
import { FifoIO, checkpointContainer, fetchImage, restoreContainer, startRestoredTask } from '@containerd-ts/client';
import { isNotFound } from '@containerd-ts/errdefs';
import { ImagesService } from '@containerd-ts/api/services/images';
import type { Command, Context } from '../cli.js';
import { CommandError, withConnection } from '../context.js';
import { processStreams, releaseStdin } from './run.js';

function idAndRef(ctx: Context): { id: string; ref: string } {
  const id = ctx.args[0] ?? '';
  if (id === '') throw new CommandError('container id must be provided');
  const ref = ctx.args[1] ?? '';
  if (ref === '') throw new CommandError('ref must be provided');
  return { id, ref };
}

export const containerCheckpointCommand: Command = {
  name: 'checkpoint',
  usage: 'checkpoint a container',
  argsUsage: 'CONTAINER REF',
  flags: [
    { name: 'rw', type: 'bool', usage: 'include the rw layer in the checkpoint' },
    { name: 'image', type: 'bool', usage: 'include the image in the checkpoint' },
    { name: 'task', type: 'bool', usage: 'checkpoint container task' },
  ],
  async action(ctx) {
    const { id, ref } = idAndRef(ctx);
    // a failure's message is printed as `ctr-ts: <message>`, exit 1 (main's handler)
    await withConnection(ctx, (conn, namespace) => checkpointContainer(conn, id, ref, { rw: ctx.bool('rw'), image: ctx.bool('image'), task: ctx.bool('task') }, { namespace }));
  },
};

export const containerRestoreCommand: Command = {
  name: 'restore',
  usage: 'restore a container from checkpoint',
  argsUsage: 'CONTAINER REF',
  flags: [
    { name: 'rw', type: 'bool', usage: 'restore the rw layer from the checkpoint' },
    { name: 'live', type: 'bool', usage: 'restore the runtime and memory data from the checkpoint' },
  ],
  async action(ctx) {
    const { id, ref } = idAndRef(ctx);
    await withConnection(ctx, async (conn, namespace) => {
      const call = { namespace };
      await conn.unary(ImagesService.get, { name: ref }, call).catch(async (err: unknown) => {
        if (!isNotFound(err)) throw err;
        await fetchImage(conn, ref, {}, call);
      });
      await restoreContainer(conn, id, ref, { rw: ctx.bool('rw') }, call);
      let io: FifoIO | undefined;
      try {
        io = await FifoIO.create(id, { terminal: false, streams: processStreams(false) });
        await startRestoredTask(conn, id, ref, io.paths, { live: ctx.bool('live') }, call);
        // ctr returns once the task is started; the shim keeps the fifos.
        await io.close({ keepDir: true });
        io = undefined;
      } finally {
        if (io) await io.close().catch(() => {});
        releaseStdin();
      }
    });
  },
};
