// The shim manager behind io.containerd.runtime.v2 "task": starts a shim per task in a
// fresh bundle, keeps the connected shims by namespace and ID, deletes tasks with their
// shim and bundle, cleans up after a shim that died (its exit published), and at start
// reconnects every shim left running by an earlier daemon — all bundles in parallel.
import { openSync, constants as fsConstants } from 'node:fs';
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { type Any, packAny } from '@containerd-ts/api';
import { TaskDelete, TaskExit } from '@containerd-ts/api/events/task';
import type { Mount } from '@containerd-ts/api/types/mount';
import { ContainerdError, alreadyExists, fromGrpcStatus, isContainerdError, isNotFound } from '@containerd-ts/errdefs';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import { unmountAll } from '@containerd-ts/snapshots';
import { now } from '@containerd-ts/timestamp';
import { type Exit, type RuntimeResolver, type ShimCommandConfig, deleteShim, startShim } from './binary.js';
import { type Bundle, createLogFifo, loadBundle, newBundle } from './bundle.js';
import type { ClosedErrorTest, ShimDialer } from './connection.js';
import { withRuncRoot } from './runc-options.js';
import { ShimTask, type TaskIO } from './shim.js';
import type { RuntimeTimeouts } from './timeouts.js';

export type { Exit } from './binary.js';

/** What a task is created from (containerd's runtime.CreateOpts). */
export interface CreateOpts {
  /** The container's OCI spec (JSON in an Any). */
  spec: Any;
  /** Mounts the shim puts together on the bundle's rootfs/. */
  rootfs: Mount[];
  io: TaskIO;
  /** A checkpoint directory to restore from, or ''. */
  checkpoint: string;
  /** Runtime name (`io.containerd.runc.v2`) or absolute path of a shim binary. */
  runtime: string;
  /** The container's runtime options. */
  runtimeOptions?: Any | undefined;
  /** Options of this task; they take precedence over the runtime options. */
  taskOptions?: Any | undefined;
}

/** Publishes events on the daemon's exchange. */
export interface EventPublisher {
  publish(ctx: RequestContext, topic: string, event: Any): Promise<void>;
}

/** Where a task's runtime name is found when the bundle does not record it. */
export interface ContainerLookup {
  get(ctx: RequestContext, id: string): Promise<{ runtime: { name: string } }>;
}

export interface TaskManagerConfig {
  /** `<root>/io.containerd.runtime.v2.task`: work dirs. */
  root: string;
  /** `<state>/io.containerd.runtime.v2.task`: bundles. */
  state: string;
  /** Shim command line and environment. */
  shim: Omit<ShimCommandConfig, 'runtime'>;
  /** runc's state root for runc shims when the options set none ('' = the shim's default). */
  runcRoot: string;
  timeouts: RuntimeTimeouts;
  resolver: RuntimeResolver;
  dial: ShimDialer;
  isClosedError: ClosedErrorTest;
  events: EventPublisher;
  containers: ContainerLookup;
  log: Logger;
  /** Where the shims' own log lines go (containerd copies them to its stderr). */
  shimLogSink?: (chunk: Buffer) => void;
}

/** containerd's runtime.ErrTaskNotExists. */
export const TASK_NOT_EXISTS = 'task does not exist';

interface Entry {
  task: ShimTask;
  /** The command config to run `shim delete` with if the shim dies. */
  command: ShimCommandConfig;
  log: ShimLog;
  /** Set when the daemon removed the task itself: the close that follows is expected. */
  removed: boolean;
}

/** The read end of a bundle's log fifo, copied to the daemon's stderr. */
class ShimLog {
  private socket: Socket | undefined;

