// The shim manager behind io.containerd.runtime.v2 "task": starts a shim per task in a
// fresh bundle, keeps the connected shims by namespace and ID, deletes tasks with their
// shim and bundle, cleans up after a shim that died (its exit published), and at start
// reconnects every shim left running by an earlier daemon — all bundles in parallel.
import { access, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Any, packAny, typeUrlOf, unpackAs } from '@containerd-ts/api';
import { TaskDelete, TaskExit } from '@containerd-ts/api/events/task';
import type { Mount } from '@containerd-ts/api/types/mount';
import { ContainerdError, alreadyExists, fromGrpcStatus, isContainerdError, isNotFound } from '@containerd-ts/errdefs';
import { type RequestContext, namespaceRequired } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import { unmountAll } from '@containerd-ts/snapshots';
import { now, toMillis } from '@containerd-ts/timestamp';
import { type Exit, type RuntimeResolver, type ShimCommandConfig, deleteShim, startShim } from './binary.js';
import { type Bundle, loadBundle, newBundle } from './bundle.js';
import { FifoReader } from './fifo.js';
import type { ClosedErrorTest, ShimDialer } from './connection.js';
import { withRuncRoot } from './runc-options.js';
import { type ProcessState, STATUS_STOPPED, ShimTask, type TaskIO } from './shim.js';
import { TaskTable } from './task-table.js';
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

/** Publishes events on the daemon's exchange, and lets the runtime see what shims forward. */
export interface EventPublisher {
  publish(ctx: RequestContext, topic: string, event: Any): Promise<void>;
  subscribe(filters: readonly string[], signal?: AbortSignal): AsyncIterable<{ namespace: string; topic: string; event: Any }>;
}

/**
 * Steps of the task lifecycle where a test can have the daemon killed (SIGKILL) to prove
 * that recovery leaves every task fully there or fully gone.
 */
export type CrashPoint =
  | 'create:bundle'
  | 'create:shim-started'
  | 'create:task-created'
  | 'start'
  | 'exec'
  | 'kill'
  | 'delete:shim-deleted'
  | 'delete:shim-shutdown';

export const CRASH_POINTS: readonly CrashPoint[] = [
  'create:bundle',
  'create:shim-started',
  'create:task-created',
  'start',
  'exec',
  'kill',
  'delete:shim-deleted',
  'delete:shim-shutdown',
];

/**
 * When the runtime publishes an exit it found at load: at least RECOVERED_EXIT_DELAY_MS
 * after loading (the daemon serves by then, so clients that reconnect at restart can be
 * subscribed), and not before the shim's own publish retry has given up
 * (SHIM_PUBLISH_RETRY_MS after the exit: containerd 1.6's shim retries 1, 2, … 6 s apart,
 * 21 s in all); an exit the shim's retry delivers first is not repeated.
 */
export const RECOVERED_EXIT_DELAY_MS = 2000;
export const SHIM_PUBLISH_RETRY_MS = 22_000;

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
  /** Called at each crash point (tests kill the daemon there); nothing by default. */
  crashPoint?: (point: CrashPoint) => void;
}

/** An exit found at load (a task that ended while the daemon was down), published a little later. */
interface RecoveredExit {
  namespace: string;
  id: string;
  exit: Exit;
  /** The live shim's task; none when the shim is gone (/tasks/delete follows, as after any dead shim). */
  entry: Entry | undefined;
}

/** containerd's runtime.ErrTaskNotExists. */
export const TASK_NOT_EXISTS = 'task does not exist';

interface Entry {
  task: ShimTask;
  /** The command config to run `shim delete` with if the shim dies (looked up then for a reloaded shim). */
  command: () => Promise<ShimCommandConfig | undefined>;
  log: FifoReader;
  /** Set when the daemon removed the task itself: the close that follows is expected. */
  removed: boolean;
  /** The pid of the init exit already published (by the shim or by recovery), 0 if none. */
  exitDelivered?: number;
  /** The note of that exit being written into the bundle: the bundle is removed after it. */
  noting?: Promise<void>;
}

