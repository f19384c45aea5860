// When to collect garbage, as containerd's gc scheduler decides it: after enough
// deletions or mutations, a requested collection after `schedule_delay`, an initial
// one after `startup_delay`, and no more often than the pause threshold allows. Beyond
// containerd: a timer at the earliest lease (or ingest) expiry, so an expired lease is
// collected on time without waiting for an unrelated change.

/** What the scheduler collects: the metadata database. */
export interface Collector<S extends { metaMs: number } = { metaMs: number }> {
  /** Registers the callback run after each committed change; `dirty` = references were removed. */
  registerMutationCallback(fn: (dirty: boolean) => void): (() => void) | undefined;
  garbageCollect(): Promise<S>;
  /** Earliest time something stops being held (expiring leases). */
  nextExpiry?(): Date | undefined;
}

export interface SchedulerConfig {
  /** Largest share of time spent paused in scheduled collections (clamped to 0…0.5). */
  pauseThreshold: number;
  /** Deletions that force a collection (0: deletions alone schedule one only when none is scheduled). */
  deletionThreshold: number;
  /** Mutations after which a scheduled collection is not skipped (0: never by mutations). */
  mutationThreshold: number;
  /** Delay of a requested or threshold-triggered collection, ms. */
  scheduleDelayMs: number;
  /** Delay of the first collection after start, ms (0: none until triggered). */
  startupDelayMs: number;
}

