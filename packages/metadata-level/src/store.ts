// LevelDB access for the metadata layer: committed reads, and read-modify-write
// transactions run one at a time under a writer mutex and committed as one atomic
// (and synced) LevelDB batch, so a crash leaves either all of a change or none of it.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Level } from 'level';
import { Mutex } from './lock.js';
import { prefixEnd } from './keys.js';

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A pending write transaction. Reads see its own writes; nothing is stored until commit. */
export class Txn {
  private readonly writes = new Map<string, string | null>();
  private readonly committedHooks: Array<() => void> = [];

  constructor(private readonly db: Level<string, string>) {}

  async get(key: string): Promise<string | undefined> {
    if (this.writes.has(key)) return this.writes.get(key) ?? undefined;
    return this.db.get(key);
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
    const merged = new Map<string, string>();
    for await (const [k, v] of this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) })) merged.set(k, v);
    for (const [k, v] of this.writes) {
      if (!k.startsWith(prefix)) continue;
      if (v === null) merged.delete(k);
      else merged.set(k, v);
    }
    return [...merged.entries()].sort((a, b) => byteOrder(a[0], b[0]));
  }

  /** Whether any key starts with `prefix`. */
  async hasAny(prefix: string): Promise<boolean> {
    for (const [k, v] of this.writes) if (k.startsWith(prefix) && v !== null) return true;
    for await (const k of this.db.keys({ gte: prefix, lt: prefixEnd(prefix) })) {
      if (this.writes.get(k) !== null) return true;
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
  operations() {
    return [...this.writes].map(([key, value]) =>
      value === null ? { type: 'del' as const, key } : { type: 'put' as const, key, value },
    );
  }

  /** @internal */
  runHooks(): void {
    for (const fn of this.committedHooks) fn();
  }
}

export interface LevelStoreOptions {
  /** fsync every commit (default true), as bolt does; tests of crash safety rely on it. */
  sync?: boolean;
}

/** The LevelDB database of the metadata layer. */
export class LevelStore {
  private readonly writer = new Mutex();

  private constructor(
    readonly db: Level<string, string>,
    private readonly sync: boolean,
  ) {}

  static async open(location: string, options: LevelStoreOptions = {}): Promise<LevelStore> {
    // The plugin's root is not created for it (containerd makes it 0711).
    await mkdir(dirname(location), { recursive: true, mode: 0o711 });
    const db = new Level<string, string>(location, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open({ createIfMissing: true });
    return new LevelStore(db, options.sync ?? true);
  }

  get(key: string): Promise<string | undefined> {
    return this.db.get(key);
  }

  async getJSON<T>(key: string): Promise<T | undefined> {
    const raw = await this.db.get(key);
    return raw === undefined ? undefined : (JSON.parse(raw) as T);
  }

  /** Committed entries under `prefix`, in key order, from one consistent snapshot. */
  entries(prefix: string): AsyncIterable<[string, string]> {
    return this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) });
  }

  /** Committed keys under `prefix`, in key order. */
  keys(prefix: string): AsyncIterable<string> {
    return this.db.keys({ gte: prefix, lt: prefixEnd(prefix) });
  }

  /**
   * Runs a read-modify-write transaction alone among writers and commits its writes as
   * one batch. When `fn` throws, nothing is written.
   */
  write<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    return this.writer.run(async () => {
      const tx = new Txn(this.db);
      const result = await fn(tx);
      await this.commit(tx);
      return result;
    });
  }

  /** Holds the writer mutex for `fn` (the GC uses this between mark and sweep). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.writer.run(fn);
  }

  /** Commits a transaction built while holding the writer mutex through `exclusive`. */
  async commit(tx: Txn): Promise<void> {
    if (tx.size > 0) await this.db.batch(tx.operations(), { sync: this.sync });
    tx.runHooks();
  }

  /** A transaction to fill inside `exclusive` and pass to `commit`. */
  newTxn(): Txn {
    return new Txn(this.db);
  }

  async close(): Promise<void> {
    await this.writer.run(() => this.db.close());
  }
}
