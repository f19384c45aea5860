// Gives memory back once the daemon goes quiet. During a burst of pulls and ingests the JS
// heap, Node's buffers and the C allocator's arenas grow; none of them shrinks by itself
// when the work stops: V8 collects only when it allocates (so dead buffers outlive the burst)
// and glibc keeps what is freed. Once no call has started or finished for `quietMs`, one full
// collection (`fullGC`) and malloc_trim(0) hand it back — once per
// quiet spell, so an idle daemon does nothing at all.
//
// The collection compacts: V8's ordinary full GC frees objects but leaves the pages they
// were spread over committed, so after a burst old space stays ~4 MB larger than what
// lives in it. With compaction the survivors are moved together and the emptied pages go
// back (idle after start-up: 61.9 → 60.0 MB; 10 s after 30 pull/remove cycles: 76–79 →
// 73–75 MB). The young generation (2 MB) is left to V8's memory reducer, which shrinks it
// ~8 s after the last full GC once the allocation rate is low: a forced GC right after a
// burst does not (V8 still sees the burst's rate), and V8 offers no other way from JS.
//
// The release that ends the start-up's quiet spell also drops the bytecode of every function
// that has not run since: what only starting needed (config parsing, schema building,
// plugin set-up) is then gone instead of kept until V8 ages it out (five full GCs later,
// i.e. never in an idle daemon). ~1.1 MB of an idle daemon's RSS 2 s after start here. Only
// when that release comes soon after the start (`afterStartWithinMs`): a daemon that went
// straight to work keeps the code its calls ran, optimised, for the calls to come.
import { mallocTrim } from '@containerd-ts/sys';

export interface IdleMemoryOptions {
  /** How long no call may start or finish before memory is released (ms). */
  quietMs: number;
  /**
   * What releases memory; `afterStart` for the release that ends the start-up's quiet spell
   * when it comes within `afterStartWithinMs` of `started`.
   */
  release: (afterStart: boolean) => void;
  /** How soon after `started` its release must come to count as the start-up's (default 2,000 ms). */
  afterStartWithinMs?: number;
  /** Whether calls are still in progress (a long stream is not a quiet spell, though nothing starts or ends). */
  busy?: () => boolean;
  /**
   * A last, cheaper step once the daemon has stayed quiet `afterMs` longer after a release
   * (`settleMemory`: a GC that V8, seeing no allocation since the last one, ends by shrinking
   * the young generation). Skipped when calls come in meanwhile.
   */
  settle?: { afterMs: number; run: () => void };
}

export class IdleMemory {
  readonly #quietMs: number;
  readonly #release: (afterStart: boolean) => void;
  readonly #settle: IdleMemoryOptions['settle'];
  readonly #busy: (() => boolean) | undefined;
  readonly #afterStartWithinMs: number;
  #timer: NodeJS.Timeout | undefined;
  /** Whether the armed timer is the settle step after a release (not the release itself). */
  #settling = false;
  /** A call started or finished since the timer was armed. */
  #touched = false;
  #releases = 0;
  #settled = 0;
  /** When `started` was called, until its release (performance.now()). */
  #startedAt: number | undefined;

