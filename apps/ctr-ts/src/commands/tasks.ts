// ctr-ts tasks: attach, delete, exec, list, kill, pause, ps, resume, start and metrics, with
// ctr's arguments, checks, messages and output (`--format json` for `ls`).
import { TasksService } from '@containerd-ts/api/services/tasks';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { Status } from '@containerd-ts/api/types/task';
import { unpackAny } from '@containerd-ts/api';
import {
  type Connection,
  FifoIO,
  STOP_SIGNAL_LABEL,
  Task,
  attachFifos,
  containerSpec,
  getContainer,
  parseSignal,
  removeFifos,
  snapshotReader,
  spec as specOpts,
} from '@containerd-ts/client';
import type { Command, Context } from '../cli.js';
import { ExitError } from '../cli.js';
import { CommandError, withConnection } from '../context.js';
import { TabWriter } from '../tabwriter.js';
import { logLine } from '../log.js';
import { taskCheckpointCommand } from './checkpoint.js';
import { attachAndWait, processStreams, rawTerminal, releaseStdin, writePidFile } from './run.js';

/** Status.String() of Go's generated enum. */
const statusName = (s: Status) => Status[s] ?? String(s);

const requireId = (ctx: Context): string => {
  const id = ctx.args[0] ?? '';
  if (id === '') throw new CommandError('container id must be provided');
  return id;
};

