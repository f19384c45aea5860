// Open blob readers kept for a moment between Read calls. Clients read a blob with many
// small Read calls (`ctr content get` asks for 32 KiB at a time), and opening, stat'ing
// and closing the file for each costs more than the read itself. Blobs are immutable and
// addressed by digest, so one open reader serves every namespace; each call checks that
// the blob is visible in its namespace before using it, except that a check already made
// for that namespace holds as long as the store reports no removal since (`removals`),
// so a run of Read calls costs no metadata lookup and no open after the first.
import type { ContentStore, ReaderAt } from '@containerd-ts/content';
import type { RequestContext } from '@containerd-ts/namespaces';

interface Entry {
  reader: Promise<ReaderAt>;
  users: number;
  /** When it was last released (ms), and in which order (for least-recently-used first). */
  idleSince: number;
  idleOrder: number;
  /** Namespaces the blob was seen visible in, with the store's removal count before the check. */
  visible: Map<string, number>;
}

export interface ReaderCacheOptions {
  /** How long an unused reader stays open (ms). */
  idleMs?: number;
  /** How many unused readers stay open at most. */
  maxIdle?: number;
}

export class ReaderCache {
  readonly #store: ContentStore;
  readonly #entries = new Map<string, Entry>();
  readonly #idleMs: number;
  readonly #maxIdle: number;
  #sweeper: NodeJS.Timeout | undefined;
  #releases = 0;

  constructor(store: ContentStore, options: ReaderCacheOptions = {}) {
    this.#store = store;
    this.#idleMs = options.idleMs ?? 2000;
    this.#maxIdle = options.maxIdle ?? 16;
  }

  /**
   * A reader for `digest` as the request's namespace sees it: fails as the store's
   * readerAt does when the blob is not there. Call `release` when done.
   */
  async acquire(ctx: RequestContext, digest: string): Promise<{ reader: ReaderAt; release: () => void }> {
    // An open reader is used only after the namespace check a fresh readerAt makes, or
    // when such a check for this namespace still holds.
    const removals = this.#store.removals?.();
    const ns = ctx.namespace ?? '';
    const cached = this.#entries.get(digest);
    if (cached && (removals === undefined || cached.visible.get(ns) !== removals)) {
      await this.#store.info(ctx, digest);
      if (removals !== undefined) cached.visible.set(ns, removals);
    }
    let entry = this.#entries.get(digest);
    if (!entry) {
      const opening = this.#store.readerAt(ctx, { digest });
      const created: Entry = { reader: opening, users: 0, idleSince: 0, idleOrder: 0, visible: new Map() };
      if (removals !== undefined) created.visible.set(ns, removals);
      this.#entries.set(digest, created);
      opening.catch(() => {
        if (this.#entries.get(digest) === created) this.#entries.delete(digest);
      });
      entry = created;
    }
    const current = entry;
    current.users++;
    let reader: ReaderAt;
    try {
      reader = await current.reader;
    } catch (err) {
      current.users--;
      throw err;
    }
    let released = false;
    return {
      reader,
      release: () => {
        if (released) return;
        released = true;
        current.users--;
        if (current.users > 0) return;
        current.idleSince = Date.now();
        current.idleOrder = ++this.#releases;
        if (this.#entries.get(digest) !== current) {
          void reader.close().catch(() => undefined);
          return;
        }
        this.#evict(this.#maxIdle);
        this.#schedule();
      },
    };
  }

  /** Closes every reader (those in use close when released). */
  async close(): Promise<void> {
    if (this.#sweeper) clearTimeout(this.#sweeper);
    this.#sweeper = undefined;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(
      entries.filter((e) => e.users === 0).map((e) => e.reader.then((r) => r.close()).catch(() => undefined)),
    );
  }

  #schedule(): void {
    if (this.#sweeper) return;
    this.#sweeper = setTimeout(() => {
      this.#sweeper = undefined;
      this.#sweep();
    }, this.#idleMs);
    this.#sweeper.unref();
  }

  #sweep(): void {
    this.#evict(this.#maxIdle, Date.now() - this.#idleMs);
    if ([...this.#entries.values()].some((e) => e.users === 0)) this.#schedule();
  }

  /** Closes unused readers beyond the `keep` most recently used, and those idle since before `idleBefore`. */
  #evict(keep: number, idleBefore = Number.NEGATIVE_INFINITY): void {
    const idle = [...this.#entries].filter(([, e]) => e.users === 0).sort((a, b) => b[1].idleOrder - a[1].idleOrder);
    for (const [i, [digest, entry]] of idle.entries()) {
      if (i < keep && entry.idleSince > idleBefore) continue;
      this.#entries.delete(digest);
      void entry.reader.then((r) => r.close()).catch(() => undefined);
    }
  }
}
