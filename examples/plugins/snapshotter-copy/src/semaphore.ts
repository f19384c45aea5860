// A counting semaphore: at most `limit` holders at once, the rest served in arrival order.
export class Semaphore {
  private readonly limit: number;
  private readonly queue: Array<() => void> = [];
  private held = 0;
  private highest = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get running(): number {
    return this.held;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** The most holders there ever were at once. */
  get peak(): number {
    return this.highest;
  }

  /** Resolves with a release function once a slot is free. */
  async acquire(): Promise<() => void> {
    if (this.held >= this.limit) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.held += 1;
    this.highest = Math.max(this.highest, this.held);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      // The slot passes straight to the next waiter, so `held` stays the same.
      if (next) next();
      else this.held -= 1;
    };
  }
}
