// Tasks and their processes as containerd's client drives them: create with the container's
// rootfs mounts and stdio paths, start, wait, kill, exec, pids, pause/resume, resize, close
// stdin, metrics and delete, with the checks and messages of containerd's task.go.
import { constants as osConstants } from 'node:os';
import { packJson } from '@containerd-ts/api';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { type Process as ApiProcess, Status } from '@containerd-ts/api/types/task';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { failedPrecondition, isNotFound } from '@containerd-ts/errdefs';
import type { CallContext, Connection } from './connection.js';
import { getContainer } from './container.js';
import type { StdioPaths } from './cio.js';
import type { Process } from './spec.js';

/** The process spec type URL of an exec's Any. */
export const PROCESS_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/Process';

/** Status.String() of containerd's client (`running`, `stopped`, …). */
export function statusString(s: Status): string {
  switch (s) {
    case Status.CREATED:
      return 'created';
    case Status.RUNNING:
      return 'running';
    case Status.STOPPED:
      return 'stopped';
    case Status.PAUSED:
      return 'paused';
    case Status.PAUSING:
      return 'pausing';
    default:
      return 'unknown';
  }
}

/** signal.ParseSignal: a number, or a name with or without `SIG`, any case. */
export function parseSignal(raw: string): number {
  if (/^[+-]?\d+$/.test(raw)) return Number(raw);
  const name = `SIG${raw.toUpperCase().replace(/^SIG/, '')}`;
  const n = (osConstants.signals as Record<string, number>)[name];
  if (n === undefined) throw new Error(`unknown signal ${JSON.stringify(raw)}`);
  return n;
}

export interface ExitStatus {
  code: number;
  exitedAt: Date | undefined;
}

const toDate = (t: { seconds: number | bigint; nanos: number } | undefined) =>
  t === undefined ? undefined : new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));

/** A task (the container's init process) or one of its exec'd processes, by container ID. */
export class Task {
  constructor(
    readonly conn: Connection,
    readonly id: string,
    readonly pid: number,
    private readonly ctx: CallContext = {},
  ) {}

