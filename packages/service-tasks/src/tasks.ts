// The local tasks service (containerd's services/tasks "local"): tasks of containers
// through their runtime (v1 `linux` for `io.containerd.runtime.v1.linux`, v2 for every
// other name), answered with containerd's codes and messages. The runtimes publish the
// /tasks/* events (a v2 shim forwards them over ttrpc); this service publishes none.
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type Any, type MessageCodec, typeRegistry, typeUrlOf, unpackAs } from '@containerd-ts/api';
import { CheckpointOptions, Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { CheckpointOptions as V1CheckpointOptions, CreateOptions as V1CreateOptions } from '@containerd-ts/api/runtime/runctypes';
import type {
  CheckpointTaskRequest,
  CheckpointTaskResponse,
  CloseIORequest,
  CreateTaskRequest,
  CreateTaskResponse,
  DeleteProcessRequest,
  DeleteResponse,
  DeleteTaskRequest,
  ExecProcessRequest,
  GetRequest,
  GetResponse,
  KillRequest,
  ListPidsRequest,
  ListPidsResponse,
  ListTasksRequest,
  ListTasksResponse,
  MetricsRequest,
  MetricsResponse,
  PauseTaskRequest,
  ResizePtyRequest,
  ResumeTaskRequest,
  StartRequest,
  StartResponse,
  UpdateTaskRequest,
  WaitRequest,
  WaitResponse,
} from '@containerd-ts/api/services/tasks';
import type { Descriptor as ApiDescriptor } from '@containerd-ts/api/types/descriptor';
import type { Mount } from '@containerd-ts/api/types/mount';
import { MediaType, applyLayer } from '@containerd-ts/archive';
import type { ContentStore } from '@containerd-ts/content';
import { type Process, Status } from '@containerd-ts/api/types/task';
import { ContainerdError, fromGrpcStatus, invalidArgument, isNotFound } from '@containerd-ts/errdefs';
import { objectAdaptor, parseAll } from '@containerd-ts/filters';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import type { CreateOpts, Exit, RuntimeTask } from '@containerd-ts/runtime-v2';
import { now } from '@containerd-ts/timestamp';
import { CHECKPOINT_MEDIA_TYPE, writeCheckpointImage } from './checkpoint-image.js';

/** The container record fields the tasks service reads. */
export interface ContainerRecord {
  id: string;
  runtime: { name: string; options?: Any | undefined };
  spec?: Any | undefined;
  snapshotter: string;
  snapshotKey: string;
}

export interface ContainerSource {
  get(ctx: RequestContext, id: string): Promise<ContainerRecord>;
}

/** Mounts of a container's snapshot (used when a request brings no rootfs). */
export type SnapshotMounts = (ctx: RequestContext, snapshotter: string, key: string) => Promise<Mount[]>;

/** A runtime the service drives (the v2 shim manager, the runtime v1 `linux`). */
export interface TaskRuntime {
  create(ctx: RequestContext, id: string, opts: CreateOpts): Promise<RuntimeTask>;
  get(ctx: RequestContext, id: string): RuntimeTask;
  list(ctx: RequestContext, all?: boolean): RuntimeTask[];
  delete(ctx: RequestContext, id: string): Promise<Exit>;
}

export interface TasksServiceOptions {
  containers: ContainerSource;
  /** The v2 runtime: every runtime name that `runtimes` does not have. */
  runtime: TaskRuntime;
  /** Runtimes by the name containers give (`io.containerd.runtime.v1.linux`), as containerd's l.runtimes. */
  runtimes?: ReadonlyMap<string, TaskRuntime>;
  snapshotMounts?: SnapshotMounts;
  /** The namespaced content store: a restore reads its checkpoint (criu tar) from it, a checkpoint writes its image into it. */
  content: Pick<ContentStore, 'readerAt' | 'writer' | 'abort'>;
  /**
   * The service's own state directory: it records there which unpacked checkpoint belongs
   * to which task, so that after a restart `recoverRestores` removes those of tasks that
   * are gone. Without it the records are kept in memory only.
   */
  stateDir?: string;
  /** io.containerd.timeout.task.state. */
  stateTimeoutMs: number;
  log?: Logger;
}

const RUNC_PREFIX = 'io.containerd.runc';

/** containerd's plugin.RuntimeLinuxV1. */
const RUNTIME_LINUX_V1 = 'io.containerd.runtime.v1.linux';

/** Whether `runtime` is (a version of) the runc runtime, as containerd's checkRuntime. */
const isRunc = (runtime: string): boolean => runtime.startsWith(`${RUNC_PREFIX}.`) || runtime === RUNC_PREFIX;


/** An error containerd returns unclassified: it reaches clients as Unknown with this message. */
const unknown = (message: string) => fromGrpcStatus(2, message);

/**
 * A runc options Any of the expected type, as containerd's getRestorePath and
 * getCheckpointPath: a type URL nobody registered is typeurl's error, any other type
 * `invalid`. Both reach clients as Unknown.
 */
function runcOptions<T>(any: Any, codec: MessageCodec<T>, invalid: string): T {
  if (!typeRegistry.has(any.typeUrl)) throw unknown(`type with url ${any.typeUrl}: not found`);
  if (any.typeUrl !== typeUrlOf(codec)) throw unknown(invalid);
  return unpackAs(any, codec);
}

/** The directory a checkpoint image is unpacked into for a restore: containerd's place and prefix. */
const RESTORE_DIR_PREFIX = 'ctrd-checkpoint';
const restoreDirPrefix = () => join(process.env.XDG_RUNTIME_DIR || tmpdir(), RESTORE_DIR_PREFIX);

/** A record of an unpacked checkpoint: `<stateDir>/restores/<its directory's name>`. */
interface RestoreRecord {
  namespace: string;
  id: string;
  dir: string;
}

export class TasksService {
  /**
   * Checkpoints unpacked for restores, by `<namespace>/<id>`: the shim restores (runs `runc
   * restore`) when the task starts, so the directory lives until the init process started,
   * or the task is deleted, or its Create failed. (containerd 1.6 never removes it.)
   */
  private readonly restores = new Map<string, string>();

  constructor(private readonly options: TasksServiceOptions) {}

  private recordOf(dir: string): string | undefined {
    return this.options.stateDir === undefined ? undefined : join(this.options.stateDir, 'restores', basename(dir));
  }

  /** Removes an unpacked checkpoint and its record. */
  private async removeRestoreDir(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true }).catch((err: unknown) => this.options.log?.warn({ dir, error: String(err) }, 'failed to remove checkpoint directory'));
    const record = this.recordOf(dir);
    if (record !== undefined) await rm(record, { force: true }).catch(() => {});
  }

  /**
   * The checkpoint image's criu tar unpacked into a new temporary directory, as containerd's
   * Create does (archive.Apply of the blob), recorded for `namespace`/`id` before anything
   * is written into it; on any failure the directory and its record are gone again.
   * containerd's errors come back unclassified (Unknown), as there.
   */
  private async unpackCheckpoint(ctx: RequestContext, id: string, desc: ApiDescriptor): Promise<string> {
    const namespace = namespaceRequired(ctx);
    const dir = await mkdtemp(restoreDirPrefix());
    try {
      const record = this.recordOf(dir);
      if (record !== undefined) {
        await mkdir(join(record, '..'), { recursive: true, mode: 0o700 });
        await writeFile(record, JSON.stringify({ namespace, id, dir } satisfies RestoreRecord), { mode: 0o600 });
      }
      if (desc.mediaType !== CHECKPOINT_MEDIA_TYPE) throw unknown(`unsupported checkpoint type ${JSON.stringify(desc.mediaType)}`);
      let reader: Awaited<ReturnType<ContentStore['readerAt']>>;
      try {
        reader = await this.options.content.readerAt(ctx, { mediaType: desc.mediaType, digest: desc.digest, size: desc.size, annotations: desc.annotations });
      } catch (err) {
        throw unknown(err instanceof Error ? err.message : String(err));
      }
      try {
        // A plain tar, read as containerd's archive.Apply reads it (no decompression).
        await applyLayer(dir, reader.stream(), { mediaType: MediaType.ociLayer, worker: false, ...(ctx.signal ? { signal: ctx.signal } : {}) });
      } catch (err) {
        throw unknown(err instanceof Error ? err.message : String(err));
      } finally {
        await reader.close();
      }
      return dir;
    } catch (err) {
      await this.removeRestoreDir(dir);
      throw err;
    }
  }

  /** Removes the unpacked checkpoint of a task, if it has one. */
  private async dropRestore(namespace: string, id: string): Promise<void> {
    const key = `${namespace}/${id}`;
    const dir = this.restores.get(key);
    if (dir === undefined) return;
    this.restores.delete(key);
    await this.removeRestoreDir(dir);
  }

  /** Whether a task `namespace`/`id` exists in any runtime. */
  private hasTask(namespace: string, id: string): boolean {
    return this.allRuntimes().some((r) => {
      try {
        r.get({ namespace }, id);
        return true;
      } catch {
        return false;
      }
    });
  }

  /**
   * After a restart (the runtimes have loaded their tasks): the unpacked checkpoints of
   * tasks that still exist are kept for their Start or Delete, the others removed (a
   * daemon that died between unpacking and Start or Delete).
   */
  async recoverRestores(): Promise<void> {
    if (this.options.stateDir === undefined) return;
    const records = join(this.options.stateDir, 'restores');
    for (const name of await readdir(records).catch(() => [] as string[])) {
      const file = join(records, name);
      let record: RestoreRecord | undefined;
      try {
        const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<RestoreRecord>;
        if (typeof parsed.namespace === 'string' && typeof parsed.id === 'string' && typeof parsed.dir === 'string') record = parsed as RestoreRecord;
      } catch {
        record = undefined;
      }
      // Only a directory this service made (containerd's prefix, the record's own name) is removed.
      if (!record || basename(record.dir) !== name || !name.startsWith(RESTORE_DIR_PREFIX)) {
        this.options.log?.warn({ file }, 'removing an unreadable checkpoint record');
        await rm(file, { force: true });
        continue;
      }
      const key = `${record.namespace}/${record.id}`;
      if (this.hasTask(record.namespace, record.id) && !this.restores.has(key)) {
        this.restores.set(key, record.dir);
      } else {
        this.options.log?.info({ namespace: record.namespace, id: record.id, dir: record.dir }, 'removing the checkpoint of a task that is gone');
        await this.removeRestoreDir(record.dir);
      }
    }
  }

  /** The runtime of a runtime name (containerd's getRuntime): a named one, else v2. */
  private runtimeOf(name: string): TaskRuntime {
    return this.options.runtimes?.get(name) ?? this.options.runtime;
  }

  /** Every runtime, the named ones first (containerd's allRuntimes). */
  private allRuntimes(): TaskRuntime[] {
    return [...(this.options.runtimes?.values() ?? []), this.options.runtime];
  }

  private listTasks(ctx: RequestContext): RuntimeTask[] {
    return this.allRuntimes().flatMap((r) => r.list(ctx));
  }

  private getContainer(ctx: RequestContext, id: string): Promise<ContainerRecord> {
    return this.options.containers.get(ctx, id);
  }

  private async getTask(ctx: RequestContext, id: string): Promise<RuntimeTask> {
    const container = await this.getContainer(ctx, id);
    try {
      return this.runtimeOf(container.runtime.name).get(ctx, container.id);
    } catch {
      throw fromGrpcStatus(5, `task ${container.id} not found`);
    }
  }

  /** The process of a task: the init process, or an exec one (not-found when unknown). */
  private async process(task: RuntimeTask, execId: string): Promise<void> {
    if (execId !== '') await task.state(execId);
  }

  async create(ctx: RequestContext, r: CreateTaskRequest): Promise<CreateTaskResponse> {
    const container = await this.getContainer(ctx, r.containerId);
    let checkpoint = '';
    if (r.options && isRunc(container.runtime.name)) {
      checkpoint = runcOptions(r.options, RuncOptions, `invalid task create option for ${container.runtime.name}`).criuImagePath;
    } else if (r.options && container.runtime.name === RUNTIME_LINUX_V1) {
      checkpoint = runcOptions(r.options, V1CreateOptions, `invalid task create option for ${container.runtime.name}`).criuImagePath;
    }
    let restoreDir: string | undefined;
    if (checkpoint === '' && r.checkpoint) {
      restoreDir = await this.unpackCheckpoint(ctx, r.containerId, r.checkpoint);
      checkpoint = restoreDir;
    }
    try {
      return await this.createTask(ctx, r, container, checkpoint, restoreDir);
    } catch (err) {
      if (restoreDir !== undefined) await this.removeRestoreDir(restoreDir);
      throw err;
    }
  }

  private async createTask(ctx: RequestContext, r: CreateTaskRequest, container: ContainerRecord, checkpoint: string, restoreDir: string | undefined): Promise<CreateTaskResponse> {
    if (!container.spec) throw invalidArgument(`container ${container.id} has no spec`);
    let rootfs = r.rootfs;
    if (rootfs.length === 0 && container.snapshotKey && this.options.snapshotMounts) {
      rootfs = await this.options.snapshotMounts(ctx, container.snapshotter, container.snapshotKey);
    }
    const opts: CreateOpts = {
      spec: container.spec,
      rootfs,
      io: { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal },
      checkpoint,
      runtime: r.runtimePath || container.runtime.name,
      runtimeOptions: container.runtime.options,
      taskOptions: r.options,
    };
    if (container.runtime.name.startsWith('io.containerd.runtime.v1.')) {
      this.options.log?.warn({}, 'runtime v1 is deprecated since containerd v1.4, consider using runtime v2');
    } else if (container.runtime.name === 'io.containerd.runc.v1') {
      this.options.log?.warn({}, '"io.containerd.runc.v1" is deprecated since containerd v1.4, consider using "io.containerd.runc.v2"');
    }
    const runtime = this.runtimeOf(container.runtime.name);
    let exists = true;
    try {
      runtime.get(ctx, r.containerId);
    } catch {
      exists = false;
    }
    if (exists) throw new ContainerdError('already-exists', `task ${r.containerId}`);
    const task = await runtime.create(ctx, r.containerId, opts);
    if (restoreDir !== undefined) {
      const namespace = namespaceRequired(ctx);
      await this.dropRestore(namespace, r.containerId);
      this.restores.set(`${namespace}/${r.containerId}`, restoreDir);
    }
    // The pid the shim's Create answered (containerd asks the shim again with Connect): a
    // client that closes stdin right after this returns (`echo x | ctr run`) races this reply.
    return { containerId: r.containerId, pid: task.initPid };
  }

  async start(ctx: RequestContext, r: StartRequest): Promise<StartResponse> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    // The shim's Start answers with the pid; containerd asks State for it again, a round
    // trip on the path of every `ctr run` that tells nothing new.
    const pid = await task.start(r.execId);
    // A restored task is restored now: its checkpoint is not needed any more. (After a failed
    // restore it stays, for another Start, until the task is deleted.)
    if (r.execId === '') await this.dropRestore(namespaceRequired(ctx), task.id);
    return { pid };
  }

  async delete(ctx: RequestContext, r: DeleteTaskRequest): Promise<DeleteResponse> {
    const container = await this.getContainer(ctx, r.containerId);
    const runtime = this.runtimeOf(container.runtime.name);
    try {
      runtime.get(ctx, container.id);
    } catch {
      throw fromGrpcStatus(5, `task ${container.id} not found`);
    }
    const exit = await runtime.delete(ctx, r.containerId);
    await this.dropRestore(namespaceRequired(ctx), r.containerId);
    return { id: '', pid: exit.pid, exitStatus: exit.status, exitedAt: exit.timestamp };
  }

  async deleteProcess(ctx: RequestContext, r: DeleteProcessRequest): Promise<DeleteResponse> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    const exit = await task.delete(r.execId);
    return { id: r.execId, pid: exit.pid, exitStatus: exit.status, exitedAt: exit.timestamp };
  }

  /** A process's state as containerd reports it; a failed State call (not not-found) still answers, with status unknown. */
  private async processState(task: RuntimeTask, execId: string): Promise<Process> {
    const id = execId || task.id;
    try {
      const s = await task.state(execId, { timeoutMs: this.options.stateTimeoutMs });
      return {
        containerId: '',
        id,
        pid: s.pid,
        status: s.status as Status,
        stdin: s.stdin,
        stdout: s.stdout,
        stderr: s.stderr,
        terminal: s.terminal,
        exitStatus: s.exitStatus,
        exitedAt: s.exitedAt,
      };
    } catch (err) {
      if (isNotFound(err)) throw err;
      this.options.log?.error({ id, error: String(err) }, 'get state');
      return { containerId: '', id, pid: 0, status: Status.UNKNOWN, stdin: '', stdout: '', stderr: '', terminal: false, exitStatus: 0, exitedAt: undefined };
    }
  }

  async get(ctx: RequestContext, r: GetRequest): Promise<GetResponse> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    return { process: await this.processState(task, r.execId) };
  }

  async list(ctx: RequestContext, _r: ListTasksRequest): Promise<ListTasksResponse> {
    const tasks = this.listTasks(ctx);
    const states = await Promise.all(
      tasks.map((t) =>
        this.processState(t, '').catch((err: unknown) => {
          if (!isNotFound(err)) this.options.log?.error({ id: t.id, error: String(err) }, 'converting task to protobuf');
          return undefined;
        }),
      ),
    );
    return { tasks: states.filter((s): s is Process => s !== undefined) };
  }

  async pause(ctx: RequestContext, r: PauseTaskRequest): Promise<void> {
    await (await this.getTask(ctx, r.containerId)).pause();
  }

  async resume(ctx: RequestContext, r: ResumeTaskRequest): Promise<void> {
    await (await this.getTask(ctx, r.containerId)).resume();
  }

  async kill(ctx: RequestContext, r: KillRequest): Promise<void> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    await task.kill(r.signal, r.execId === '' ? r.all : false, r.execId);
  }

  async listPids(ctx: RequestContext, r: ListPidsRequest): Promise<ListPidsResponse> {
    const task = await this.getTask(ctx, r.containerId);
    return { processes: await task.pids() };
  }

  async exec(ctx: RequestContext, r: ExecProcessRequest): Promise<void> {
    if (r.execId === '') throw fromGrpcStatus(3, 'exec id cannot be empty');
    const task = await this.getTask(ctx, r.containerId);
    await task.exec(r.execId, { stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, terminal: r.terminal }, r.spec);
  }

  async resizePty(ctx: RequestContext, r: ResizePtyRequest): Promise<void> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    await task.resizePty(r.width, r.height, r.execId);
  }

  async closeIO(ctx: RequestContext, r: CloseIORequest): Promise<void> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    if (r.stdin) await task.closeIO(r.execId);
  }

  /**
   * Checkpoints through the shim (runc and criu do the work). Only an explicit
   * `ImagePath` in the runc checkpoint options is supported: containerd-ts does not yet
   * write checkpoint images into the content store.
   */
  async checkpoint(ctx: RequestContext, r: CheckpointTaskRequest): Promise<CheckpointTaskResponse> {
    const container = await this.getContainer(ctx, r.containerId);
    const task = await this.getTask(ctx, container.id);
    let imagePath = '';
    if (r.options && isRunc(container.runtime.name)) {
      imagePath = runcOptions(r.options, CheckpointOptions, `invalid task checkpoint option for ${container.runtime.name}`).imagePath;
    } else if (r.options && container.runtime.name === RUNTIME_LINUX_V1) {
      imagePath = runcOptions(r.options, V1CheckpointOptions, `invalid task checkpoint option for ${container.runtime.name}`).imagePath;
    }
    if (imagePath !== '') {
      await task.checkpoint(imagePath, r.options);
      return { descriptors: [] };
    }
    // As containerd: checkpoint into a temporary directory (the shim's error, criu missing
    // or refusing, comes back as it is), then criu's files and the spec into the content store.
    const dir = await mkdtemp(`${process.env.XDG_RUNTIME_DIR || tmpdir()}/ctd-checkpoint`);
    try {
      await task.checkpoint(dir, r.options);
      return { descriptors: await writeCheckpointImage(this.options.content, ctx, dir, container.spec) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async update(ctx: RequestContext, r: UpdateTaskRequest): Promise<void> {
    const task = await this.getTask(ctx, r.containerId);
    await task.update(r.resources, r.annotations);
  }

  async metrics(ctx: RequestContext, r: MetricsRequest): Promise<MetricsResponse> {
    let filter: ReturnType<typeof parseAll>;
    try {
      filter = parseAll(r.filters);
    } catch (err) {
      // containerd returns the parse error as it is: Unknown, with the parser's message.
      throw unknown(err instanceof Error ? err.message : String(err));
    }
    const ns = namespaceRequired(ctx);
    const tasks = this.listTasks(ctx).filter((t) => filter.match(objectAdaptor({ id: t.id, namespace: ns })));
    const metrics = await Promise.all(
      tasks.map(async (t) => {
        const timestamp = now();
        try {
          const data = await t.stats();
          return { timestamp, id: t.id, data };
        } catch (err) {
          if (!isNotFound(err)) this.options.log?.error({ id: t.id, error: String(err) }, 'collecting metrics');
          return undefined;
        }
      }),
    );
    return { metrics: metrics.filter((m) => m !== undefined) };
  }

  async wait(ctx: RequestContext, r: WaitRequest): Promise<WaitResponse> {
    const task = await this.getTask(ctx, r.containerId);
    await this.process(task, r.execId);
    const exit = await task.wait(r.execId, ctx.signal);
    return { exitStatus: exit.status, exitedAt: exit.timestamp };
  }
}
