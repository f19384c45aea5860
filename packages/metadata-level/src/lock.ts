// The shared/exclusive lock that keeps backend cleanup (GC) apart from writers that touch
// the backend and then the records. (The single-writer mutex of read-modify-write
// transactions is the group commit's: `@containerd-ts/group-commit`.)

/**
 * A shared/exclusive lock, writer-preferring: once an exclusive holder waits, new
 * shared holders queue behind it so a busy stream of writers cannot starve the GC.
 */
export class SharedLock {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: Array<{ exclusive: boolean; grant: () => void }> = [];

  async withShared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try {
      return await fn();
    } finally {
      this.release(false);
    }
  }

  async withExclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try {
      return await fn();
    } finally {
      this.release(true);
    }
  }

  private canGrant(exclusive: boolean): boolean {
    if (this.exclusive) return false;
    return exclusive ? this.shared === 0 : !this.waiting.some((w) => w.exclusive);
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.canGrant(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push({ exclusive, grant: resolve });
    });
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }

  private release(exclusive: boolean): void {
    if (exclusive) this.exclusive = false;
    else this.shared--;
    // Grant waiters in order: one exclusive, or every shared waiter up to the next exclusive.
    while (this.waiting.length > 0) {
      const head = this.waiting[0]!;
      if (head.exclusive) {
        if (this.shared > 0 || this.exclusive) return;
        this.waiting.shift();
        this.take(true);
        head.grant();
        return;
      }
      if (this.exclusive) return;
      this.waiting.shift();
      this.take(false);
      head.grant();
    }
  }
}