  /**
   * container.NewTask: the rootfs mounts of the container's snapshot and the stdio paths
   * (empty for none) go to Tasks.Create; `options` are the runtime's task options.
   */
  static async create(
    conn: Connection,
    id: string,
    io: StdioPaths,
    ctx: CallContext = {},
    options?: { typeUrl: string; value: Buffer },
    checkpoint?: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> },
  ): Promise<Task> {
    const c = await getContainer(conn, id, ctx);
    let rootfs: Array<{ type: string; source: string; target: string; options: string[] }> = [];
    if (c.snapshotKey) {
      if (!c.snapshotter) throw new Error('unable to resolve rootfs mounts without snapshotter on container: invalid argument');
      const m = await conn.unary(SnapshotsService.mounts, { snapshotter: c.snapshotter, key: c.snapshotKey }, ctx);
      rootfs = m.mounts.map((x) => ({ type: x.type, source: x.source, target: '', options: x.options }));
    }
    const r = await conn.unary(
      TasksService.create,
      { containerId: id, rootfs, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal: io.terminal, checkpoint: checkpoint && { ...checkpoint, annotations: checkpoint.annotations ?? {} }, options, runtimePath: '' },
      ctx,
    );
    return new Task(conn, id, r.pid, ctx);
  }

  /** The container's task (errdefs `not found`: `no running task found`). */
  static async load(conn: Connection, id: string, ctx: CallContext = {}): Promise<Task & { process: ApiProcess }> {
    const r = await conn.unary(TasksService.get, { containerId: id, execId: '' }, ctx).catch((err: unknown) => {
      if (isNotFound(err)) throw Object.assign(new Error(`no running task found: task ${id} not found: not found`), { cause: err, kind: 'not-found' });
      throw err;
    });
    const t = new Task(conn, id, r.process?.pid ?? 0, ctx) as Task & { process: ApiProcess };
    (t as { process: ApiProcess }).process = r.process as ApiProcess;
    return t;
  }

  async start(execId = ''): Promise<number> {
    return (await this.conn.unary(TasksService.start, { containerId: this.id, execId }, this.ctx)).pid;
  }

  /** Resolves with the exit status once the process exits. */
  async wait(execId = '', signal?: AbortSignal): Promise<ExitStatus> {
    const r = await this.conn.unary(TasksService.wait, { containerId: this.id, execId }, { ...this.ctx, signal });
    return { code: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  async kill(signal: number, opts: { all?: boolean; execId?: string } = {}): Promise<void> {
    await this.conn.unary(TasksService.kill, { containerId: this.id, execId: opts.execId ?? '', signal, all: opts.all ?? false }, this.ctx);
  }

  async status(execId = ''): Promise<{ status: string; exitStatus: number }> {
    const r = await this.conn.unary(TasksService.get, { containerId: this.id, execId }, this.ctx);
    return { status: statusString(r.process?.status ?? Status.UNKNOWN), exitStatus: r.process?.exitStatus ?? 0 };
  }

  async pids(): Promise<Array<{ pid: number; info?: unknown }>> {
    return (await this.conn.unary(TasksService.listPids, { containerId: this.id }, this.ctx)).processes;
  }

  async pause(): Promise<void> {
    await this.conn.unary(TasksService.pause, { containerId: this.id }, this.ctx);
  }

  async resume(): Promise<void> {
    await this.conn.unary(TasksService.resume, { containerId: this.id }, this.ctx);
  }

  async resize(width: number, height: number, execId = ''): Promise<void> {
    await this.conn.unary(TasksService.resizePty, { containerId: this.id, execId, width, height }, this.ctx);
  }

  /** Closes the process's stdin (the shim sees EOF). */
  async closeStdin(execId = ''): Promise<void> {
    await this.conn.unary(TasksService.closeIo, { containerId: this.id, execId, stdin: true }, this.ctx);
  }

  /** Starts no process: registers exec `execId` running `spec` with stdio `io` (then `start(execId)`). */
  async exec(execId: string, spec: Process, io: StdioPaths): Promise<void> {
    if (execId === '') throw new Error('exec id must not be empty: invalid argument');
    await this.conn.unary(
      TasksService.exec,
      { containerId: this.id, execId, stdin: io.stdin, stdout: io.stdout, stderr: io.stderr, terminal: io.terminal, spec: packJson(PROCESS_TYPE_URL, spec) },
      this.ctx,
    );
  }

  /**
   * task.Delete: refuses a task that is not stopped (`task must be stopped before deletion:
   * running: failed precondition`); `force` kills every process with SIGKILL and waits first.
   */
  async delete(opts: { force?: boolean } = {}): Promise<ExitStatus> {
    if (opts.force) await this.forceKill('');
    const { status } = await this.status();
    const deletable = status === 'stopped' || status === 'unknown' || (status === 'created' && this.pid === 0);
    if (!deletable) throw failedPrecondition(`task must be stopped before deletion: ${status}`);
    const r = await this.conn.unary(TasksService.delete, { containerId: this.id }, this.ctx);
    return { code: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  /** process.Delete of an exec. */
  async deleteProcess(execId: string, opts: { force?: boolean } = {}): Promise<ExitStatus> {
    if (opts.force) await this.forceKill(execId);
    const { status } = await this.status(execId);
    if (status !== 'stopped' && status !== 'unknown' && status !== 'created') {
      throw failedPrecondition(`process must be stopped before deletion: ${status}`);
    }
    const r = await this.conn.unary(TasksService.deleteProcess, { containerId: this.id, execId }, this.ctx);
    return { code: r.exitStatus, exitedAt: toDate(r.exitedAt) };
  }

  // WithProcessKill: SIGKILL to all, then the exit.
  private async forceKill(execId: string): Promise<void> {
    const ac = new AbortController();
    const exited = this.wait(execId, ac.signal).catch(() => undefined);
    try {
      await this.kill(osConstants.signals.SIGKILL, execId ? { execId } : { all: true });
    } catch (err) {
      ac.abort();
      const kind = (err as { kind?: string }).kind;
      if (kind === 'failed-precondition' || isNotFound(err)) return;
      throw err;
    }
    await exited;
  }

  /** Tasks.Metrics of this task (the Any the runtime reports). */
  async metrics(): Promise<{ typeUrl: string; value: Buffer } | undefined> {
    const r = await this.conn.unary(TasksService.metrics, { filters: [`id==${this.id}`] }, this.ctx);
    const m = r.metrics[0];
    if (!m?.data) return undefined;
    return { typeUrl: m.data.typeUrl, value: Buffer.from(m.data.value) };
  }
}
