// OOM notifications of runtime v1 tasks on cgroup v1, as containerd 1.6's cgroups monitor
// gives them (its v1 oomCollector): an eventfd registered for each task's
// `memory.oom_control` in `cgroup.event_control`, and a `/tasks/oom` per notification. The
// v2 shim watches its own tasks and publishes their OOMs itself: they are never watched
// here, so no OOM is published twice.
//
// Node cannot wait on an eventfd, so the descriptors are non-blocking and polled (every
// 100 ms by default, and only while there are tasks to watch); the v1 shim's exit event
// comes later than that (it publishes through a process it starts).
import { closeSync, existsSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@containerd-ts/plugin';
import { closeEventfd, eventfd, readEventfd } from '@containerd-ts/sys';
import type { MonitoredTask } from './monitor.js';

export interface OOMWatcherOptions {
  /** The tasks to watch now (runtime v1's). */
  tasks(): Iterable<MonitoredTask>;
  /** A task's memory cgroup directory; undefined when it has none (not watched). */
  memoryDir(task: MonitoredTask): Promise<string | undefined>;
  /** Called once for each OOM notification of a task. */
  onOOM(task: MonitoredTask): void;
  intervalMs?: number;
  log?: Pick<Logger, 'debug' | 'warn'>;
}

interface Watch {
  readonly fd: number;
  readonly dir: string;
}

/** Registers an eventfd for OOM notifications of the memory cgroup `dir` (cgroups' OOMEventFD). */
export function registerOOMEventfd(dir: string): number {
  const efd = eventfd();
  try {
    const control = openSync(join(dir, 'memory.oom_control'), 'r');
    try {
      writeFileSync(join(dir, 'cgroup.event_control'), `${efd} ${control}`);
    } finally {
      closeSync(control);
    }
    return efd;
  } catch (err) {
    closeEventfd(efd);
    throw err;
  }
}

export class OOMWatcherV1 {
  private readonly watches = new Map<MonitoredTask, Watch>();
  /** Tasks whose registration failed (not started yet, or gone): when to try again, and the wait after that. */
  private readonly retries = new Map<MonitoredTask, { at: number; delayMs: number }>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly options: OOMWatcherOptions) {}

  /**
   * Polls every `intervalMs` until closed, while there are tasks to watch: a round that finds
   * none stops the timer, and `watch` starts it again (the timer never keeps the process alive).
   */
  start(): void {
    this.started = true;
    this.arm();
  }

  /** Whether the poll timer runs now (for tests). */
  get pollingTimer(): boolean {
    return this.timer !== undefined;
  }

  private arm(): void {
    if (!this.started || this.closed || this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.options.intervalMs ?? 100);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One round: new tasks registered, removed ones released, notifications delivered. */
  poll(): Promise<void> {
    this.polling ??= this.round().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  /**
   * Starts watching `task` now (the runtime calls this when it creates one, before the task
   * can start, so an OOM right after its start is not missed); the polls cover what this misses.
   */
  async watch(task: MonitoredTask): Promise<void> {
    if (this.closed || this.watches.has(task)) return;
    // the polls retry what this cannot register yet
    this.arm();
    const dir = await this.options.memoryDir(task);
    if (dir === undefined || this.closed || this.watches.has(task)) return;
    this.watches.set(task, { fd: registerOOMEventfd(dir), dir });
    this.retries.delete(task);
  }

  /**
   * A last look at `task`'s eventfd before its cgroup goes (the runtime calls this before
   * deleting it): an OOM that killed it just before is delivered, then the watch released.
   */
  unwatch(task: MonitoredTask): void {
    const watch = this.watches.get(task);
    if (!watch) return;
    this.check(task, watch);
    this.release(task, watch);
  }

  /** Tasks watched now (for tests and /debug/vars). */
  get watched(): number {
    return this.watches.size;
  }

  private async round(): Promise<void> {
    if (this.closed) return;
    const current = new Set(this.options.tasks());
    for (const task of this.retries.keys()) if (!current.has(task)) this.retries.delete(task);
    for (const [task, watch] of this.watches) {
      if (current.has(task)) continue;
      // gone from the runtime: what came before its removal still counts
      this.check(task, watch);
      this.release(task, watch);
    }
    const now = performance.now();
    for (const task of current) {
      if (this.watches.has(task)) continue;
      const retry = this.retries.get(task);
      if (retry && retry.at > now) continue;
      try {
        const dir = await this.options.memoryDir(task);
        if (dir === undefined) throw new Error('no memory cgroup');
        if (this.closed) return;
        this.watches.set(task, { fd: registerOOMEventfd(dir), dir });
        this.retries.delete(task);
      } catch (err) {
        // not started yet, or already gone: tried again later, less often each time (at most every 5 s)
        const delayMs = Math.min((retry?.delayMs ?? 50) * 2, 5000);
        this.retries.set(task, { at: now + delayMs, delayMs });
        this.options.log?.debug({ id: task.id, namespace: task.namespace, error: String(err) }, 'oom watch not registered');
      }
    }
    for (const [task, watch] of this.watches) this.check(task, watch);
    // nothing to watch: no wake-ups (10 a second by default) until a task is created
    if (current.size === 0 && this.watches.size === 0 && this.retries.size === 0) this.disarm();
  }

  private check(task: MonitoredTask, watch: Watch): void {
    let signalled: bigint;
    try {
      signalled = readEventfd(watch.fd);
    } catch (err) {
      this.options.log?.warn({ id: task.id, error: String(err) }, 'read oom eventfd');
      this.release(task, watch);
      return;
    }
    if (signalled === 0n) return;
    // the kernel signals the eventfd when the cgroup is removed too: that is not an OOM
    if (!existsSync(watch.dir)) {
      this.release(task, watch);
      return;
    }
    this.options.onOOM(task);
  }

  private release(task: MonitoredTask, watch: Watch): void {
    if (this.watches.get(task) !== watch) return;
    this.watches.delete(task);
    closeEventfd(watch.fd);
  }

  /** Stops polling and closes every eventfd. */
  async close(): Promise<void> {
    this.closed = true;
    this.disarm();
    await this.polling;
    for (const [task, watch] of [...this.watches]) this.release(task, watch);
  }
}
