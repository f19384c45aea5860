// LevelDB access for the metadata layer: committed reads, and read-modify-write
// transactions run one at a time under a writer mutex and committed as atomic (and
// synced) LevelDB batches, so a crash leaves either all of a change or none of it.
//
// Group commit (`@containerd-ts/group-commit`): a transaction that finishes while an
// earlier batch is being written and fsynced joins the next batch instead of waiting for
// its own fsync, so concurrent writers share one fsync. A transaction's promise resolves
// only once the batch holding its writes is on disk. Transactions see the writes of
// batches not yet on disk (they are ordered after them, and commit in a later or the same
// batch); committed reads (`get`, `entries`, `keys`) see only what is on disk.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { GroupCommit } from '@containerd-ts/group-commit';
import { compareUtf8 } from '@containerd-ts/string-order';
import { Level } from 'level';
import { prefixEnd } from './keys.js';

type Writes = Map<string, string | null>;

/**
 * Bytes a LevelDB iterator reads ahead per native call (classic-level's default is 16 KiB:
 * a list of 5,000 image records then makes ~90 trips to the thread pool, each a wait of
 * its own). Scans read up to this much per trip; it is also what one trip holds in memory.
 */
export const SCAN_READ_AHEAD_BYTES = 1 << 20;

/** Writes as the operations of one LevelDB batch (`null`: delete). */
const batchOperations = (writes: ReadonlyMap<string, string | null>) =>
  [...writes].map(([key, value]) => (value === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value }));

/** Transactions committed together in one batch. */
interface Group {
  readonly writes: Writes;
  readonly txns: Txn[];
}

/** Writes committed by earlier transactions but not yet on disk, oldest first. */
type Pending = () => readonly Group[];

/** A pending write transaction. Reads see its own writes; nothing is stored until commit. */
export class Txn {
  private readonly writes = new Map<string, string | null>();
  private readonly committedHooks: Array<() => void> = [];

  constructor(
    private readonly db: Level<string, string>,
    private readonly pending: Pending = () => [],
  ) {}

  async get(key: string): Promise<string | undefined> {
    if (this.writes.has(key)) return this.writes.get(key) ?? undefined;
    const groups = this.pending();
    for (let i = groups.length - 1; i >= 0; i--) {
      const w = groups[i]!.writes;
      if (w.has(key)) return w.get(key) ?? undefined;
    }
    // A synchronous point read (LevelDB's memtable or block cache, as bolt reads its
    // mmap) costs less than a hop through libuv's thread pool and back.
    return this.db.getSync(key);
  }

  async getJSON<T>(key: string): Promise<T | undefined> {
    const raw = await this.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  put(key: string, value: string): void {
    this.writes.set(key, value);
  }

  putJSON(key: string, value: unknown): void {
    this.writes.set(key, JSON.stringify(value));
  }

  del(key: string): void {
    this.writes.set(key, null);
  }

  /** Entries under `prefix` as this transaction sees them, in key order. */
  async entries(prefix: string): Promise<Array<[string, string]>> {
    // Taken before reading: a batch that lands on disk during the scan is applied again
    // on top, which changes nothing (no later write exists while this transaction runs).
    const groups = this.pending();
    const merged = new Map<string, string>();
    let overlaid = false;
    // One native read for the whole range (iterating costs a round trip per step and one to close).
    for (const [k, v] of await this.db.iterator({ gte: prefix, lt: prefixEnd(prefix), highWaterMarkBytes: SCAN_READ_AHEAD_BYTES }).all()) {
      merged.set(k, v);
    }
    for (const writes of [...groups.map((g) => g.writes), this.writes]) {
      for (const [k, v] of writes) {
        if (!k.startsWith(prefix)) continue;
        overlaid = true;
        if (v === null) merged.delete(k);
        else merged.set(k, v);
      }
    }
    const out = [...merged.entries()];
    return overlaid ? out.sort((a, b) => compareUtf8(a[0], b[0])) : out;
  }

  /** The value of `key` as this transaction sees it among writes not yet on disk (`undefined`: not written). */
  private overlay(key: string): string | null | undefined {
    if (this.writes.has(key)) return this.writes.get(key);
    const groups = this.pending();
    for (let i = groups.length - 1; i >= 0; i--) {
      const w = groups[i]!.writes;
      if (w.has(key)) return w.get(key);
    }
    return undefined;
  }

  /** Whether any key starts with `prefix`. */
  async hasAny(prefix: string): Promise<boolean> {
    const groups = this.pending();
    for (const writes of [this.writes, ...groups.map((g) => g.writes)]) {
      for (const k of writes.keys()) {
        if (k.startsWith(prefix) && this.overlay(k) != null) return true;
      }
    }
    for await (const k of this.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
      if (this.overlay(k) !== null) return true;
    }
    return false;
  }

  /** Deletes every key under `prefix`. */
  async delPrefix(prefix: string): Promise<void> {
    for (const [k] of await this.entries(prefix)) this.del(k);
  }

  /** Runs `fn` once the transaction is committed (not when it fails). */
  onCommit(fn: () => void): void {
    this.committedHooks.push(fn);
  }

  get size(): number {
    return this.writes.size;
  }

  /** @internal */
  writesMap(): ReadonlyMap<string, string | null> {
    return this.writes;
  }

  /** @internal */
  operations() {
    return batchOperations(this.writes);
  }

  /** @internal */
  runHooks(): void {
    for (const fn of this.committedHooks) fn();
  }
}

export interface LevelStoreOptions {
  /** fsync every commit (default true), as bolt does; tests of crash safety rely on it. */
  sync?: boolean;
  /**
   * Called with the keys of each batch once it is written (and fsynced when `sync`),
   * before any transaction of the batch resolves (tests observe the order through it).
   */
  onSync?: (keys: readonly string[]) => void;
}

/** The LevelDB database of the metadata layer. */
export class LevelStore {
  private readonly group: GroupCommit<Group>;
  private readonly pendingGroups: Pending = () => this.group.pending();

