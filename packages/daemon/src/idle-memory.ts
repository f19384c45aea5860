// Gives memory back once the daemon goes quiet. During a burst of pulls and ingests the JS
// heap, Node's buffers and the C allocator's arenas grow; none of them shrinks by itself
// when the work stops: V8 collects only when it allocates (so dead buffers outlive the burst)
// and glibc keeps what is freed. Once no call has started or finished for `quietMs`, one full
// collection (when node runs with --expose-gc) and malloc_trim(0) hand it back — once per
// quiet spell, so an idle daemon does nothing at all.
import { mallocTrim } from '@containerd-ts/sys';

export interface IdleMemoryOptions {
  /** How long no call may start or finish before memory is released (ms). */
  quietMs: number;
  /** What releases memory (default: a full GC if exposed, then the allocator trim). */
  release: () => void;
}

export class IdleMemory {
  readonly #quietMs: number;
  readonly #release: () => void;
  #timer: NodeJS.Timeout | undefined;
  /** A call started or finished since the timer was armed. */
  #touched = false;
  #releases = 0;

  constructor(options: IdleMemoryOptions) {
    this.#quietMs = options.quietMs;
    this.#release = options.release;
  }

  /** Marks activity (a call started, moved a message or finished). O(1), no allocation. */
  touch(): void {
    this.#arm(this.#quietMs);
  }

  /**
   * Marks the end of start-up: what starting left behind (config parsing, plugin set-up) is
   * released once the daemon has been quiet for `quietMs` — usually shorter than after calls,
   * so a daemon that has just started idles small. Calls meanwhile postpone it as usual.
   */
  started(quietMs: number): void {
    this.#arm(quietMs);
  }

  #arm(quietMs: number): void {
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#check, quietMs);
      this.#timer.unref();
      return;
    }
    this.#touched = true;
  }

  /** How many times memory has been released (for tests and logs). */
  get releases(): number {
    return this.#releases;
  }

  /** Whether a release is pending (activity seen, not yet quiet for long enough). */
  get pending(): boolean {
    return this.#timer !== undefined;
  }

  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  readonly #check = (): void => {
    if (this.#touched) {
      // Still busy: look again a quiet period later.
      this.#touched = false;
      this.#timer?.refresh();
      return;
    }
    this.#timer = undefined;
    this.#releases++;
    this.#release();
  };
}

/** A full collection (when node runs with --expose-gc), then the C allocator's free pages back to the kernel. */
export function releaseMemory(): void {
  (globalThis as { gc?: () => void }).gc?.();
  try {
    mallocTrim();
  } catch {
    // no koffi or no glibc here: what V8 freed is all that can be given back
  }
}
