// ctr-ts containers ls and tasks ls: the rows ctr prints (and `--format json`).
import { ContainersService } from '@containerd-ts/api/services/containers';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Status } from '@containerd-ts/api/types/task';
import { GO_ZERO_TIME, formatRFC3339Nano } from '@containerd-ts/timestamp';
import type { Command, Context } from '../cli.js';
import { connect, globalOptions } from '../context.js';
import { TabWriter } from '../tabwriter.js';

async function withConn<T>(ctx: Context, f: (conn: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const conn = await connect(globalOptions(ctx));
  try {
    return await f(conn);
  } finally {
    conn.close();
  }
}

const containersList: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list containers',
  argsUsage: '[flags] [<filter>, ...]',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the container id' }],
  table: true,
  async action(ctx) {
    const containers = await withConn(ctx, async (conn) => (await conn.unary(ContainersService.list, { filters: ctx.args })).containers);
    if (ctx.bool('quiet')) {
      for (const c of containers) ctx.out(`${c.id}\n`);
      return;
    }
    ctx.table({
      header: ['CONTAINER', 'IMAGE', 'RUNTIME'],
      rows: containers,
      cells: (c) => [c.id, c.image || '-', c.runtime?.name ?? ''],
      json: (c) => ({
        id: c.id,
        image: c.image,
        runtime: c.runtime?.name ?? '',
        snapshotter: c.snapshotter,
        snapshotKey: c.snapshotKey,
        labels: c.labels,
        createdAt: formatRFC3339Nano(c.createdAt ?? GO_ZERO_TIME),
        updatedAt: formatRFC3339Nano(c.updatedAt ?? GO_ZERO_TIME),
      }),
      tabwriter: { minwidth: 4, padding: 4, padchar: ' ', tabwidth: 8 },
      trailingTab: true,
    });
  },
};

/** Status.String() of Go's generated enum. */
const statusName = (s: Status) => Status[s] ?? String(s);

const tasksList: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list tasks',
  argsUsage: '[flags]',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the task id' }],
  table: true,
  async action(ctx) {
    const tasks = await withConn(ctx, async (conn) => (await conn.unary(TasksService.list, { filter: '' })).tasks);
    if (ctx.bool('quiet')) {
      for (const t of tasks) ctx.out(`${t.id}\n`);
      return;
    }
    if (ctx.string('format') === 'json') {
      ctx.out(`${JSON.stringify(tasks.map((t) => ({ id: t.id, pid: t.pid, status: statusName(t.status) })), null, 2)}\n`);
      return;
    }
    // ctr ends the header with a tab and the rows without one.
    const w = new TabWriter(4, 4, ' ', 8);
    w.write('TASK\tPID\tSTATUS\t\n');
    for (const t of tasks) w.write(`${t.id}\t${t.pid}\t${statusName(t.status)}\n`);
    ctx.out(w.flush());
  },
};

export const containersCommand: Command = {
  name: 'containers',
  aliases: ['c', 'container'],
  usage: 'manage containers',
  subcommands: [containersList],
};

export const tasksCommand: Command = {
  name: 'tasks',
  aliases: ['t', 'task'],
  usage: 'manage tasks',
  subcommands: [tasksList],
};
