// Group commit, as databases do it: read-modify-write transactions run one at a time
// under a writer mutex, and each must be durable before it answers — but a transaction
// that finishes while an earlier batch is being written and synced joins the next batch
// instead of waiting for a sync of its own, so concurrent writers share one fsync.
//
// The store supplies what a batch is and how it is written (`BatchWriter`); this module
// keeps the order and the promises:
// - a transaction that wrote resolves only once the batch holding its changes is on disk;
// - one that wrote nothing, or failed, still waits for the batches it saw (it may have
//   read their changes), so no answer reports a state a crash could undo;
// - when a batch fails, so does the next one (built on its changes), and every
//   transaction in either.
// Used by the metadata database (`metadata-level`: LevelDB batches) and the snapshotters'
// record store (`snapshots` MetaStore: journal lines).

/** A FIFO mutex: `run` executes its function alone among all `run` calls on this mutex. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => next);
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** What a store does with its batches. */
export interface BatchWriter<B> {
  /** A new, empty batch. */
  create(): B;
  /** Writes the batch and makes it durable; rejects when it could not. */
  write(batch: B): Promise<void>;
  /** After the batch is durable, before any of its transactions answers. */
  written?(batch: B): void;
  /**
   * After the batch failed, before its transactions answer with the error. `dependent` is
   * the batch that was being filled behind it: it fails too, unwritten.
   */
  failed?(err: unknown, batch: B, dependent: B | undefined): void;
}

class Pending<B> {
  readonly done: Promise<void>;
  resolve!: () => void;
  reject!: (err: unknown) => void;

  constructor(readonly batch: B) {
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    // Every waiter sees a failure through its own await of `done`; none is unhandled.
    this.done.catch(() => {});
  }
}

/** Adds the changes of the transaction that calls it to the next batch. */
export type Join<B> = (fill: (batch: B) => void) => void;

export class GroupCommit<B> {
  readonly #writer = new Mutex();
  readonly #io: BatchWriter<B>;
  /** The batch being written, if any. */
  #flushing: Pending<B> | undefined;
  /** Transactions finished while a batch is being written: the next batch. */
  #next: Pending<B> | undefined;

  constructor(io: BatchWriter<B>) {
    this.#io = io;
  }

  /** Batches not yet durable, oldest first: what a transaction reads beyond the store's own state. */
  pending(): B[] {
    const out: B[] = [];
    if (this.#flushing) out.push(this.#flushing.batch);
    if (this.#next) out.push(this.#next.batch);
    return out;
  }

  /**
   * Runs `fn` alone among writers. A transaction that changed something calls `join` with
   * a function that adds its changes to the batch it is given, as its last step (an error
   * after it would not take the changes back). Resolves with `fn`'s result once the batch
   * is durable; rejects with `fn`'s error or the batch's.
   */
  async transaction<R>(fn: (join: Join<B>) => Promise<R>): Promise<R> {
    let joined: Pending<B> | undefined;
    let seen: Pending<B> | undefined;
    let result: R;
    try {
      result = await this.#writer.run(async () => {
        try {
          return await fn((fill) => {
            if (joined) throw new Error('group commit: a transaction joins a batch once');
            joined = this.#join(fill);
          });
        } finally {
          seen = joined ?? this.#next ?? this.#flushing;
        }
      });
    } catch (err) {
      await seen?.done.catch(() => {});
      throw err;
    }
    if (joined) await joined.done;
    else await seen?.done.catch(() => {});
    return result;
  }

  /**
   * Runs `fn` holding the writer mutex once every batch is durable (or failed): no
   * transaction runs and nothing is being written meanwhile (a collection between mark and
   * sweep, closing the store).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.#writer.run(async () => {
      await this.#drain();
      return fn();
    });
  }

  async #drain(): Promise<void> {
    while (this.#flushing || this.#next) await (this.#next ?? this.#flushing)!.done.catch(() => {});
  }

  #join(fill: (batch: B) => void): Pending<B> {
    this.#next ??= new Pending(this.#io.create());
    const pending = this.#next;
    fill(pending.batch);
    if (!this.#flushing) this.#flush();
    return pending;
  }

  #flush(): void {
    const pending = this.#next;
    if (!pending) return;
    this.#next = undefined;
    this.#flushing = pending;
    let writing: Promise<void>;
    try {
      writing = this.#io.write(pending.batch);
    } catch (err) {
      writing = Promise.reject(err);
    }
    writing.then(
      () => {
        this.#flushing = undefined;
        try {
          this.#io.written?.(pending.batch);
        } finally {
          pending.resolve();
          this.#flush();
        }
      },
      (err: unknown) => {
        // The next batch was built on this one's changes: it fails with it.
        const dependent = this.#next;
        this.#flushing = undefined;
        this.#next = undefined;
        try {
          this.#io.failed?.(err, pending.batch, dependent?.batch);
        } finally {
          pending.reject(err);
          dependent?.reject(err);
        }
      },
    );
  }
}
