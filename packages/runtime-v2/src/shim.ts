// One shim and its task: the shim task API (containerd.task.v2.Task) over ttrpc, with
// errors from the shim passed through with their codes, as containerd's shimTask does.
import type { Any } from '@containerd-ts/api';
import {
  CheckpointTaskRequest,
  CloseIORequest,
  ConnectRequest,
  ConnectResponse,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteRequest,
  DeleteResponse,
  ExecProcessRequest,
  KillRequest,
  PauseRequest,
  PidsRequest,
  PidsResponse,
  ResizePtyRequest,
  ResumeRequest,
  ShutdownRequest,
  StartRequest,
  StartResponse,
  StateRequest,
  StateResponse,
  StatsRequest,
  StatsResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '@containerd-ts/api/runtime/task';
import type { Mount } from '@containerd-ts/api/types/mount';
import type { ProcessInfo } from '@containerd-ts/api/types/task';
import { Empty } from '@containerd-ts/api/types/empty';
import type { Timestamp } from '@containerd-ts/timestamp';
import type { Bundle } from './bundle.js';
import type { Exit } from './binary.js';
import type { CallOptions, ShimConnection } from './connection.js';

const SERVICE = 'containerd.task.v2.Task';

/** A generated message type, as `ShimClient.call` encodes and decodes it. */
export interface Codec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
  fromPartial(object: Partial<T>): T;
}

export interface TaskIO {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface ProcessState extends TaskIO {
  id: string;
  pid: number;
  /** containerd.v1.types.Status (0 unknown, 1 created, 2 running, 3 stopped, 4 paused, 5 pausing). */
  status: number;
  exitStatus: number;
  exitedAt: Timestamp | undefined;
}

/** containerd.v1.types.Status STOPPED. */
export const STATUS_STOPPED = 3;

/**
 * A task as the tasks service drives it, whichever runtime runs it (a v2 shim's
 * ShimTask, or a runtime v1 task): execId '' is the init process.
 */
export interface RuntimeTask {
  readonly id: string;
  readonly namespace: string;
  /** The init process's pid as Create reported it. */
  readonly initPid: number;
  start(execId?: string): Promise<number>;
  /** Deletes an exec process (the init process is deleted through its runtime). */
  delete(execId?: string): Promise<Exit>;
  state(execId?: string, options?: Partial<CallOptions>): Promise<ProcessState>;
  kill(signal: number, all: boolean, execId?: string): Promise<void>;
  exec(execId: string, io: TaskIO, spec: Any | undefined): Promise<void>;
  pids(): Promise<ProcessInfo[]>;
  pause(): Promise<void>;
  resume(): Promise<void>;
  resizePty(width: number, height: number, execId?: string): Promise<void>;
  closeIO(execId?: string): Promise<void>;
  checkpoint(path: string, options: Any | undefined): Promise<void>;
  update(resources: Any | undefined, annotations: Record<string, string>): Promise<void>;
  stats(): Promise<Any | undefined>;
  wait(execId?: string, signal?: AbortSignal): Promise<{ status: number; timestamp: Timestamp | undefined }>;
}

/**
 * One shim's ttrpc service for one bundle: the connection and its calls, what the tasks of
 * every runtime version share.
 */
export abstract class ShimClient {
  constructor(
    readonly bundle: Bundle,
    protected readonly conn: ShimConnection,
    private readonly service: string,
  ) {}

  /** The init process's pid as the shim's Create reported it (a reconnected shim's from its State). */
  initPid = 0;

  get id(): string {
    return this.bundle.id;
  }

  get namespace(): string {
    return this.bundle.namespace;
  }

  /** Resolves once the connection to the shim has closed (the shim exited, or the daemon closed it). */
  get closed(): Promise<void> {
    return this.conn.closed;
  }

  close(): void {
    this.conn.close();
  }

  protected async call<Req, Res>(method: string, req: Codec<Req>, res: Codec<Res>, value: Partial<Req>, options: Partial<CallOptions> = {}): Promise<Res> {
    const payload = req.encode(req.fromPartial(value)).finish();
    const out = await this.conn.call(this.service, method, payload, { namespace: this.namespace, ...options });
    return res.decode(out);
  }
}

/** A shim connection and the task it runs, as the runtime keeps it. */
export class ShimTask extends ShimClient implements RuntimeTask {
  constructor(bundle: Bundle, conn: ShimConnection) {
    super(bundle, conn, SERVICE);
  }