  private constructor(
    readonly db: Level<string, string>,
    private readonly sync: boolean,
    private readonly onSync: ((keys: readonly string[]) => void) | undefined,
  ) {
    this.group = new GroupCommit<Group>({
      create: () => ({ writes: new Map(), txns: [] }),
      write: (group) => this.db.batch(batchOperations(group.writes), { sync: this.sync }),
      written: (group) => {
        try {
          this.onSync?.([...group.writes.keys()]);
        } finally {
          for (const tx of group.txns) {
            try {
              tx.runHooks();
            } catch {
              // A hook's failure must not hold back the other transactions of the batch.
            }
          }
        }
      },
    });
  }

  static async open(location: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    // The plugin's root is not created for it (containerd makes it 0711).
    await mkdir(dirname(location), { recursive: true, mode: 0o711 });
    const db = new Level<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open({ createIfMissing: true });
    return new LevelStore(db, options.sync ?? true, options.onSync);
  }

  /** The committed value of `key` (a synchronous point read: see Txn.get). */
  async get(key: string): Promise<string | undefined> {
    return this.db.getSync(key);
  }

  async getJSON<T>(key: string): Promise<T | undefined> {
    const raw = this.db.getSync(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  /** Committed entries under `prefix`, in key order, from one consistent snapshot. */
  async *entries(prefix: string): AsyncIterable<[string, string]> {
    for await (const batch of this.batches(prefix)) yield* batch;
  }

  /**
   * Committed entries under `prefix` in key order, from one consistent snapshot, a batch
   * at a time: one native read per `size` entries rather than a round trip per entry.
   */
  async *batches(prefix: string, size = 1000): AsyncIterable<Array<[string, string]>> {
    const it = this.db.iterator({ gte: prefix, lt: prefixEnd(prefix), highWaterMarkBytes: SCAN_READ_AHEAD_BYTES });
    try {
      for (;;) {
        const batch = await it.nextv(size);
        if (batch.length === 0) return;
        yield batch;
      }
    } finally {
      await it.close();
    }
  }

  /** Committed keys under `prefix`, in key order. */
  keys(prefix: string): AsyncIterable<string> {
    return this.db.keys({ gte: prefix, lt: prefixEnd(prefix), highWaterMarkBytes: SCAN_READ_AHEAD_BYTES });
  }

  /**
   * Runs a read-modify-write transaction alone among writers and commits its writes
   * with the next batch; resolves once that batch is on disk. When `fn` throws,
   * nothing is written.
   */
  async write<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    let tx!: Txn;
    const result = await this.group.transaction(async (join) => {
      tx = new Txn(this.db, this.pendingGroups);
      const r = await fn(tx);
      if (tx.size > 0) {
        join((group) => {
          for (const [k, v] of tx.writesMap()) group.writes.set(k, v);
          group.txns.push(tx);
        });
      }
      return r;
    });
    // The hooks of a transaction that wrote ran when its batch was written.
    if (tx.size === 0) tx.runHooks();
    return result;
  }

  /**
   * Holds the writer mutex for `fn`, once every committed transaction is on disk (the
   * GC uses this between mark and sweep).
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.group.exclusive(fn);
  }

  /** Commits a transaction built while holding the writer mutex through `exclusive`. */
  async commit(tx: Txn): Promise<void> {
    if (tx.size > 0) {
      await this.db.batch(tx.operations(), { sync: this.sync });
      this.onSync?.([...tx.writesMap().keys()]);
    }
    tx.runHooks();
  }

  /** A transaction to fill inside `exclusive` and pass to `commit`. */
  newTxn(): Txn {
    return new Txn(this.db);
  }

  async close(): Promise<void> {
    await this.group.exclusive(() => this.db.close());
  }
}
