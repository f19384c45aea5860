// Long file-tree walks run as synchronous system calls (a few microseconds each, where an
// awaited call costs tens), handing the event loop back every few milliseconds so the
// daemon keeps answering while a tree is copied or measured.
import { setImmediate as nextTick } from 'node:timers/promises';

/** Call `pause()` between steps of a long synchronous job; it yields once `sliceMs` has passed. */
export class EventLoopSlicer {
  private last = performance.now();
  private readonly sliceMs: number;

  constructor(sliceMs = 5) {
    this.sliceMs = sliceMs;
  }

  async pause(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
    await nextTick();
    this.last = performance.now();
  }
}