export interface SchedulerOptions {
  log?: { debug(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

interface Waiter<S> {
  resolve(stats: S): void;
  reject(err: Error): void;
}

// setTimeout's limit; longer expiry delays are re-armed when the timer fires.
const maxTimerMs = 2 ** 31 - 1;

export class GCScheduler<S extends { metaMs: number } = { metaMs: number }> {
  readonly pauseThreshold: number;
  readonly deletionThreshold: number;
  readonly mutationThreshold: number;
  readonly scheduleDelayMs: number;
  readonly startupDelayMs: number;

  private timer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryAt: number | undefined;
  private nextCollection: number | undefined;
  private lastCollection: number | undefined;
  private intervalMs = 1000;
  private gcTimeMs = 0;
  private collections = 0;
  private triggered = false;
  private deletions = 0;
  private mutations = 0;
  private waiters: Array<Waiter<S>> = [];
  /** Waiters that arrived during a collection: they need the next one. */
  private lateWaiters: Array<Waiter<S>> = [];
  private running: Promise<void> | undefined;
  private stopped = false;
  private started = false;
  private readonly unregister: (() => void) | undefined;

  constructor(
    private readonly collector: Collector<S>,
    config: SchedulerConfig,
    private readonly options: SchedulerOptions = {},
  ) {
    this.pauseThreshold = Math.min(Math.max(config.pauseThreshold, 0), 0.5);
    this.deletionThreshold = config.deletionThreshold;
    this.mutationThreshold = Math.max(config.mutationThreshold, 0);
    this.scheduleDelayMs = Math.max(config.scheduleDelayMs, 0);
    this.startupDelayMs = Math.max(config.startupDelayMs, 0);
    this.unregister = collector.registerMutationCallback((dirty) => this.onEvent(true, dirty)) ?? undefined;
  }

  /** Starts the schedule (the startup collection and the expiry timer). */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    if (this.startupDelayMs > 0) this.schedule(this.startupDelayMs);
    this.armExpiry();
  }

  /** Requests a collection and waits for its result (a `sync` delete). Rejects if it fails. */
  scheduleAndWait(signal?: AbortSignal): Promise<S> {
    if (this.stopped) return Promise.reject(new Error('gc scheduler stopped'));
    return new Promise<S>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.lateWaiters = this.lateWaiters.filter((w) => w !== waiter);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('context canceled'));
      };
      const waiter: Waiter<S> = {
        resolve: (stats) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(stats);
        },
        reject: (err) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.running) {
        // This collection may have marked before the caller's change: wait for the next.
        this.lateWaiters.push(waiter);
      } else {
        this.waiters.push(waiter);
        this.onEvent(false, false);
      }
    });
  }

  /** Stops scheduling; waits for a running collection; pending waiters are rejected. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unregister?.();
    if (this.timer) clearTimeout(this.timer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.timer = this.expiryTimer = undefined;
    await this.running;
    const err = new Error('gc scheduler stopped');
    for (const w of [...this.waiters, ...this.lateWaiters]) w.reject(err);
    this.waiters = [];
    this.lateWaiters = [];
  }

  /** Collections run so far and their average pause (for introspection and tests). */
  get statistics(): { collections: number; averagePauseMs: number; intervalMs: number } {
    return {
      collections: this.collections,
      averagePauseMs: this.collections ? this.gcTimeMs / this.collections : 0,
      intervalMs: this.intervalMs,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.nextCollection = Date.now() + delayMs;
    this.timer = setTimeout(() => this.onTimer(), delayMs);
    this.timer.unref();
  }

  private onEvent(mutation: boolean, dirty: boolean): void {
    if (this.stopped) return;
    if (mutation) this.armExpiry();
    // As in containerd, changes made while a collection runs are not counted.
    if (this.running) return;
    if (dirty) this.deletions++;
    if (mutation) this.mutations++;
    else this.triggered = true;
    const thresholdReached =
      this.triggered ||
      (this.deletionThreshold > 0 && this.deletions >= this.deletionThreshold) ||
      (this.nextCollection === undefined &&
        ((this.deletionThreshold === 0 && this.deletions > 0) ||
          (this.mutationThreshold > 0 && this.mutations >= this.mutationThreshold)));
    if (!thresholdReached) return;
    // Keep an earlier collection already scheduled within the delay.
    if (this.nextCollection === undefined || this.nextCollection > Date.now() + this.scheduleDelayMs) {
      this.schedule(this.scheduleDelayMs);
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.stopped || this.running) return;
    const notNeeded =
      !this.triggered &&
      this.lastCollection !== undefined &&
      this.deletions === 0 &&
      (this.mutationThreshold === 0 || this.mutations < this.mutationThreshold);
    if (notNeeded) {
      this.schedule(this.intervalMs);
      return;
    }
    this.running = this.collect().finally(() => {
      this.running = undefined;
      const late = this.lateWaiters;
      this.lateWaiters = [];
      if (late.length > 0 && !this.stopped) {
        this.waiters.push(...late);
        this.onEvent(false, false);
      }
    });
  }

  private async collect(): Promise<void> {
    const waiters = this.waiters;
    this.waiters = [];
    try {
      const stats = await this.collector.garbageCollect();
      const last = Date.now();
      this.options.log?.debug({ d: `${stats.metaMs.toFixed(3)}ms` }, 'garbage collected');
      this.gcTimeMs += stats.metaMs;
      this.collections++;
      this.triggered = false;
      this.deletions = 0;
      this.mutations = 0;
      if (this.pauseThreshold > 0) {
        // Space collections so their average pause is at most pauseThreshold of the time.
        const avg = this.gcTimeMs / this.collections;
        this.intervalMs = avg / this.pauseThreshold - avg;
      }
      this.lastCollection = last;
      this.schedule(this.intervalMs);
      this.armExpiry();
      for (const w of waiters) w.resolve(stats);
    } catch (err) {
      const last = Date.now();
      this.options.log?.error({ error: (err as Error).message }, 'garbage collection failed');
      // Retry after the same span plus a second.
      const span = this.nextCollection !== undefined && this.lastCollection !== undefined ? this.nextCollection - this.lastCollection : 0;
      this.schedule(Math.max(span, 0) + 1000);
      this.lastCollection = last;
      const failure = new Error('gc failed', { cause: err });
      for (const w of waiters) w.reject(failure);
    }
  }

  /** Arms (or moves) the timer at the collector's earliest expiry. */
  private armExpiry(): void {
    if (this.stopped || !this.started) return;
    const next = this.collector.nextExpiry?.();
    const at = next?.getTime();
    if (at === undefined || Number.isNaN(at)) {
      if (this.expiryTimer) clearTimeout(this.expiryTimer);
      this.expiryTimer = undefined;
      this.expiryAt = undefined;
      return;
    }
    if (this.expiryTimer && this.expiryAt === at) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryAt = at;
    // An expiry is inclusive (a lease expiring at T still holds at T): fire just after it.
    const delay = Math.min(Math.max(at - Date.now() + 1, 0), maxTimerMs);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryAt = undefined;
      if (Date.now() > at) this.onEvent(false, false);
      else this.armExpiry();
    }, delay);
    this.expiryTimer.unref();
  }
}
