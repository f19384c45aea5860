// Gives memory back once the daemon goes quiet. During a burst of pulls and ingests the JS
// heap, Node's buffers and the C allocator's arenas grow; none of them shrinks by itself
// when the work stops: V8 collects only when it allocates (so dead buffers outlive the burst)
// and glibc keeps what is freed. Once no call has started or finished for `quietMs`, one full
// collection (when node runs with --expose-gc) and malloc_trim(0) hand it back — once per
// quiet spell, so an idle daemon does nothing at all.
//
// The collection compacts: V8's ordinary full GC frees objects but leaves the pages they
// were spread over committed, so after a burst old space stays ~4 MB larger than what
// lives in it. With compaction the survivors are moved together and the emptied pages go
// back (idle after start-up: 61.9 → 60.0 MB; 10 s after 30 pull/remove cycles: 76–79 →
// 73–75 MB). The young generation (2 MB) is left to V8's memory reducer, which shrinks it
// ~8 s after the last full GC once the allocation rate is low: a forced GC right after a
// burst does not (V8 still sees the burst's rate), and V8 offers no other way from JS.
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
    // A call that came in while the daemon was still starting may have armed the usual,
    // longer period already: this spell ends after the shorter one all the same.
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#touched = false;
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

/** node:v8, loaded at the first release (not at start). */
let v8: typeof import('node:v8') | undefined;

/**
 * A full, compacting collection (when node runs with --expose-gc), then the C allocator's
 * free pages back to the kernel.
 */
export function releaseMemory(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc !== undefined) {
    v8 ??= process.getBuiltinModule('node:v8');
    // V8 compacts on its own only when a page is mostly empty; here every full GC compacts
    // (and the flag goes back at once, so the GCs V8 starts itself are as before).
    v8.setFlagsFromString('--compact-on-every-full-gc');
    try {
      gc();
    } finally {
      v8.setFlagsFromString('--no-compact-on-every-full-gc');
    }
  }
  try {
    mallocTrim();
  } catch {
    // no koffi or no glibc here: what V8 freed is all that can be given back
  }
}