  static async open(bundle: Bundle, sink: ((chunk: Buffer) => void) | undefined): Promise<ShimLog> {
    await createLogFifo(bundle);
    const log = new ShimLog();
    // O_RDWR: opening never blocks and the fifo never reads EOF while the shim restarts.
    const fd = openSync(bundle.logPath, fsConstants.O_RDWR | fsConstants.O_NONBLOCK);
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.on('data', (d: Buffer) => sink?.(d));
    socket.on('error', () => {});
    log.socket = socket;
    return log;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}

function wrap(prefix: string, err: unknown): Error {
  if (isContainerdError(err)) {
    const wrapped = fromGrpcStatus(err.code, `${prefix}: ${err.message}`);
    return wrapped;
  }
  return new Error(`${prefix}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

const withTimeout = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new ContainerdError('deadline-exceeded', what)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });

export class TaskManager {
  private readonly tasks = new Map<string, Map<string, Entry>>();
  /** IDs being created, so a second create of the same ID fails fast. */
  private readonly pending = new Set<string>();
  private closing = false;

  constructor(private readonly config: TaskManagerConfig) {}

  private key(ns: string, id: string): string {
    return `${ns}/${id}`;
  }

  private entry(ns: string, id: string): Entry | undefined {
    return this.tasks.get(ns)?.get(id);
  }

  private add(ns: string, entry: Entry): void {
    let byId = this.tasks.get(ns);
    if (!byId) {
      byId = new Map();
      this.tasks.set(ns, byId);
    }
    if (byId.has(entry.task.id)) throw alreadyExists(`${entry.task.id}: task already exists`);
    byId.set(entry.task.id, entry);
  }

  private remove(ns: string, id: string, entry: Entry): void {
    const byId = this.tasks.get(ns);
    if (byId?.get(id) === entry) {
      byId.delete(id);
      if (byId.size === 0) this.tasks.delete(ns);
    }
  }

  /** The task of `id` in the request's namespace; throws `task does not exist` (not-found). */
  get(ctx: RequestContext, id: string): ShimTask {
    const ns = namespaceRequired(ctx);
    const e = this.entry(ns, id);
    if (!e) throw fromGrpcStatus(5, TASK_NOT_EXISTS);
    return e.task;
  }

  /** Tasks of the request's namespace; with `all`, of every namespace. */
  list(ctx: RequestContext, all = false): ShimTask[] {
    if (all) return [...this.tasks.values()].flatMap((m) => [...m.values()].map((e) => e.task));
    const ns = namespaceRequired(ctx);
    return [...(this.tasks.get(ns)?.values() ?? [])].map((e) => e.task);
  }

  private commandFor(runtimePath: string): ShimCommandConfig {
    return { ...this.config.shim, runtime: runtimePath };
  }

  /** Starts a shim in a new bundle and creates the task in it. */
  async create(ctx: RequestContext, id: string, opts: CreateOpts): Promise<ShimTask> {
    const ns = namespaceRequired(ctx);
    const key = this.key(ns, id);
    if (this.pending.has(key) || this.entry(ns, id)) throw alreadyExists(`task ${id}`);
    this.pending.add(key);
    try {
      return await this.createTask(ctx, ns, id, opts);
    } finally {
      this.pending.delete(key);
    }
  }

  private async createTask(ctx: RequestContext, ns: string, id: string, opts: CreateOpts): Promise<ShimTask> {
    const runtimeOptions = withRuncRoot(opts.runtime, opts.taskOptions ?? opts.runtimeOptions, this.config.runcRoot);
    let bundle: Bundle;
    try {
      bundle = await newBundle(this.config.root, this.config.state, ns, id, opts.spec.value);
    } catch (err) {
      throw wrap('failed to start shim', err);
    }
    let entry: Entry | undefined;
    let log: ShimLog | undefined;
    try {
      let runtimePath: string;
      try {
        runtimePath = this.config.resolver.resolve(opts.runtime);
      } catch (err) {
        throw wrap('failed to start shim', wrap('failed to resolve runtime path', err));
      }
      const command = this.commandFor(runtimePath);
      log = await ShimLog.open(bundle, this.config.shimLogSink);
      let address: string;
      try {
        address = await startShim(command, bundle, runtimeOptions, ctx.signal);
      } catch (err) {
        throw wrap('failed to start shim', wrap('start failed', err));
      }
      await writeFile(join(bundle.path, 'shim-binary-path'), runtimePath, { mode: 0o600 });
      let conn: Awaited<ReturnType<ShimDialer>>;
      try {
        conn = await this.config.dial(address);
      } catch (err) {
        // The shim runs but cannot be reached: have it clean up and go.
        await deleteShim(command, bundle, this.config.timeouts.shimCleanupMs).catch(() => {});
        throw wrap('failed to start shim', err);
      }
      entry = { task: new ShimTask(bundle, conn), command, log, removed: false };
      this.add(ns, entry);
      this.watch(ns, entry);
    } catch (err) {
      log?.close();
      await bundle.delete().catch((e: unknown) => this.config.log.warn({ id, error: String(e) }, 'failed to delete bundle'));
      throw err;
    }
    try {
      await entry.task.create({ rootfs: opts.rootfs, io: opts.io, checkpoint: opts.checkpoint, options: runtimeOptions });
    } catch (err) {
      await this.discardFailedCreate(ns, entry);
      throw wrap('failed to create shim task', err);
    }
    return entry.task;
  }

  /** After a failed Create in the shim: the shim told to go, runc state and mounts cleaned, bundle removed. */
  private async discardFailedCreate(ns: string, entry: Entry): Promise<void> {
    entry.removed = true;
    this.remove(ns, entry.task.id, entry);
    const { shimCleanupMs } = this.config.timeouts;
    await withTimeout(entry.task.delete(), shimCleanupMs, 'delete').catch(() => {});
    await withTimeout(entry.task.shutdown(this.config.timeouts.shimShutdownMs), shimCleanupMs, 'shutdown').catch(() => {});
    entry.task.close();
    await entry.task.closed;
    await deleteShim(entry.command, entry.task.bundle, shimCleanupMs).catch((err: unknown) =>
      this.config.log.warn({ id: entry.task.id, error: String(err) }, 'shim delete after failed create'),
    );
    entry.log.close();
    await entry.task.bundle.delete().catch((err: unknown) => this.config.log.warn({ id: entry.task.id, error: String(err) }, 'failed to delete bundle'));
  }

  /** Cleans up when the connection to a shim closes without the daemon removing the task. */
  private watch(ns: string, entry: Entry): void {
    void entry.task.closed.then(async () => {
      if (entry.removed || this.closing) return;
      this.config.log.info({ id: entry.task.id, namespace: ns }, 'shim disconnected');
      // Still known: the daemon did not delete it, so its exit has to be told.
      const known = this.entry(ns, entry.task.id) === entry;
      this.remove(ns, entry.task.id, entry);
      await this.cleanupAfterDeadShim(ns, entry.task.bundle, entry.command, entry.log, known);
    });
  }

  /**
   * `shim delete` for a shim that is gone (runc's state and the rootfs mount are
   * cleaned up by it), the bundle removed, and — when `publish` — its exit published as
   * containerd does (/tasks/exit, then /tasks/delete; 255 when the shim could not say).
   */
  private async cleanupAfterDeadShim(ns: string, bundle: Bundle, command: ShimCommandConfig, log: ShimLog | undefined, publish: boolean): Promise<void> {
    const { id } = bundle;
    this.config.log.warn({ id, namespace: ns }, 'cleaning up after shim disconnected');
    let exit: Exit | undefined;
    try {
      exit = await deleteShim(command, bundle, this.config.timeouts.shimCleanupMs);
    } catch (err) {
      this.config.log.warn({ id, namespace: ns, error: String(err) }, 'failed to clean up after shim disconnected');
    }
    log?.close();
    await bundle.delete().catch((err: unknown) => this.config.log.warn({ id, error: String(err) }, 'failed to delete bundle'));
    if (publish) await this.publishExit(ns, id, exit ?? { pid: 0, status: 255, timestamp: now() });
  }

  private async publishExit(ns: string, id: string, exit: Exit): Promise<void> {
    const ctx = { namespace: ns };
    const { pid, status: exitStatus, timestamp: exitedAt } = exit;
    try {
      await this.config.events.publish(ctx, '/tasks/exit', packAny(TaskExit, { containerId: id, id, pid, exitStatus, exitedAt }));
      await this.config.events.publish(ctx, '/tasks/delete', packAny(TaskDelete, { containerId: id, pid, exitStatus, exitedAt, id: '' }));
    } catch (err) {
      this.config.log.warn({ id, error: String(err) }, 'failed to publish task exit');
    }
  }

  /** Deletes a task: the shim's Delete, its shutdown, the connection closed, the bundle removed. */
  async delete(ctx: RequestContext, id: string): Promise<Exit> {
    const ns = namespaceRequired(ctx);
    const entry = this.entry(ns, id);
    if (!entry) throw fromGrpcStatus(5, TASK_NOT_EXISTS);
    let exit: Exit | undefined;
    let shimError: unknown;
    try {
      exit = await entry.task.delete();
    } catch (err) {
      if (!this.config.isClosedError(err) && !isNotFound(err)) throw wrap('failed to delete task', err);
      shimError = err;
    }
    if (shimError === undefined) {
      entry.removed = true;
      this.remove(ns, id, entry);
    }
    try {
      await entry.task.shutdown(this.config.timeouts.shimShutdownMs);
    } catch (err) {
      if (!this.config.isClosedError(err)) this.config.log.error({ id, error: String(err) }, 'failed to shutdown shim task');
    }
    entry.task.close();
    await entry.task.closed;
    if (shimError !== undefined) {
      // The shim is gone: the close handler cleans up and publishes the exit.
      throw wrap('failed to delete task', shimError);
    }
    entry.log.close();
    await entry.task.bundle.delete().catch((err: unknown) => this.config.log.error({ id, error: String(err) }, 'failed to delete bundle'));
    return exit!;
  }

  /**
   * Reconnects the shims of an earlier daemon: every bundle under the state dir, all in
   * parallel. A live shim's task is kept; a dead one gets `shim delete`, its exit is
   * published and its bundle removed; work dirs without a task are removed.
   */
  async load(): Promise<void> {
    const namespaces = await readdir(this.config.state, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      namespaces
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map(async (d) => {
          const ns = d.name;
          const bundles = await readdir(join(this.config.state, ns), { withFileTypes: true }).catch(() => []);
          await Promise.all(bundles.filter((b) => b.isDirectory() && !b.name.startsWith('.')).map((b) => this.loadShim(ns, b.name)));
          await this.cleanupWorkDirs(ns);
        }),
    );
  }

  private async loadShim(ns: string, id: string): Promise<void> {
    const log = this.config.log.child({ namespace: ns, id });
    const bundle = loadBundle(this.config.state, ns, id);
    const files = await readdir(bundle.path).catch(() => undefined);
    if (!files || files.length === 0) {
      await bundle.delete().catch(() => {});
      return;
    }
    let runtime = await readFile(join(bundle.path, 'shim-binary-path'), 'utf8').catch(() => '');
    if (runtime === '') {
      try {
        runtime = (await this.config.containers.get({ namespace: ns }, id)).runtime.name;
      } catch (err) {
        log.error({ error: String(err) }, 'loading container');
        await unmountAll(bundle.rootfs).catch(() => {});
        await bundle.delete().catch(() => {});
        return;
      }
    }
    let command: ShimCommandConfig;
    try {
      command = this.commandFor(this.config.resolver.resolve(runtime));
    } catch (err) {
      log.error({ error: String(err) }, 'failed to resolve runtime path');
      await bundle.delete().catch(() => {});
      return;
    }
    let shimLog: ShimLog | undefined;
    let task: ShimTask | undefined;
    try {
      const address = await readFile(join(bundle.path, 'address'), 'utf8');
      shimLog = await ShimLog.open(bundle, this.config.shimLogSink);
      const conn = await withTimeout(this.config.dial(address), this.config.timeouts.shimLoadMs, 'connect');
      task = new ShimTask(bundle, conn);
      await task.connect({ timeoutMs: this.config.timeouts.shimLoadMs });
    } catch (err) {
      log.info({ error: String(err) }, 'shim is gone: cleaning up');
      task?.close();
      await this.cleanupAfterDeadShim(ns, bundle, command, shimLog, true);
      return;
    }
    const entry: Entry = { task, command, log: shimLog, removed: false };
    this.add(ns, entry);
    this.watch(ns, entry);
  }

  private async cleanupWorkDirs(ns: string): Promise<void> {
    const dirs = await readdir(join(this.config.root, ns)).catch(() => []);
    for (const d of dirs) {
      if (this.entry(ns, d)) continue;
      await rm(join(this.config.root, ns, d), { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Closes every shim connection (the shims and their tasks keep running, as with containerd). */
  async close(): Promise<void> {
    this.closing = true;
    for (const byId of this.tasks.values()) {
      for (const e of byId.values()) {
        e.task.close();
        e.log.close();
      }
    }
    this.tasks.clear();
  }
}