/** In a bundle: the pid of the init exit already published, so a restart does not tell it again. */
const EXIT_DELIVERED_FILE = 'exit-delivered';
/** In a bundle: the task was deleted through the daemon (its shim's Delete succeeded). */
const DELETED_FILE = 'deleted';

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
  private readonly tasks = new TaskTable<Entry>();
  /** IDs being created, so a second create of the same ID fails fast. */
  private readonly pending = new Set<string>();
  private closing = false;
  /** Exits found at load, published RECOVERED_EXIT_DELAY_MS later. */
  private readonly recovered: RecoveredExit[] = [];
  private readonly recoveryTimers = new Set<NodeJS.Timeout>();
  private readonly recoveryAbort = new AbortController();

  constructor(private readonly config: TaskManagerConfig) {}

  private key(ns: string, id: string): string {
    return `${ns}/${id}`;
  }

  /** The task of `id` in the request's namespace; throws `task does not exist` (not-found). */
  get(ctx: RequestContext, id: string): ShimTask {
    const ns = namespaceRequired(ctx);
    const e = this.tasks.get(ns, id);
    if (!e) throw fromGrpcStatus(5, TASK_NOT_EXISTS);
    return e.task;
  }

  /** Tasks of the request's namespace; with `all`, of every namespace. */
  list(ctx: RequestContext, all = false): ShimTask[] {
    if (all) return this.tasks.list().map((e) => e.task);
    const ns = namespaceRequired(ctx);
    return this.tasks.list(ns).map((e) => e.task);
  }

  private crash(point: CrashPoint): void {
    this.config.crashPoint?.(point);
  }

  private shimTask(bundle: Bundle, conn: Awaited<ReturnType<ShimDialer>>): ShimTask {
    const task = new ShimTask(bundle, conn);
    if (this.config.crashPoint) task.crashPoint = this.config.crashPoint;
    return task;
  }

  private commandFor(runtimePath: string): ShimCommandConfig {
    return { ...this.config.shim, runtime: runtimePath };
  }

  /** Starts a shim in a new bundle and creates the task in it. */
  async create(ctx: RequestContext, id: string, opts: CreateOpts): Promise<ShimTask> {
    const ns = namespaceRequired(ctx);
    const key = this.key(ns, id);
    if (this.pending.has(key) || this.tasks.get(ns, id)) throw alreadyExists(`task ${id}`);
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
    this.crash('create:bundle');
    let entry: Entry | undefined;
    let log: FifoReader | undefined;
    try {
      let runtimePath: string;
      try {
        runtimePath = this.config.resolver.resolve(opts.runtime);
      } catch (err) {
        throw wrap('failed to start shim', wrap('failed to resolve runtime path', err));
      }
      const command = this.commandFor(runtimePath);
      log = await FifoReader.open(bundle.logPath, this.config.shimLogSink);
      let address: string;
      try {
        address = await startShim(command, bundle, runtimeOptions, ctx.signal);
      } catch (err) {
        throw wrap('failed to start shim', wrap('start failed', err));
      }
      await writeFile(join(bundle.path, 'shim-binary-path'), runtimePath, { mode: 0o600 });
      this.crash('create:shim-started');
      let conn: Awaited<ReturnType<ShimDialer>>;
      try {
        conn = await this.config.dial(address);
      } catch (err) {
        // The shim runs but cannot be reached: have it clean up and go.
        await deleteShim(command, bundle, this.config.timeouts.shimCleanupMs).catch(() => {});
        throw wrap('failed to start shim', err);
      }
      entry = { task: this.shimTask(bundle, conn), command: async () => command, log, removed: false };
      this.tasks.add(ns, entry);
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
    this.crash('create:task-created');
    return entry.task;
  }

  /** After a failed Create in the shim: the shim told to go, runc state and mounts cleaned, bundle removed. */
  private async discardFailedCreate(ns: string, entry: Entry): Promise<void> {
    entry.removed = true;
    this.tasks.remove(ns, entry.task.id, entry);
    const { shimCleanupMs } = this.config.timeouts;
    await withTimeout(entry.task.delete(), shimCleanupMs, 'delete').catch(() => {});
    await withTimeout(entry.task.shutdown(this.config.timeouts.shimShutdownMs), shimCleanupMs, 'shutdown').catch(() => {});
    entry.task.close();
    await entry.task.closed;
    const command = await entry.command();
    if (command) {
      await deleteShim(command, entry.task.bundle, shimCleanupMs).catch((err: unknown) =>
        this.config.log.warn({ id: entry.task.id, error: String(err) }, 'shim delete after failed create'),
      );
    }
    entry.log.close();
    await entry.noting;
    await entry.task.bundle.delete().catch((err: unknown) => this.config.log.warn({ id: entry.task.id, error: String(err) }, 'failed to delete bundle'));
  }

  /** Cleans up when the connection to a shim closes without the daemon removing the task. */
  private watch(ns: string, entry: Entry): void {
    void entry.task.closed.then(async () => {
      if (entry.removed || this.closing) return;
      this.config.log.info({ id: entry.task.id, namespace: ns }, 'shim disconnected');
      // Still known: the daemon did not delete it, so its exit has to be told.
      const known = this.tasks.get(ns, entry.task.id) === entry;
      this.tasks.remove(ns, entry.task.id, entry);
      await entry.noting;
      await this.cleanupAfterDeadShim(ns, entry.task.bundle, await entry.command(), entry.log, known ? 'now' : false);
    });
  }

  /**
   * `shim delete` for a shim that is gone (runc's state and the rootfs mount are
   * cleaned up by it), the bundle removed, and — when `publish` — its exit published as
   * containerd does (/tasks/exit, then /tasks/delete; 255 when the shim could not say).
   */
  private async cleanupAfterDeadShim(
    ns: string,
    bundle: Bundle,
    command: ShimCommandConfig | undefined,
    log: FifoReader | undefined,
    publish: 'now' | 'recovered' | false,
  ): Promise<void> {
    const { id } = bundle;
    this.config.log.warn({ id, namespace: ns }, 'cleaning up after shim disconnected');
    let exit: Exit | undefined;
    try {
      if (!command) throw new Error('no shim binary to run `shim delete` with');
      exit = await deleteShim(command, bundle, this.config.timeouts.shimCleanupMs);
    } catch (err) {
      this.config.log.warn({ id, namespace: ns, error: String(err) }, 'failed to clean up after shim disconnected');
    }
    log?.close();
    await bundle.delete().catch((err: unknown) => this.config.log.warn({ id, error: String(err) }, 'failed to delete bundle'));
    const told = exit ?? { pid: 0, status: 255, timestamp: now() };
    if (publish === 'now') await this.publishExit(ns, id, told, true);
    else if (publish === 'recovered') this.recovered.push({ namespace: ns, id, exit: told, entry: undefined });
  }

  private async publishExit(ns: string, id: string, exit: Exit, deleted: boolean): Promise<void> {
    const ctx = { namespace: ns };
    const { pid, status: exitStatus, timestamp: exitedAt } = exit;
    try {
      await this.config.events.publish(ctx, '/tasks/exit', packAny(TaskExit, { containerId: id, id, pid, exitStatus, exitedAt }));
      if (deleted) await this.config.events.publish(ctx, '/tasks/delete', packAny(TaskDelete, { containerId: id, pid, exitStatus, exitedAt, id: '' }));
    } catch (err) {
      this.config.log.warn({ id, error: String(err) }, 'failed to publish task exit');
    }
  }

  /** Deletes a task: the shim's Delete, its shutdown, the connection closed, the bundle removed. */
  async delete(ctx: RequestContext, id: string): Promise<Exit> {
    const ns = namespaceRequired(ctx);
    const entry = this.tasks.get(ns, id);
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
      this.tasks.remove(ns, id, entry);
      // Should the daemon die before the bundle is gone, the restart cleans up after the
      // shim without telling an exit and delete that clients were told of already.
      await writeFile(join(entry.task.bundle.path, DELETED_FILE), '', { mode: 0o600 }).catch(() => {});
      this.crash('delete:shim-deleted');
    }
    try {
      await entry.task.shutdown(this.config.timeouts.shimShutdownMs);
    } catch (err) {
      if (!this.config.isClosedError(err)) this.config.log.error({ id, error: String(err) }, 'failed to shutdown shim task');
    }
    if (shimError === undefined) this.crash('delete:shim-shutdown');
    entry.task.close();
    await entry.task.closed;
    if (shimError !== undefined) {
      // The shim is gone: the close handler cleans up and publishes the exit.
      throw wrap('failed to delete task', shimError);
    }
    entry.log.close();
    await entry.noting;
    await entry.task.bundle.delete().catch((err: unknown) => this.config.log.error({ id, error: String(err) }, 'failed to delete bundle'));
    return exit!;
  }

  /**
   * Reconnects the shims of an earlier daemon: every bundle under the state dir, all in
   * parallel. A live shim's task is kept; a live shim without a task (the daemon died
   * between `shim start` and Create, or between Delete and Shutdown) is shut down; a dead
   * one gets `shim delete` and its bundle is removed. Bundles the daemon was removing
   * (hidden names) and work dirs without a task are removed. Exits found in the shims'
   * state (tasks that ended while the daemon was down) and those of dead shims are
   * published RECOVERED_EXIT_DELAY_MS later, once clients can listen.
   */
  async load(): Promise<void> {
    const started = performance.now();
    this.watchExits();
    const namespaces = await readdir(this.config.state, { withFileTypes: true }).catch(() => []);
    await Promise.all(
      namespaces
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map(async (d) => {
          const ns = d.name;
          const bundles = await readdir(join(this.config.state, ns), { withFileTypes: true }).catch(() => []);
          await Promise.all(
            bundles.map((b) => {
              if (b.name.startsWith('.')) return this.removeHalfDeleted(join(this.config.state, ns, b.name));
              return b.isDirectory() ? this.loadShim(ns, b.name) : Promise.resolve();
            }),
          );
          await this.cleanupWorkDirs(ns);
        }),
    );
    this.scheduleRecoveredExits();
    const tasks = this.tasks.size;
    this.config.log.info({ tasks, d: `${(performance.now() - started).toFixed(3)}ms` }, 'tasks loaded');
  }

  /** A bundle the daemon had started to remove (renamed to `.<id>`): its mounts and files go. */
  private async removeHalfDeleted(path: string): Promise<void> {
    await unmountAll(join(path, 'rootfs')).catch(() => {});
    await rm(path, { recursive: true, force: true }).catch((err: unknown) =>
      this.config.log.warn({ path, error: String(err) }, 'failed to remove half-deleted bundle'),
    );
  }

  /**
   * The shim binary of a bundle's task, for `shim delete`: as recorded at create, else the
   * container's runtime; undefined (logged) when neither can be had.
   */
  private async commandOfBundle(bundle: Bundle): Promise<ShimCommandConfig | undefined> {
    const { namespace: ns, id } = bundle;
    let runtime = await readFile(join(bundle.path, 'shim-binary-path'), 'utf8').catch(() => '');
    if (runtime === '') {
      try {
        runtime = (await this.config.containers.get({ namespace: ns }, id)).runtime.name;
      } catch (err) {
        this.config.log.error({ namespace: ns, id, error: String(err) }, 'loading container');
        return undefined;
      }
    }
    try {
      return this.commandFor(this.config.resolver.resolve(runtime));
    } catch (err) {
      this.config.log.error({ namespace: ns, id, error: String(err) }, 'failed to resolve runtime path');
      return undefined;
    }
  }

  /**
   * One bundle at load. The common case — a live shim with its task — costs one file read,
   * the log fifo, a connection and one State call; the shim binary is looked up only when
   * a shim has to be cleaned up after.
   */
  private async loadShim(ns: string, id: string): Promise<void> {
    const bundle = loadBundle(this.config.state, ns, id);
    const address = await readFile(join(bundle.path, 'address'), 'utf8').catch(() => undefined);
    if (address === undefined) {
      // `shim start` never wrote its address (it writes it before the shim runs): no shim,
      // no task anyone was told of.
      this.config.log.info({ namespace: ns, id }, 'bundle without a shim: removing');
      await bundle.delete().catch((err: unknown) => this.config.log.warn({ namespace: ns, id, error: String(err) }, 'failed to delete bundle'));
      return;
    }
    let shimLog: FifoReader | undefined;
    let task: ShimTask | undefined;
    let state: ProcessState | undefined;
    try {
      shimLog = await FifoReader.open(bundle.logPath, this.config.shimLogSink);
      const conn = await withTimeout(this.config.dial(address), this.config.timeouts.shimLoadMs, 'connect');
      task = this.shimTask(bundle, conn);
      // State alone proves the shim alive and tells the task's pid and status (one round
      // trip per shim instead of containerd's Connect, then State on first use).
      try {
        state = await task.state('', { timeoutMs: this.config.timeouts.shimLoadMs });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    } catch (err) {
      this.config.log.info({ namespace: ns, id, error: String(err) }, 'shim is gone: cleaning up');
      task?.close();
      const deleted = await access(join(bundle.path, DELETED_FILE)).then(
        () => true,
        () => false,
      );
      await this.cleanupAfterDeadShim(ns, bundle, await this.commandOfBundle(bundle), shimLog, deleted ? false : 'recovered');
      return;
    }
    if (state === undefined) {
      this.config.log.info({ namespace: ns, id }, 'shim without a task: shutting it down');
      await this.discardTasklessShim(bundle, await this.commandOfBundle(bundle), task, shimLog);
      return;
    }
    const command = () => this.commandOfBundle(bundle);
    task.initPid = state.pid;
    const entry: Entry = { task, command, log: shimLog, removed: false };
    if (state.status === STATUS_STOPPED) {
      const delivered = await readFile(join(bundle.path, EXIT_DELIVERED_FILE), 'utf8').catch(() => '');
      if (delivered === String(state.pid)) entry.exitDelivered = state.pid;
      else this.recovered.push({ namespace: ns, id, exit: { pid: state.pid, status: state.exitStatus, timestamp: state.exitedAt }, entry });
    }
    this.tasks.add(ns, entry);
    this.watch(ns, entry);
  }

  /** A shim that serves no task: told to go, runc's state and mounts cleaned, the bundle removed. */
  private async discardTasklessShim(bundle: Bundle, command: ShimCommandConfig | undefined, task: ShimTask, log: FifoReader): Promise<void> {
    const { shimCleanupMs, shimShutdownMs } = this.config.timeouts;
    await withTimeout(task.shutdown(shimShutdownMs), shimCleanupMs, 'shutdown').catch(() => {});
    await withTimeout(task.closed, shimCleanupMs, 'shim exit').catch(() => {});
    task.close();
    if (command) {
      await deleteShim(command, bundle, shimCleanupMs).catch(() => {
        // no runc state (the task was never created, or deleted already)
      });
    }
    log.close();
    await bundle.delete().catch((err: unknown) => this.config.log.warn({ id: bundle.id, error: String(err) }, 'failed to delete bundle'));
  }

  /**
   * Notes every init exit published on the exchange (forwarded by a shim, or by recovery)
   * in its task's bundle, so that a restart tells only the exits nobody was told of.
   */
  private watchExits(): void {
    const signal = this.recoveryAbort.signal;
    void (async () => {
      try {
        for await (const e of this.config.events.subscribe(['topic=="/tasks/exit"'], signal)) {
          if (e.event.typeUrl !== typeUrlOf(TaskExit)) continue;
          const exit = unpackAs(e.event, TaskExit);
          const entry = exit.id === exit.containerId ? this.tasks.get(e.namespace, exit.containerId) : undefined;
          if (!entry || entry.removed) continue;
          entry.exitDelivered = exit.pid;
          // Whoever removes the bundle waits for this write (a file appearing in a directory
          // being removed would make the removal fail).
          entry.noting = writeFile(join(entry.task.bundle.path, EXIT_DELIVERED_FILE), String(exit.pid), { mode: 0o600 }).catch(() => {});
        }
      } catch (err) {
        this.config.log.warn({ error: String(err) }, 'watching task exits');
      }
    })();
  }

  /**
   * Publishes the exits found at load (see RECOVERED_EXIT_DELAY_MS), unless the shim's
   * own publish retry delivered the same exit meanwhile (containerd 1.6 relies on that
   * retry alone).
   */
  private scheduleRecoveredExits(): void {
    const loadedAt = Date.now();
    for (const r of this.recovered.splice(0)) {
      // A dead shim retries nothing; a live one may still be retrying its own publish.
      const retryEnds = !r.entry || !r.exit.timestamp ? 0 : toMillis(r.exit.timestamp) + SHIM_PUBLISH_RETRY_MS;
      const delay = Math.max(RECOVERED_EXIT_DELAY_MS, retryEnds - loadedAt);
      const timer = setTimeout(() => {
        this.recoveryTimers.delete(timer);
        // Told already, deleted, or its shim died since (that cleanup told the exit).
        if (r.entry && (r.entry.exitDelivered === r.exit.pid || r.entry.removed || this.tasks.get(r.namespace, r.id) !== r.entry)) return;
        this.config.log.info({ namespace: r.namespace, id: r.id, status: r.exit.status }, 'publishing an exit that happened while the daemon was down');
        void this.publishExit(r.namespace, r.id, r.exit, !r.entry);
      }, delay);
      this.recoveryTimers.add(timer);
    }
  }

  private async cleanupWorkDirs(ns: string): Promise<void> {
    const dirs = await readdir(join(this.config.root, ns)).catch(() => []);
    for (const d of dirs) {
      if (this.tasks.get(ns, d)) continue;
      await rm(join(this.config.root, ns, d), { recursive: true, force: true }).catch(() => {});
    }
  }

  /** Closes every shim connection (the shims and their tasks keep running, as with containerd). */
  async close(): Promise<void> {
    this.closing = true;
    for (const t of this.recoveryTimers) clearTimeout(t);
    this.recoveryTimers.clear();
    this.recoveryAbort.abort();
    for (const e of this.tasks.list()) {
      e.task.close();
      e.log.close();
    }
    this.tasks.clear();
  }
}