  constructor(options: IdleMemoryOptions) {
    this.#quietMs = options.quietMs;
    this.#release = options.release;
    this.#settle = options.settle;
    this.#busy = options.busy;
    this.#afterStartWithinMs = options.afterStartWithinMs ?? 2000;
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
    this.#startedAt = performance.now();
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
    if (this.#touched || this.#busy?.() === true) {
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
    const afterStart = this.#startedAt !== undefined && performance.now() - this.#startedAt <= this.#afterStartWithinMs;
    this.#startedAt = undefined;
    this.#release(afterStart);
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
 * The V8 heap must have grown this much since the last collection for a release to collect
 * again. A full collection after calls deoptimises the code they ran: TurboFan's code holds
 * the objects of the connections it served weakly, and once those are gone it is thrown
 * away (`marking dependent code … for deoptimization, reason: weak objects`). The next burst
 * then runs unoptimised and compiles it all again: a 64 MiB `ctr content get` after a quiet
 * spell cost the daemon 1.3 s of CPU instead of 0.65 s (~350 functions optimised again).
 * A burst that left the heap about its size gains little from a collection; one that grew
 * it (thousands of records, pulls) still gets it.
 */
export const COLLECT_AFTER_GROWTH = 8 * 1024 * 1024;

export interface MemoryReleaseOptions {
  /** Heap growth since the last collection that makes a release collect (bytes). */
  minGrowth?: number;
  /** The V8 heap's size now (bytes). */
  heapSize?: () => number;
  /** A full collection (default: a compacting `fullGC`). */
  collect?: () => void;
  /** The start-up release's collection (default: `startupGC`, which also drops start-up code). */
  collectAfterStart?: () => void;
  /** Hands the C allocator's free pages back (default: malloc_trim). */
  trim?: () => void;
}

/**
 * What the idle-memory release and settle steps do: the allocator's free pages back every
 * time; a full collection only when the heap grew by `minGrowth` since the last one (the
 * first release always collects), and the settle step's collection only after a release
 * that collected.
 */
export class MemoryRelease {
  readonly #minGrowth: number;
  readonly #heapSize: () => number;
  readonly #collect: () => void;
  readonly #collectAfterStart: () => void;
  readonly #trim: () => void;
  #heapAfterCollect: number | undefined;
  #lastCollected = false;

  constructor(options: MemoryReleaseOptions = {}) {
    this.#minGrowth = options.minGrowth ?? COLLECT_AFTER_GROWTH;
    this.#heapSize = options.heapSize ?? (() => process.memoryUsage().heapTotal);
    this.#collect = options.collect ?? compactingGC;
    this.#collectAfterStart = options.collectAfterStart ?? startupGC;
    this.#trim = options.trim ?? trimAllocator;
  }

  /**
   * Releases memory; says whether it collected. `afterStart`: the release that ends the
   * start-up's quiet spell, whose collection also drops the code only starting ran.
   */
  release(afterStart = false): boolean {
    const collect = this.#heapAfterCollect === undefined || this.#heapSize() - this.#heapAfterCollect >= this.#minGrowth;
    if (collect) {
      if (afterStart) this.#collectAfterStart();
      else this.#collect();
      this.#heapAfterCollect = this.#heapSize();
    }
    this.#lastCollected = collect;
    this.#trim();
    return collect;
  }

  /**
   * A plain full GC and malloc_trim a few seconds after a release that collected, the daemon
   * still quiet. V8 shrinks the young generation (2 MB → 0.3 MB here) only after a GC that
   * finds the allocation rate of the last ~5 s low; the release's GC comes 2 s after a burst,
   * too soon. V8's own memory reducer does the same ~8 s after the last full GC; this makes it
   * happen at a known time.
   */
  settle(): void {
    if (!this.#lastCollected) return;
    fullGC()?.();
    this.#heapAfterCollect = this.#heapSize();
    this.#trim();
  }
}

/** The collector `fullGC` found: undefined until looked for, null when there is none. */
let collector: (() => void) | null | undefined;

/** Runs `fn` with V8's natives syntax allowed (as it was before, afterwards). */
function withNatives<T>(fn: () => T): T {
  if (process.execArgv.includes('--allow-natives-syntax')) return fn();
  return withV8Flag('--allow-natives-syntax', '--no-allow-natives-syntax', fn);
}

/** Runs `fn` with V8 flag `flag` set, and sets `restore` afterwards (V8 cannot tell a flag's value back). */
function withV8Flag<T>(flag: string, restore: string, fn: () => T): T {
  v8 ??= process.getBuiltinModule('node:v8');
  v8.setFlagsFromString(flag);
  try {
    return fn();
  } finally {
    v8.setFlagsFromString(restore);
  }
}

/**
 * A full collection through V8's `%CollectGarbage`. The function is compiled and called
 * with natives syntax allowed, each time: V8 drops the bytecode of a function that has not
 * run for a while, and compiling it again with the flag off would be a SyntaxError.
 */
const compileNativesGC = () => new Function('%CollectGarbage(null)') as () => void;
const nativesGC = (): void => withNatives(() => compileNativesGC()());

/**
 * A function that runs a full collection: node's `gc` when it runs with --expose-gc, else
 * one through V8's `%CollectGarbage`, or undefined when neither works (code generation from
 * strings disallowed). The daemon's launcher keeps V8 flags such as --expose-gc off node's
 * command line, where they would make V8 reject node's code cache of its own modules (see
 * @containerd-ts/daemon-bundle).
 */
export function fullGC(): (() => void) | undefined {
  if (collector === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (exposed) collector = exposed;
    else {
      try {
        // Compiles without collecting: whether natives syntax works here at all.
        withNatives(compileNativesGC);
        collector = nativesGC;
      } catch {
        collector = null;
      }
    }
  }
  return collector ?? undefined;
}

/** A full, compacting collection (none when `fullGC` has none). */
function compactingGC(): void {
  const gc = fullGC();
  if (gc === undefined) return;
  // V8 compacts on its own only when a page is mostly empty; here every full GC compacts
  // (and the flag goes back at once, so the GCs V8 starts itself are as before).
  withV8Flag('--compact-on-every-full-gc', '--no-compact-on-every-full-gc', gc);
}

/** V8's default `--bytecode-old-age`, or the one node was started with. */
function bytecodeOldAge(): string {
  const given = process.execArgv.find((a) => a.startsWith('--bytecode-old-age='));
  return given?.slice('--bytecode-old-age='.length) ?? '5';
}

/**
 * The start-up release's collection: a compacting one that also drops the bytecode of every
 * function that has not run since the last full GC. V8 drops bytecode that has gone unused
 * for `--bytecode-old-age` (5) full GCs; with the age set to 1 for a moment, a first GC ages
 * every function and the second, right after (nothing has run in between), drops them. What
 * serves requests is compiled again from the source when next called (V8 keeps it), the rest
 * never: start-up code, config schemas, plugin set-up. (V8 keeps the bytecode of functions
 * that have Sparkplug code; the daemon starts with Sparkplug off, so start-up code has none.)
 */
export function startupGC(): void {
  const gc = fullGC();
  if (gc === undefined) return;
  withV8Flag('--bytecode-old-age=1', `--bytecode-old-age=${bytecodeOldAge()}`, () => {
    gc();
    compactingGC();
  });
}

/** The C allocator's free pages back to the kernel. */
function trimAllocator(): void {
  try {
    mallocTrim();
  } catch {
    // no koffi or no glibc here: what V8 freed is all that can be given back
  }
}