/** container.Task(ctx, nil): the container must exist, then its task. */
async function loadTask(conn: Connection, id: string) {
  await getContainer(conn, id);
  return Task.load(conn, id);
}

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list tasks',
  argsUsage: '[flags]',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the task id' }],
  table: true,
  async action(ctx) {
    const tasks = await withConnection(ctx, async (conn) => (await conn.unary(TasksService.list, { filter: '' })).tasks);
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

const FIFO_DIR = { name: 'fifo-dir', type: 'string', usage: 'directory used for storing IO FIFOs' } as const;

const startCommand: Command = {
  name: 'start',
  usage: 'start a container that has been created',
  argsUsage: 'CONTAINER',
  flags: [
    { name: 'null-io', type: 'bool', usage: 'send all IO to /dev/null' },
    { name: 'log-uri', type: 'string', usage: 'log uri' },
    FIFO_DIR,
    { name: 'pid-file', type: 'string', usage: "file path to write the task's pid" },
    { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the task after it has started execution' },
  ],
  async action(ctx) {
    const id = requireId(ctx);
    const detach = ctx.bool('detach');
    if (ctx.string('log-uri') !== '') throw new CommandError('--log-uri is not supported by ctr-ts');
    let code = 0;
    await withConnection(ctx, async (conn) => {
      const c = await getContainer(conn, id);
      const tty = containerSpec(c)?.process?.terminal ?? false;
      if (tty && ctx.bool('null-io')) throw new CommandError('tty and null-io cannot be used together');
      const restore = rawTerminal(tty);
      let io: FifoIO | undefined;
      try {
        if (!ctx.bool('null-io')) io = await FifoIO.create(id, { fifoDir: ctx.string('fifo-dir'), terminal: tty, streams: processStreams(tty) });
        const task = await Task.create(conn, id, io?.paths ?? { stdin: '', stdout: '', stderr: '', terminal: false });
        const pidFile = ctx.isSet('pid-file') ? ctx.string('pid-file') : undefined;
        if (detach) {
          if (pidFile) await writePidFile(pidFile, task.pid);
          await task.start();
          return;
        }
        io?.start(() => task.closeStdin());
        try {
          code = await attachAndWait(task, io, { tty, start: () => task.start(), pidFile });
          io = undefined;
        } finally {
          await task.delete().catch(() => {});
        }
      } finally {
        restore();
        if (io) await io.close({ keepDir: detach }).catch(() => {});
        releaseStdin();
      }
    });
    if (code !== 0) throw new ExitError('', code);
  },
};

const killCommand: Command = {
  name: 'kill',
  usage: 'signal a container (default: SIGTERM)',
  argsUsage: '[flags] CONTAINER',
  flags: [
    { name: 'signal', aliases: ['s'], type: 'string', usage: 'signal to send to the container', value: '' },
    { name: 'exec-id', type: 'string', usage: 'process ID to kill' },
    { name: 'all', aliases: ['a'], type: 'bool', usage: 'send signal to all processes inside the container' },
  ],
  async action(ctx) {
    const id = requireId(ctx);
    const all = ctx.bool('all');
    const execId = ctx.string('exec-id');
    if (all && execId !== '') throw new CommandError('specify an exec-id or all; not both');
    await withConnection(ctx, async (conn) => {
      const c = await getContainer(conn, id);
      let signal: number;
      try {
        signal = parseSignal(ctx.string('signal') || c.labels[STOP_SIGNAL_LABEL] || 'SIGTERM');
      } catch (err) {
        throw new CommandError((err as Error).message);
      }
      const task = await Task.load(conn, id);
      await task.kill(signal, { all, execId });
    });
  },
};

/** ProcessDetails (the runc shim's pid info) as gogo's String() prints it with %+v. */
function processInfo(info: { typeUrl: string; value: Uint8Array } | undefined): string {
  if (!info) return '-';
  if (info.typeUrl === 'containerd.runc.v1.ProcessDetails') {
    // field 1: exec_id
    const b = Buffer.from(info.value);
    let execId = '';
    if (b[0] === 0x0a) execId = b.subarray(2, 2 + (b[1] ?? 0)).toString();
    return `&ProcessDetails{ExecID:${execId},XXX_unrecognized:[],}`;
  }
  return `&{TypeUrl:${info.typeUrl}}`;
}

const psCommand: Command = {
  name: 'ps',
  usage: 'list processes for container',
  argsUsage: 'CONTAINER',
  async action(ctx) {
    const id = requireId(ctx);
    const procs = await withConnection(ctx, async (conn) => (await loadTask(conn, id)).pids());
    const w = new TabWriter(1, 4, ' ', 8);
    w.write('PID\tINFO\n');
    for (const p of procs) w.write(`${p.pid}\t${processInfo(p.info as { typeUrl: string; value: Uint8Array } | undefined)}\n`);
    ctx.out(w.flush());
  },
};

const execCommand: Command = {
  name: 'exec',
  usage: 'execute additional processes in an existing container',
  argsUsage: '[flags] CONTAINER CMD [ARG...]',
  skipArgReorder: true,
  flags: [
    { name: 'cwd', type: 'string', usage: 'working directory of the new process' },
    { name: 'tty', aliases: ['t'], type: 'bool', usage: 'allocate a TTY for the container' },
    { name: 'detach', aliases: ['d'], type: 'bool', usage: 'detach from the task after it has started execution' },
    { name: 'exec-id', type: 'string', usage: 'exec specific id for the process', required: true },
    FIFO_DIR,
    { name: 'log-uri', type: 'string', usage: 'log uri for custom shim logging' },
    { name: 'user', type: 'string', usage: 'user id or name' },
  ],
  async action(ctx) {
    const id = requireId(ctx);
    const args = ctx.args.slice(1);
    const tty = ctx.bool('tty');
    const detach = ctx.bool('detach');
    const execId = ctx.string('exec-id');
    if (ctx.string('log-uri') !== '') {
      if (tty) throw new CommandError("can't use log-uri with tty");
      if (ctx.string('fifo-dir') !== '') throw new CommandError("can't use log-uri with fifo-dir");
      throw new CommandError('--log-uri is not supported by ctr-ts');
    }
    let code = 0;
    await withConnection(ctx, async (conn) => {
      const c = await getContainer(conn, id);
      const s = containerSpec(c);
      if (!s?.process) throw new CommandError(`container ${id} has no process spec`);
      const user = ctx.string('user');
      if (user) {
        const mounts = c.snapshotKey ? (await conn.unary(SnapshotsService.mounts, { snapshotter: c.snapshotter, key: c.snapshotKey })).mounts : [];
        await specOpts.withUser(s, user, snapshotReader(mounts));
      }
      const pspec = { ...s.process, terminal: tty, args };
      if (!tty) delete (pspec as { terminal?: boolean }).terminal;
      if (ctx.string('cwd')) pspec.cwd = ctx.string('cwd');
      const task = await Task.load(conn, id);
      if (execId === '') throw new CommandError('exec id must not be empty: invalid argument');
      const restore = rawTerminal(tty);
      let io: FifoIO | undefined;
      try {
        io = await FifoIO.create(execId, { fifoDir: ctx.string('fifo-dir'), terminal: tty, streams: processStreams(tty) });
        await task.exec(execId, pspec, io.paths);
        if (detach) {
          await task.start(execId);
          return;
        }
        io.start(() => task.closeStdin(execId));
        try {
          code = await attachAndWait(task, io, { tty, execId, start: () => task.start(execId) });
          io = undefined;
        } finally {
          await task.deleteProcess(execId).catch(() => {});
        }
      } finally {
        restore();
        if (io) await io.close({ keepDir: detach }).catch(() => {});
        releaseStdin();
      }
    });
    if (code !== 0) throw new ExitError('', code);
  },
};

const deleteCommand: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  usage: 'delete one or more tasks',
  argsUsage: 'CONTAINER [CONTAINER, ...]',
  flags: [
    { name: 'force', aliases: ['f'], type: 'bool', usage: 'force delete task process' },
    { name: 'exec-id', type: 'string', usage: 'process ID to kill' },
  ],
  async action(ctx) {
    const force = ctx.bool('force');
    const execId = ctx.string('exec-id');
    let exitCode = 0;
    await withConnection(ctx, async (conn) => {
      if (execId !== '') {
        const task = await loadTask(conn, ctx.args[0] ?? '');
        const status = await task.deleteProcess(execId, { force });
        exitCode = status.code;
        return;
      }
      let first: Error | undefined;
      for (const id of ctx.args) {
        let task: Awaited<ReturnType<typeof loadTask>>;
        try {
          task = await loadTask(conn, id);
        } catch (err) {
          first ??= err as Error;
          logLine('error', `failed to load task from ${id}`, { error: (err as Error).message });
          continue;
        }
        try {
          const paths = { stdin: task.process.stdin, stdout: task.process.stdout, stderr: task.process.stderr };
          const status = await task.delete({ force });
          await removeFifos(paths);
          if (status.code !== 0) logLine('warning', `task ${id} exit with non-zero exit code ${status.code}`);
        } catch (err) {
          first ??= err as Error;
          logLine('error', `unable to delete ${id}`, { error: (err as Error).message });
        }
      }
      if (first) throw first;
    });
    if (exitCode !== 0) throw new ExitError('', exitCode);
  },
};


const simple = (name: string, usage: string, f: (t: Task) => Promise<void>): Command => ({
  name,
  usage,
  argsUsage: 'CONTAINER',
  async action(ctx) {
    const id = requireId(ctx);
    await withConnection(ctx, async (conn) => f(await loadTask(conn, id)));
  },
});

const attachCommand: Command = {
  name: 'attach',
  usage: 'attach to the IO of a running container',
  argsUsage: 'CONTAINER',
  async action(ctx) {
    const id = ctx.args[0] ?? '';
    let code = 0;
    await withConnection(ctx, async (conn) => {
      const c = await getContainer(conn, id);
      const tty = containerSpec(c)?.process?.terminal ?? false;
      const restore = rawTerminal(tty);
      try {
        const task = await Task.load(conn, id);
        const p = task.process;
        const io = await attachFifos({ stdin: p.stdin, stdout: p.stdout, stderr: p.stderr, terminal: p.terminal }, processStreams(tty));
        io.start(() => task.closeStdin());
        try {
          code = await attachAndWait(task, io, { tty, start: async () => task.pid });
        } finally {
          const paths = { stdin: p.stdin, stdout: p.stdout, stderr: p.stderr };
          await task.delete().then(
            () => removeFifos(paths),
            () => {},
          );
        }
      } finally {
        restore();
        releaseStdin();
      }
    });
    if (code !== 0) throw new ExitError('', code);
  },
};

/** time.Time's String(): `2006-01-02 15:04:05.999999999 +0000 UTC`. */
function goTimeString(t: { seconds: number | bigint; nanos: number } | undefined): string {
  if (!t) return '0001-01-01 00:00:00 +0000 UTC';
  const base = new Date(Number(t.seconds) * 1000).toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
  const frac = t.nanos ? `.${String(t.nanos).padStart(9, '0').replace(/0+$/, '')}` : '';
  return `${base}${frac} +0000 UTC`;
}

const metricsCommand: Command = {
  name: 'metrics',
  aliases: ['metric'],
  usage: 'get a single data point of metrics for a task with the built-in Linux runtime',
  argsUsage: 'CONTAINER',
  flags: [{ name: 'format', type: 'string', usage: '"table" or "json"', value: 'table' }],
  async action(ctx) {
    const id = ctx.args[0] ?? '';
    const format = ctx.string('format');
    await withConnection(ctx, async (conn) => {
      await loadTask(conn, id);
      const r = await conn.unary(TasksService.metrics, { filters: [`id==${id}`] });
      const m = r.metrics[0];
      if (!m?.data) throw new CommandError('cannot convert metric data to cgroups.Metrics or windows.Statistics');
      const data = unpackAny(m.data).value as Record<string, unknown>;
      if (format === 'json') {
        ctx.out(`${JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
        return;
      }
      if (format !== 'table') throw new CommandError('format must be table or json');
      const w = new TabWriter(1, 4, ' ', 8);
      w.write('ID\tTIMESTAMP\t\n');
      w.write(`${m.id}\t${goTimeString(m.timestamp)}\t\n\n`);
      w.write('METRIC\tVALUE\t\n');
      const get = (path: string): unknown => path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), data);
      const num = (v: unknown) => String(v ?? 0);
      if (m.data.typeUrl.includes('v1')) {
        if (data.memory) {
          w.write(`memory.usage_in_bytes\t${num(get('memory.usage.usage'))}\t\n`);
          w.write(`memory.limit_in_bytes\t${num(get('memory.usage.limit'))}\t\n`);
          w.write(`memory.stat.cache\t${num(get('memory.totalCache'))}\t\n`);
        }
        if (data.cpu) {
          w.write(`cpuacct.usage\t${num(get('cpu.usage.total'))}\t\n`);
          w.write(`cpuacct.usage_percpu\t[${((get('cpu.usage.perCpu') as unknown[]) ?? []).map(num).join(' ')}]\t\n`);
        }
        if (data.pids) {
          w.write(`pids.current\t${num(get('pids.current'))}\t\n`);
          w.write(`pids.limit\t${num(get('pids.limit'))}\t\n`);
        }
      } else {
        if (data.pids) {
          w.write(`pids.current\t${num(get('pids.current'))}\t\n`);
          w.write(`pids.limit\t${num(get('pids.limit'))}\t\n`);
        }
        if (data.cpu) {
          for (const k of ['usageUsec', 'userUsec', 'systemUsec', 'nrPeriods', 'nrThrottled', 'throttledUsec']) {
            w.write(`cpu.${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}\t${num(get(`cpu.${k}`))}\t\n`);
          }
        }
        if (data.memory) {
          w.write(`memory.usage\t${num(get('memory.usage'))}\t\n`);
          w.write(`memory.usage_limit\t${num(get('memory.usageLimit'))}\t\n`);
          w.write(`memory.swap_usage\t${num(get('memory.swapUsage'))}\t\n`);
          w.write(`memory.swap_limit\t${num(get('memory.swapLimit'))}\t\n`);
        }
      }
      ctx.out(w.flush());
    });
  },
};

export const tasksCommand: Command = {
  name: 'tasks',
  aliases: ['t', 'task'],
  usage: 'manage tasks',
  subcommands: [
    attachCommand,
    taskCheckpointCommand,
    deleteCommand,
    execCommand,
    listCommand,
    killCommand,
    simple('pause', 'pause an existing container', (t) => t.pause()),
    psCommand,
    simple('resume', 'resume a paused container', (t) => t.resume()),
    startCommand,
    metricsCommand,
  ],
};
