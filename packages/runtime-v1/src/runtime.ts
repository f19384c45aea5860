// The runtime v1 task manager behind io.containerd.runtime.v1 "linux", as containerd
// 1.6's runtime/v1/linux Runtime: one `containerd-shim` per task in a bundle
// `<state>/<ns>/<id>` (config.json, rootfs/, address, shim.pid) with the work dir
// `<root>/<ns>/<id>`; tasks created, deleted and found again after a restart; a shim
// that dies is cleaned up after (runc's state, the rootfs mount, the bundle) and its
// task's exit published (/tasks/exit and /tasks/delete, status 137).
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Any, packAny, typeRegistry, typeUrlOf, unpackAs } from '@containerd-ts/api';
import { TaskCreate, TaskDelete, TaskExit } from '@containerd-ts/api/events/task';
import { RuncOptions } from '@containerd-ts/api/runtime/runctypes';
import { alreadyExists, fromGrpcStatus, invalidArgument, isContainerdError, isNotFound } from '@containerd-ts/errdefs';
import { type RequestContext, namespaceRequired, validateIdentifier } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import {
  Bundle,
  type CreateOpts,
  type EventPublisher,
  type Exit,
  FifoReader,
  type ShimConnection,
  type ShimDialer,
  TASK_NOT_EXISTS,
  TaskTable,
  newBundle,
} from '@containerd-ts/runtime-v2';
import { runCombined, unmount } from '@containerd-ts/snapshots';
import { now } from '@containerd-ts/timestamp';
import { type ShimSpawnConfig, processAlive, reapShim, removeSocket, shimAddress, shimLogPaths, spawnShim } from './shim.js';
import { type ClosedErrorTest, type TaskStatsReader, V1Task } from './task.js';

/** runc's state root when neither the config nor the container's options set one (the shim's default). */
export const DEFAULT_RUNC_ROOT = '/run/containerd/runc';
/** How long the shim may take to serve its socket after it started. */
const SHIM_CONNECT_TIMEOUT_MS = 10_000;
/** 128 + SIGKILL: the exit status containerd tells for a task whose shim died. */
const DEAD_SHIM_STATUS = 137;

/** The container fields the runtime reads (its runtime options). */
export interface ContainerOptionsLookup {
  get(ctx: RequestContext, id: string): Promise<{ runtime: { name: string; options?: Any | undefined } }>;
}

export interface V1RuntimeConfig {
  /** `<root>/io.containerd.runtime.v1.linux`: work dirs. */
  root: string;
  /** `<state>/io.containerd.runtime.v1.linux`: bundles. */
  state: string;
  /** The shim and how it is started. */
  shim: ShimSpawnConfig;
  /** The OCI runtime the shim runs (`runc`), unless the container's RuncOptions name one. */
  runtime: string;
  /** `runtime_root`: runc's state root ('' = the shim's default, /run/containerd/runc). */
  runtimeRoot: string;
  dial: ShimDialer;
  isClosedError: ClosedErrorTest;
  events: EventPublisher;
  containers: ContainerOptionsLookup;
  log: Logger;
  /** Where the shims' own output goes with `shim_debug` (containerd: its stdout and stderr). */
  shimLogSink?: ((chunk: Buffer) => void) | undefined;
  /** Timeout of the cleanup after a dead shim and of killing a shim. */
  cleanupTimeoutMs: number;
  /** Reads a task's cgroup statistics (`Metrics`); none: NotFound. */
  stats?: TaskStatsReader;
}

interface Entry {
  task: V1Task;
  logs: FifoReader[];
  /** Set when the daemon removed the task itself: the shim's exit that follows is expected. */
  removed: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The container's runc options (containerd's getRuncOptions): none → empty; another type → an error. */
function runcOptionsOf(options: Any | undefined): RuncOptions {
  if (!options) return RuncOptions.fromPartial({});
  if (!typeRegistry.has(options.typeUrl)) throw fromGrpcStatus(2, `type with url ${options.typeUrl}: not found`);
  if (options.typeUrl !== typeUrlOf(RuncOptions)) throw fromGrpcStatus(2, 'invalid runtime options format');
  return unpackAs(options, RuncOptions);
}

