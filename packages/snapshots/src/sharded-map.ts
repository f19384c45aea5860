// The snapshot records of one state of a MetaStore: a map from key to value split into
// SHARDS maps by a hash of the key. States are never changed once made (readers keep the
// one they began with while writers move on), so a transaction makes a new state; split
// this way it copies only the shards it changes, 1/64 of the records each, where one Map
// would be copied whole. A collection removing 1,000 snapshots copied 1,000 records per
// removal (a million entries and most of the daemon's garbage); now ~16.
const SHARDS = 64;

/** What reading a state needs: the read side of a Map. */
export interface RecordView<V> {
  readonly size: number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[string, V]>;
  [Symbol.iterator](): IterableIterator<[string, V]>;
}

const EMPTY: ReadonlyMap<string, unknown> = new Map<string, unknown>();

function shardOf(key: string): number {
  // FNV-1a over the UTF-16 code units: cheap, and spreads keys that differ in one character.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % SHARDS;
}

function* chain<T>(shards: ReadonlyArray<ReadonlyMap<string, unknown>>, pick: (m: ReadonlyMap<string, unknown>) => IterableIterator<T>): IterableIterator<T> {
  for (const m of shards) if (m.size > 0) yield* pick(m);
}

abstract class ShardedView<V> implements RecordView<V> {
  protected abstract shards: ReadonlyArray<ReadonlyMap<string, V>>;
  abstract readonly size: number;

  get(key: string): V | undefined {
    return this.shards[shardOf(key)]!.get(key);
  }

  has(key: string): boolean {
    return this.shards[shardOf(key)]!.has(key);
  }

  keys(): IterableIterator<string> {
    return chain(this.shards, (m) => m.keys());
  }

  values(): IterableIterator<V> {
    return chain(this.shards, (m) => m.values() as IterableIterator<V>);
  }

  entries(): IterableIterator<[string, V]> {
    return chain(this.shards, (m) => m.entries() as IterableIterator<[string, V]>);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }
}

/** An unchanging map; `edit()` starts a changed copy that shares what it does not change. */
export class ShardedMap<V> extends ShardedView<V> {
  protected readonly shards: ReadonlyArray<ReadonlyMap<string, V>>;
  readonly size: number;

  private constructor(shards: ReadonlyArray<ReadonlyMap<string, V>>, size: number) {
    super();
    this.shards = shards;
    this.size = size;
  }

  static empty<V>(): ShardedMap<V> {
    return new ShardedMap<V>(new Array<ReadonlyMap<string, V>>(SHARDS).fill(EMPTY as ReadonlyMap<string, V>), 0);
  }

  static from<V>(entries: Iterable<readonly [string, V]>): ShardedMap<V> {
    const editor = ShardedMap.empty<V>().edit();
    for (const [k, v] of entries) editor.set(k, v);
    return editor.done();
  }

  edit(): ShardedMapEditor<V> {
    return new ShardedMapEditor(this.shards, this.size);
  }

  /** @internal the editor's result */
  static of<V>(shards: ReadonlyArray<ReadonlyMap<string, V>>, size: number): ShardedMap<V> {
    return new ShardedMap(shards, size);
  }
}

/** A copy being changed: a shard is copied the first time it changes. */
export class ShardedMapEditor<V> extends ShardedView<V> {
  protected readonly shards: Array<ReadonlyMap<string, V>>;
  private readonly owned = new Set<number>();
  private count: number;
  private finished = false;

  constructor(shards: ReadonlyArray<ReadonlyMap<string, V>>, size: number) {
    super();
    this.shards = [...shards];
    this.count = size;
  }

  get size(): number {
    return this.count;
  }

  private own(i: number): Map<string, V> {
    if (this.finished) throw new Error('ShardedMapEditor used after done()');
    if (!this.owned.has(i)) {
      this.shards[i] = new Map(this.shards[i]);
      this.owned.add(i);
    }
    return this.shards[i] as Map<string, V>;
  }

  set(key: string, value: V): void {
    const m = this.own(shardOf(key));
    if (!m.has(key)) this.count += 1;
    m.set(key, value);
  }

  delete(key: string): boolean {
    const i = shardOf(key);
    if (!this.shards[i]!.has(key)) return false;
    this.own(i).delete(key);
    this.count -= 1;
    return true;
  }

  /** The changed map; the editor cannot be changed afterwards. */
  done(): ShardedMap<V> {
    this.finished = true;
    return ShardedMap.of(this.shards, this.count);
  }
}
