// A runtime v1 task: the shim's `containerd.runtime.linux.shim.v1.Shim` service over
// ttrpc, as containerd 1.6's runtime/v1/linux Task and Process. Unlike a v2 shim, the v1
// shim publishes only /tasks/exit (through `containerd-ts publish`); the daemon publishes
// /tasks/create, /tasks/start, /tasks/delete, /tasks/exec-started, /tasks/paused,
// /tasks/resumed and /tasks/checkpointed itself, after the shim's call succeeded.
import { type Any, packAny } from '@containerd-ts/api';
import { TaskCheckpointed, TaskExecStarted, TaskPaused, TaskResumed, TaskStart } from '@containerd-ts/api/events/task';
import {
  CheckpointTaskRequest,
  CloseIORequest,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteProcessRequest,
  DeleteResponse,
  ExecProcessRequest,
  KillRequest,
  ListPidsRequest,
  ListPidsResponse,
  ResizePtyRequest,
  ShimInfoResponse,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '@containerd-ts/api/runtime/v1-shim';
import { Empty } from '@containerd-ts/api/types/empty';
import type { Mount } from '@containerd-ts/api/types/mount';
import type { ProcessInfo } from '@containerd-ts/api/types/task';
import { fromGrpcStatus, invalidArgument, isContainerdError } from '@containerd-ts/errdefs';
import { validateIdentifier } from '@containerd-ts/namespaces';
import { type Bundle, type CallOptions, type EventPublisher, type Exit, type ProcessState, type RuntimeTask, type ShimConnection, ShimClient, type TaskIO } from '@containerd-ts/runtime-v2';
import type { Timestamp } from '@containerd-ts/timestamp';

const SERVICE = 'containerd.runtime.linux.shim.v1.Shim';


/** Whether an error means the connection to the shim is gone. */
export type ClosedErrorTest = (err: unknown) => boolean;

/** Reads a task's cgroup statistics (as an Any of containerd's cgroups metrics), by its init pid. */
export type TaskStatsReader = (task: V1Task) => Promise<Any | undefined>;

export class V1Task extends ShimClient implements RuntimeTask {
  constructor(
    bundle: Bundle,
    conn: ShimConnection,
    private readonly events: EventPublisher,
    private readonly isClosed: ClosedErrorTest,
    /** The shim's pid (the daemon's child when it started it). */
    readonly shimPid: number,
    private readonly readStats?: TaskStatsReader,
  ) {
    super(bundle, conn, SERVICE);
  }

  /** The init process's pid (what the cgroups monitor finds the task's cgroup by). */
  async pid(): Promise<number> {
    return this.initPid;
  }

  private publish(topic: string, event: Any): Promise<void> {
    return this.events.publish({ namespace: this.namespace }, topic, event);
  }

  async create(request: { runtime: string; rootfs: Mount[]; io: TaskIO; checkpoint: string; options: Any | undefined }): Promise<number> {
    const r = await this.call('Create', CreateTaskRequest, CreateTaskResponse, {
      id: this.id,
      bundle: this.bundle.path,
      runtime: request.runtime,
      rootfs: request.rootfs.map((m) => ({ type: m.type, source: m.source, target: '', options: m.options })),
      stdin: request.io.stdin,
      stdout: request.io.stdout,
      stderr: request.io.stderr,
      terminal: request.io.terminal,
      checkpoint: request.checkpoint,
      options: request.options,
    });
    this.initPid = r.pid;
    return r.pid;
  }

  async start(execId = ''): Promise<number> {
    const { pid } = await this.call('Start', StartRequest, StartResponse, { id: execId || this.id });
    if (execId === '') {
      this.initPid = pid;
      await this.publish('/tasks/start', packAny(TaskStart, { containerId: this.id, pid }));
    } else {
      await this.publish('/tasks/exec-started', packAny(TaskExecStarted, { containerId: this.id, pid, execId }));
    }
    return pid;
  }

  /** The init process's Delete (the runtime deletes the task with it), or an exec process's DeleteProcess. */
  async delete(execId = ''): Promise<Exit> {
    const r =
      execId === ''
        ? await this.call('Delete', Empty, DeleteResponse, {})
        : await this.call('DeleteProcess', DeleteProcessRequest, DeleteResponse, { id: execId });
    return { pid: r.pid, status: r.exitStatus, timestamp: r.exitedAt };
  }

  async state(execId = '', options: Partial<CallOptions> = {}): Promise<ProcessState> {
    const id = execId || this.id;
    let r: StateResponse;
    try {
      r = await this.call('State', StateRequest, StateResponse, { id }, options);
    } catch (err) {
      // A closed connection: the shim is gone, and so is the process (containerd's ErrNotFound).
      if (this.isClosed(err)) throw fromGrpcStatus(5, 'not found');
      throw err;
    }
    return {
      id,
      pid: r.pid,
      status: r.status,
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
      exitStatus: r.exitStatus,
      // containerd's Process.State leaves an exec process's exit time out.
      exitedAt: execId === '' ? r.exitedAt : undefined,
    };
  }

  async kill(signal: number, all: boolean, execId = ''): Promise<void> {
    await this.call('Kill', KillRequest, Empty, { id: execId || this.id, signal, all: execId === '' ? all : false });
  }

  async exec(execId: string, io: TaskIO, spec: Any | undefined): Promise<void> {
    try {
      validateIdentifier(execId);
    } catch (err) {
      const message = isContainerdError(err) ? err.message : String(err);
      throw invalidArgument(`invalid exec id: ${message.replace(/: invalid argument$/, '')}`, err);
    }
    await this.call('Exec', ExecProcessRequest, Empty, { id: execId, ...io, spec });
  }

  async pids(): Promise<ProcessInfo[]> {
    return (await this.call('ListPids', ListPidsRequest, ListPidsResponse, { id: this.id })).processes;
  }

  async pause(): Promise<void> {
    await this.call('Pause', Empty, Empty, {});
    await this.publish('/tasks/paused', packAny(TaskPaused, { containerId: this.id }));
  }

  async resume(): Promise<void> {
    await this.call('Resume', Empty, Empty, {});
    await this.publish('/tasks/resumed', packAny(TaskResumed, { containerId: this.id }));
  }

  async resizePty(width: number, height: number, execId = ''): Promise<void> {
    await this.call('ResizePty', ResizePtyRequest, Empty, { id: execId || this.id, width, height });
  }

  async closeIO(execId = ''): Promise<void> {
    await this.call('CloseIO', CloseIORequest, Empty, { id: execId || this.id, stdin: true });
  }

  async checkpoint(path: string, options: Any | undefined): Promise<void> {
    await this.call('Checkpoint', CheckpointTaskRequest, Empty, { path, options });
    await this.publish('/tasks/checkpointed', packAny(TaskCheckpointed, { containerId: this.id, checkpoint: '' }));
  }

  async update(resources: Any | undefined, _annotations: Record<string, string>): Promise<void> {
    await this.call('Update', UpdateTaskRequest, Empty, { resources });
  }

  /**
   * The task's cgroup statistics, read by the daemon as containerd does for a v1 task (the
   * shim has no Stats call); NotFound `cgroup does not exist` when its cgroup cannot be
   * found (the task is not running), as containerd answers.
   */
  async stats(): Promise<Any | undefined> {
    if (!this.readStats || this.initPid === 0) throw fromGrpcStatus(5, 'cgroup does not exist: not found');
    try {
      return await this.readStats(this);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw fromGrpcStatus(5, 'cgroup does not exist: not found');
      throw err;
    }
  }

  async wait(execId = '', signal?: AbortSignal): Promise<{ status: number; timestamp: Timestamp | undefined }> {
    const r = await this.call('Wait', WaitRequest, WaitResponse, { id: execId || this.id }, signal ? { signal } : {});
    return { status: r.exitStatus, timestamp: r.exitedAt };
  }

  /** The shim's own pid, from the shim (containerd's ShimInfo). */
  async shimInfo(options: Partial<CallOptions> = {}): Promise<number> {
    return (await this.call('ShimInfo', Empty, ShimInfoResponse, {}, options)).shimPid;
  }
}