function wrap(prefix: string, err: unknown): Error {
  if (isContainerdError(err)) return fromGrpcStatus(err.code, `${prefix}: ${err.message}`);
  return new Error(`${prefix}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export class V1Runtime {
  private readonly tasks = new TaskTable<Entry>();
  private readonly pending = new Set<string>();
  private closing = false;
  private readonly createdListeners: Array<(task: V1Task) => Promise<void> | void> = [];
  private readonly deletingListeners: Array<(task: V1Task) => Promise<void> | void> = [];

  constructor(private readonly config: V1RuntimeConfig) {}

  /**
   * Runs `listener` for every task this runtime creates, before its Create returns (as
   * containerd's tasks service hands a new task to the monitor before answering): the
   * cgroups monitor starts watching a v1 task's OOMs there, so one that hits its limit as
   * soon as it starts is seen. A listener's failure is logged, not the create's.
   */
  onTaskCreated(listener: (task: V1Task) => Promise<void> | void): void {
    this.createdListeners.push(listener);
  }

  /**
   * Runs `listener` when a task is about to be deleted, while its cgroup still exists (the
   * shim's Delete removes it): the monitor reads a last OOM notification there.
   */
  onTaskDeleting(listener: (task: V1Task) => Promise<void> | void): void {
    this.deletingListeners.push(listener);
  }

  private async notify(listeners: ReadonlyArray<(task: V1Task) => Promise<void> | void>, task: V1Task, what: string): Promise<void> {
    for (const listener of listeners) {
      try {
        await listener(task);
      } catch (err) {
        this.config.log.warn({ id: task.id, error: String(err) }, what);
      }
    }
  }

  get(ctx: RequestContext, id: string): V1Task {
    const e = this.tasks.get(namespaceRequired(ctx), id);
    if (!e) throw fromGrpcStatus(5, TASK_NOT_EXISTS);
    return e.task;
  }

  list(ctx: RequestContext, all = false): V1Task[] {
    if (all) return this.tasks.list().map((e) => e.task);
    return this.tasks.list(namespaceRequired(ctx)).map((e) => e.task);
  }

  /** The shim's log fifos, read (and shown only with shim_debug, as containerd). */
  private async openLogs(workDir: string): Promise<FifoReader[]> {
    const paths = shimLogPaths(workDir);
    const sink = this.config.shimLogSink;
    return [await FifoReader.open(paths.stdout, sink), await FifoReader.open(paths.stderr, sink)];
  }

  /** Connects to the shim's socket, retrying while the shim starts to listen (or gives up when it exits). */
  private async connect(address: string, pid: number): Promise<ShimConnection> {
    const deadline = Date.now() + SHIM_CONNECT_TIMEOUT_MS;
    let delay = 2;
    for (;;) {
      try {
        return await this.config.dial(address);
      } catch (err) {
        if (Date.now() > deadline || !processAlive(pid)) throw wrap('failed to connect', err);
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 50);
    }
  }

  async create(ctx: RequestContext, id: string, opts: CreateOpts): Promise<V1Task> {
    const ns = namespaceRequired(ctx);
    try {
      validateIdentifier(id);
    } catch (err) {
      const message = isContainerdError(err) ? err.message : String(err);
      throw invalidArgument(`invalid task id: ${message.replace(/: invalid argument$/, '')}`, err);
    }
    const key = `${ns}/${id}`;
    if (this.pending.has(key) || this.tasks.get(ns, id)) throw alreadyExists(`task ${id}`);
    this.pending.add(key);
    try {
      return await this.createTask(ctx, ns, id, opts);
    } finally {
      this.pending.delete(key);
    }
  }

  private async createTask(ctx: RequestContext, ns: string, id: string, opts: CreateOpts): Promise<V1Task> {
    const container = await this.config.containers.get(ctx, id);
    const ropts = runcOptionsOf(container.runtime.options);
    // A task's CreateOptions (ctr --no-pivot, …) go to the shim as they are.
    if (opts.taskOptions && !typeRegistry.has(opts.taskOptions.typeUrl)) {
      throw fromGrpcStatus(2, `type with url ${opts.taskOptions.typeUrl}: not found`);
    }
    const bundle = await newBundle(this.config.root, this.config.state, ns, id, opts.spec.value, { workLink: false });
    const workDir = bundle.workDir!;
    let logs: FifoReader[] = [];
    let pid = 0;
    let task: V1Task | undefined;
    let entry: Entry | undefined;
    try {
      logs = await this.openLogs(workDir);
      const address = shimAddress(this.config.shim.address, ns, id);
      pid = await spawnShim(this.config.shim, {
        namespace: ns,
        bundlePath: bundle.path,
        workDir,
        socket: address,
        criuPath: ropts.criuPath,
        runtimeRoot: ropts.runtimeRoot || this.config.runtimeRoot,
        systemdCgroup: ropts.systemdCgroup,
      });
      this.config.log.info({ pid, address, debug: this.config.shim.debug }, `shim ${this.config.shim.shim} started`);
      await writeFile(join(bundle.path, 'address'), address, { mode: 0o666 });
      await writeFile(join(bundle.path, 'shim.pid'), String(pid), { mode: 0o666 });
      const conn = await this.connect(address, pid);
      task = new V1Task(bundle, conn, this.config.events, this.config.isClosedError, pid, this.config.stats);
      entry = { task, logs, removed: false };
      this.watch(ns, entry);
      const rootfs = opts.rootfs;
      try {
        await task.create({ runtime: ropts.runtime || this.config.runtime, rootfs, io: opts.io, checkpoint: opts.checkpoint, options: opts.taskOptions });
      } catch (err) {
        throw isContainerdError(err) ? err : wrap('create', err);
      }
      this.tasks.add(ns, entry);
    } catch (err) {
      // The shim is killed (containerd's KillShim), the bundle and its socket removed.
      if (entry) entry.removed = true;
      if (pid > 0) await this.killShim(pid);
      task?.close();
      for (const l of logs) l.close();
      await removeSocket(shimAddress(this.config.shim.address, ns, id)).catch(() => {});
      await bundle.delete().catch((e: unknown) => this.config.log.warn({ id, error: String(e) }, 'failed to delete bundle'));
      throw err;
    }
    await this.config.events.publish(
      { namespace: ns },
      '/tasks/create',
      packAny(TaskCreate, {
        containerId: id,
        bundle: bundle.path,
        rootfs: opts.rootfs.map((m) => ({ type: m.type, source: m.source, target: '', options: m.options })),
        io: { stdin: opts.io.stdin, stdout: opts.io.stdout, stderr: opts.io.stderr, terminal: opts.io.terminal },
        checkpoint: opts.checkpoint,
        pid: task.initPid,
      }),
    );
    await this.notify(this.createdListeners, task, 'task created listener');
    return task;
  }

  /** SIGKILL to the shim, then waits until it is gone (reaped when it is the daemon's child). */
  private async killShim(pid: number): Promise<void> {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
    await Promise.race([reapShim(pid, 10), sleep(this.config.cleanupTimeoutMs)]);
  }

  /** When the shim's connection closes without the daemon removing the task: cleans up after it. */
  private watch(ns: string, entry: Entry): void {
    void entry.task.closed.then(async () => {
      // The shim is gone (or going): reap it if it is the daemon's child.
      void reapShim(entry.task.shimPid);
      if (entry.removed || this.closing) return;
      this.config.log.info({ id: entry.task.id, namespace: ns }, 'shim reaped');
      if (this.tasks.get(ns, entry.task.id) !== entry) {
        // The task was never created (Create failed, which cleans up itself).
        return;
      }
      await this.cleanupAfterDeadShim(ns, entry.task.bundle, entry.task.initPid, entry);
    });
  }

  /**
   * containerd's cleanupAfterDeadShim: runc's state deleted (`runc delete --force`), the
   * rootfs unmounted, /tasks/exit told (137), the task forgotten, the bundle removed, the
   * shim killed, /tasks/delete told.
   */
  private async cleanupAfterDeadShim(ns: string, bundle: Bundle, knownPid: number, entry: Entry | undefined): Promise<void> {
    const { id } = bundle;
    this.config.log.warn({ id, namespace: ns }, 'cleaning up after shim dead');
    const pid = Number(await readFile(join(bundle.path, 'init.pid'), 'utf8').catch(() => '')) || knownPid;
    await this.terminate(ns, id, bundle).catch((err: unknown) => this.config.log.warn({ id, error: String(err) }, 'failed to terminate task'));
    const exitedAt = now();
    const ctx = { namespace: ns };
    await this.config.events
      .publish(ctx, '/tasks/exit', packAny(TaskExit, { containerId: id, id, pid, exitStatus: DEAD_SHIM_STATUS, exitedAt }))
      .catch((err: unknown) => this.config.log.warn({ id, error: String(err) }, 'failed to publish task exit'));
    if (entry) {
      entry.removed = true;
      this.tasks.remove(ns, id, entry);
      for (const l of entry.logs) l.close();
    }
    const shimPid = Number(await readFile(join(bundle.path, 'shim.pid'), 'utf8').catch(() => '')) || 0;
    await this.deleteBundle(bundle);
    if (shimPid > 0) await this.killShim(shimPid);
    await this.config.events
      .publish(ctx, '/tasks/delete', packAny(TaskDelete, { containerId: id, pid, exitStatus: DEAD_SHIM_STATUS, exitedAt, id: '' }))
      .catch((err: unknown) => this.config.log.warn({ id, error: String(err) }, 'failed to publish task delete'));
  }

  /** `runc delete --force` of the task and the rootfs unmounted (containerd's terminate). */
  private async terminate(ns: string, id: string, bundle: Bundle): Promise<void> {
    let ropts: RuncOptions;
    try {
      ropts = runcOptionsOf((await this.config.containers.get({ namespace: ns }, id)).runtime.options);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      ropts = RuncOptions.fromPartial({});
    }
    const root = join(ropts.runtimeRoot || this.config.runtimeRoot || DEFAULT_RUNC_ROOT, ns);
    const r = await runCombined(ropts.runtime || this.config.runtime, ['--root', root, '--log-format', 'json', 'delete', '--force', id]);
    if (r.error) this.config.log.warn({ id, error: `${r.output.toString().trim()}: ${r.error}` }, `delete runtime state ${id}`);
    await unmount(join(bundle.path, 'rootfs')).catch(() => {});
  }

  /** The bundle and work dir removed (mounts first), and the shim's socket. */
  private async deleteBundle(bundle: Bundle): Promise<void> {
    const address = await readFile(join(bundle.path, 'address'), 'utf8').catch(() => '');
    if (address !== '') await removeSocket(address).catch(() => {});
    await bundle.delete().catch((err: unknown) => this.config.log.error({ id: bundle.id, error: String(err) }, 'delete bundle'));
  }

  /**
   * Deletes a task (containerd's Task.Delete): the shim's Delete (NotFound tolerated), the
   * shim killed, the bundle removed, /tasks/delete published with the shim's answer.
   */
  async delete(ctx: RequestContext, id: string): Promise<Exit> {
    const ns = namespaceRequired(ctx);
    const entry = this.tasks.get(ns, id);
    if (!entry) throw fromGrpcStatus(5, TASK_NOT_EXISTS);
    let exit: Exit | undefined;
    let shimError: unknown;
    await this.notify(this.deletingListeners, entry.task, 'task deleting listener');
    try {
      exit = await entry.task.delete();
    } catch (err) {
      if (!isNotFound(err)) throw err;
      shimError = err;
    }
    entry.removed = true;
    this.tasks.remove(ns, id, entry);
    await this.killShim(entry.task.shimPid);
    entry.task.close();
    for (const l of entry.logs) l.close();
    await this.deleteBundle(entry.task.bundle);
    if (shimError !== undefined) throw shimError;
    await this.config.events.publish(
      { namespace: ns },
      '/tasks/delete',
      packAny(TaskDelete, { containerId: id, pid: exit!.pid, exitStatus: exit!.status, exitedAt: exit!.timestamp, id: '' }),
    );
    return exit!;
  }

  /**
   * The tasks of an earlier daemon (containerd's restoreTasks): each bundle's shim is
   * connected again; a shim that cannot be reached is cleaned up after (its exit told).
   */
  async load(): Promise<void> {
    const namespaces = await readdir(this.config.state, { withFileTypes: true }).catch(() => []);
    for (const d of namespaces) {
      if (!d.isDirectory() || d.name.startsWith('.')) continue;
      const ns = d.name;
      const bundles = await readdir(join(this.config.state, ns), { withFileTypes: true }).catch(() => []);
      await Promise.all(bundles.filter((b) => b.isDirectory() && !b.name.startsWith('.')).map((b) => this.loadTask(ns, b.name)));
    }
  }

  private async loadTask(ns: string, id: string): Promise<void> {
    const workDir = join(this.config.root, ns, id);
    const bundle = new Bundle(id, ns, join(this.config.state, ns, id), workDir);
    const address = await readFile(join(bundle.path, 'address'), 'utf8').catch(() => '');
    const shimPid = Number(await readFile(join(bundle.path, 'shim.pid'), 'utf8').catch(() => '')) || 0;
    const initPid = Number(await readFile(join(bundle.path, 'init.pid'), 'utf8').catch(() => '')) || 0;
    let conn: ShimConnection;
    try {
      if (address === '') throw new Error('no shim address');
      conn = await this.config.dial(address);
    } catch (err) {
      this.config.log.error({ id, namespace: ns, error: String(err) }, 'connecting to shim');
      await this.cleanupAfterDeadShim(ns, bundle, initPid, undefined);
      return;
    }
    const task = new V1Task(bundle, conn, this.config.events, this.config.isClosedError, shimPid, this.config.stats);
    task.initPid = initPid;
    const entry: Entry = { task, logs: await this.openLogs(workDir).catch(() => []), removed: false };
    this.tasks.add(ns, entry);
    this.watch(ns, entry);
  }

  /** Closes every shim connection (the shims and their tasks keep running, as with containerd). */
  async close(): Promise<void> {
    this.closing = true;
    for (const e of this.tasks.list()) {
      e.task.close();
      for (const l of e.logs) l.close();
    }
    this.tasks.clear();
  }
}