  /** Called after Start, Exec and Kill reached the shim (tests kill the daemon there). */
  crashPoint: ((point: 'start' | 'exec' | 'kill') => void) | undefined;

  /** The task's pid (and the shim's), also a liveness check of the shim. */
  connect(options: Partial<CallOptions> = {}): Promise<ConnectResponse> {
    return this.call('Connect', ConnectRequest, ConnectResponse, { id: this.id }, options);
  }

  async pid(options: Partial<CallOptions> = {}): Promise<number> {
    return (await this.connect(options)).taskPid;
  }

  async create(request: {
    rootfs: Mount[];
    io: TaskIO;
    checkpoint: string;
    options: Any | undefined;
  }): Promise<number> {
    const r = await this.call('Create', CreateTaskRequest, CreateTaskResponse, {
      id: this.id,
      bundle: this.bundle.path,
      rootfs: request.rootfs.map((m) => ({ type: m.type, source: m.source, target: m.target, options: m.options })),
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
    const { pid } = await this.call('Start', StartRequest, StartResponse, { id: this.id, execId });
    this.crashPoint?.('start');
    return pid;
  }

  async delete(execId = ''): Promise<Exit> {
    const r = await this.call('Delete', DeleteRequest, DeleteResponse, { id: this.id, execId });
    return { pid: r.pid, status: r.exitStatus, timestamp: r.exitedAt };
  }

  async state(execId = '', options: Partial<CallOptions> = {}): Promise<ProcessState> {
    const r = await this.call('State', StateRequest, StateResponse, { id: this.id, execId }, options);
    return {
      id: execId || this.id,
      pid: r.pid,
      status: r.status,
      stdin: r.stdin,
      stdout: r.stdout,
      stderr: r.stderr,
      terminal: r.terminal,
      exitStatus: r.exitStatus,
      exitedAt: r.exitedAt,
    };
  }

  async kill(signal: number, all: boolean, execId = ''): Promise<void> {
    await this.call('Kill', KillRequest, Empty, { id: this.id, execId, signal, all });
    this.crashPoint?.('kill');
  }

  async exec(execId: string, io: TaskIO, spec: Any | undefined): Promise<void> {
    await this.call('Exec', ExecProcessRequest, Empty, { id: this.id, execId, ...io, spec });
    this.crashPoint?.('exec');
  }

  async pids(): Promise<ProcessInfo[]> {
    return (await this.call('Pids', PidsRequest, PidsResponse, { id: this.id })).processes;
  }

  async pause(): Promise<void> {
    await this.call('Pause', PauseRequest, Empty, { id: this.id });
  }

  async resume(): Promise<void> {
    await this.call('Resume', ResumeRequest, Empty, { id: this.id });
  }

  async resizePty(width: number, height: number, execId = ''): Promise<void> {
    await this.call('ResizePty', ResizePtyRequest, Empty, { id: this.id, execId, width, height });
  }

  async closeIO(execId = ''): Promise<void> {
    await this.call('CloseIO', CloseIORequest, Empty, { id: this.id, execId, stdin: true });
  }

  async checkpoint(path: string, options: Any | undefined): Promise<void> {
    await this.call('Checkpoint', CheckpointTaskRequest, Empty, { id: this.id, path, options });
  }

  async update(resources: Any | undefined, annotations: Record<string, string>): Promise<void> {
    await this.call('Update', UpdateTaskRequest, Empty, { id: this.id, resources, annotations });
  }

  async stats(): Promise<Any | undefined> {
    return (await this.call('Stats', StatsRequest, StatsResponse, { id: this.id })).stats;
  }

  /** Waits for a process to exit (a call that lasts as long as the process). */
  async wait(execId = '', signal?: AbortSignal): Promise<{ status: number; timestamp: Timestamp | undefined }> {
    const r = await this.call('Wait', WaitRequest, WaitResponse, { id: this.id, execId }, signal ? { signal } : {});
    return { status: r.exitStatus, timestamp: r.exitedAt };
  }

  async shutdown(timeoutMs: number): Promise<void> {
    await this.call('Shutdown', ShutdownRequest, Empty, { id: this.id }, { timeoutMs });
  }
}
