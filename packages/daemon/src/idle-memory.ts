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
  /**
   * A last, cheaper step once the daemon has stayed quiet `afterMs` longer after a release
   * (`settleMemory`: a GC that V8, seeing no allocation since the last one, ends by shrinking
   * the young generation). Skipped when calls come in meanwhile.
   */
  settle?: { afterMs: number; run: () => void };
}

export class IdleMemory {
  readonly #quietMs: number;
  readonly #release: () => void;
  readonly #settle: IdleMemoryOptions['settle'];
  #timer: NodeJS.Timeout | undefined;
  /** Whether the armed timer is the settle step after a release (not the release itself). */
  #settling = false;
  /** A call started or finished since the timer was armed. */
  #touched = false;
  #releases = 0;
  #settled = 0;

  constructor(options: IdleMemoryOptions) {
    this.#quietMs = options.quietMs;
    this.#release = options.release;
    this.#settle = options.settle;
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
    this.#stopTimer();
    this.#arm(quietMs);
  }

  #arm(quietMs: number): void {
    if (this.#timer === undefined) {
      this.#settling = false;
      this.#touched = false;
      this.#timer = setTimeout(this.#check, quietMs);
      this.#timer.unref();
      return;
    }
    this.#touched = true;
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** How many times memory has been released (for tests and logs). */
  get releases(): number {
    return this.#releases;
  }

  /** How many times the settle step ran. */
  get settled(): number {
    return this.#settled;
  }

  /** Whether a release is pending (activity seen, not yet quiet for long enough). */
  get pending(): boolean {
    return this.#timer !== undefined && (!this.#settling || this.#touched);
  }

  close(): void {
    this.#stopTimer();
  }

  readonly #check = (): void => {
    if (this.#touched) {
      this.#touched = false;
      if (this.#settling) {
        // calls came in after the release: no settle step, a new quiet spell instead
        this.#stopTimer();
        this.#arm(this.#quietMs);
        return;
      }
      // Still busy: look again a quiet period later.
      this.#timer?.refresh();
      return;
    }
    this.#timer = undefined;
    if (this.#settling) {
      this.#settling = false;
      this.#settled++;
      this.#settle?.run();
      return;
    }
    this.#releases++;
    this.#release();
    if (this.#settle !== undefined) {
      this.#settling = true;
      this.#timer = setTimeout(this.#check, this.#settle.afterMs);
      this.#timer.unref();
    }
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

/**
 * A plain full GC and malloc_trim a few seconds after a release, the daemon still quiet. V8 shrinks the young
 * generation (2 MB → 0.3 MB here) only after a GC that finds the allocation rate of the last
 * ~5 s low; the release's GC comes 2 s after a burst, too soon. V8's own memory reducer does
 * the same ~8 s after the last full GC; this makes it happen at a known time.
 */
export function settleMemory(): void {
  (globalThis as { gc?: () => void }).gc?.();
  // what that GC freed (finalised native objects, their buffers) goes back too
  try {
    mallocTrim();
  } catch {
    // no koffi or no glibc here
  }
}
