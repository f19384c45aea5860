// Worker threads kept a short while after their last job for the next one, then ended (an
// isolate and its buffers go with them). Shared by the decompression and the apply workers.
import type { Worker } from 'node:worker_threads';

interface Kept {
  readonly worker: Worker;
  readonly timer: NodeJS.Timeout;
}

export class IdleWorkers {
  private readonly kept: Kept[] = [];

  /** At most `max` workers are kept, each for `keepMs` after its last job. */
  constructor(
    private readonly max: number,
    private readonly keepMs: number,
  ) {}

  /** Workers kept right now. */
  get size(): number {
    return this.kept.length;
  }

  /** A kept worker, referenced again (it may keep the process alive while it works); undefined if none. */
  take(): Worker | undefined {
    const entry = this.kept.pop();
    if (!entry) return undefined;
    clearTimeout(entry.timer);
    entry.worker.ref();
    return entry.worker;
  }

  /** Keeps `worker` for the next job, or ends it (not `reusable`, or enough kept already). */
  keep(worker: Worker, reusable: boolean): void {
    if (!reusable || this.kept.length >= this.max) {
      void worker.terminate();
      return;
    }
    // An idle worker must not keep the process alive.
    worker.unref();
    const entry: Kept = {
      worker,
      timer: setTimeout(() => {
        this.forget(worker);
        void worker.terminate();
      }, this.keepMs),
    };
    entry.timer.unref();
    this.kept.push(entry);
  }

  /** Drops `worker` if it is kept (it ended on its own). */
  forget(worker: Worker): void {
    const at = this.kept.findIndex((entry) => entry.worker === worker);
    if (at >= 0) clearTimeout(this.kept.splice(at, 1)[0]!.timer);
  }

  /** Takes every kept worker out, for the caller to end. */
  drain(): Worker[] {
    return this.kept.splice(0).map((entry) => {
      clearTimeout(entry.timer);
      return entry.worker;
    });
  }
}
