// The snapshot records of one snapshotter (containerd's snapshots/storage): key, numeric ID,
// kind, parent, labels, times and committed usage. Kept in memory and on disk in two files:
// the records as of some point (`metadata.json`, replaced atomically: temp file, fsync,
// rename, fsync of the directory) and a journal of the changes since (`metadata.json.log`,
// one JSON line per transaction, fsynced before the transaction returns). A change costs
// one small append instead of rewriting every record, as bolt writes only the pages a
// transaction touched. When the journal has grown past the records' size they are written
// out again and the journal emptied; replaying a journal the records already include
// changes nothing, so a crash between the two loses nothing. A line a crash cut short was
// never acknowledged and is dropped.
import { type FileHandle, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound } from '@containerd-ts/errdefs';
import { parseAll } from '@containerd-ts/filters';
import { GroupCommit, type Join } from '@containerd-ts/group-commit';
import { compareUtf8 } from '@containerd-ts/string-order';
import { type Timestamp, formatRFC3339Nano, mustParseRFC3339, now } from '@containerd-ts/timestamp';
import { adaptSnapshot } from './labels.js';
import { type RecordView, ShardedMap, type ShardedMapEditor } from './sharded-map.js';
import { type Info, Kind, type SnapshotOptions, type Usage, type WalkFn } from './types.js';

/** An active or view snapshot as a snapshotter needs it to build mounts (containerd's storage.Snapshot). */
export interface StoredSnapshot {
  /** Decimal ID, unique in this store; snapshotters name directories after it. */
  id: string;
  kind: Kind;
  /** IDs of the parent chain, nearest first. */
  parentIds: string[];
}

interface SnapshotRecord {
  readonly id: number;
  readonly kind: Kind;
  readonly parent: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly created: Timestamp;
  readonly updated: Timestamp;
  /** Usage recorded for a committed snapshot; absent until measured. */
  readonly usage?: Usage;
}

/** The records at one point: never changed once made (a transaction makes a new one). */
interface State {
  readonly nextId: number;
  readonly snapshots: ShardedMap<SnapshotRecord>;
  /** How many records have each key as parent (keys with none are absent). */
  readonly children: ShardedMap<number>;
}

/** What a transaction reads: a state, or the one a write transaction is making. */
interface View {
  readonly nextId: number;
  readonly snapshots: RecordView<SnapshotRecord>;
  readonly children: RecordView<number>;
}

/** A state for `snapshots`, with the child counts computed from them. */
function stateOf(nextId: number, snapshots: ShardedMap<SnapshotRecord>): State {
  const counts = new Map<string, number>();
  for (const r of snapshots.values()) if (r.parent !== '') counts.set(r.parent, (counts.get(r.parent) ?? 0) + 1);
  return { nextId, snapshots, children: ShardedMap.from(counts) };
}

type RecordFormat = { id: number; kind: Kind; parent?: string; labels?: Record<string, string>; created: string; updated: string; usage?: Usage };

interface FileFormat {
  version: 1;
  nextId: number;
  snapshots: Record<string, RecordFormat>;
}

/** One journal line: the records a transaction wrote (`null`: removed) and the next ID after it. */
interface JournalEntry {
  nextId: number;
  set: Record<string, RecordFormat | null>;
}

/** The journal is written out into the records once it is this large and larger than they are. */
const MIN_COMPACT_BYTES = 64 * 1024;

function recordFormat(r: SnapshotRecord): RecordFormat {
  return {
    id: r.id,
    kind: r.kind,
    ...(r.parent ? { parent: r.parent } : {}),
    ...(Object.keys(r.labels).length > 0 ? { labels: { ...r.labels } } : {}),
    created: formatRFC3339Nano(r.created),
    updated: formatRFC3339Nano(r.updated),
    ...(r.usage ? { usage: r.usage } : {}),
  };
}

function readRecord(file: string, key: string, s: RecordFormat): SnapshotRecord {
  return {
    id: s.id,
    kind: s.kind,
    parent: s.parent ?? '',
    labels: s.labels ?? {},
    // RFC 3339 with nanoseconds; files from before nanoseconds have milliseconds.
    created: mustParseRFC3339(s.created, `created time of snapshot ${JSON.stringify(key)} in ${file}`),
    updated: mustParseRFC3339(s.updated, `updated time of snapshot ${JSON.stringify(key)} in ${file}`),
    ...(s.usage ? { usage: s.usage } : {}),
  };
}

const FORMAT_VERSION = 1;

/** Labels as containerd stores them: entries with an empty value are not kept. */
function storedLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!labels) return out;
  for (const [k, v] of Object.entries(labels)) if (v !== '') out[k] = v;
  return out;
}

function toInfo(name: string, r: SnapshotRecord): Info {
  return {
    kind: r.kind,
    name,
    parent: r.parent,
    labels: { ...r.labels },
    created: { ...r.created },
    updated: { ...r.updated },
  };
}

/** Read access to the records as they were when the transaction began. */
export class ReadTransaction {
  protected state: View;

  constructor(state: View) {
    this.state = state;
  }

  protected record(key: string): SnapshotRecord {
    const r = this.state.snapshots.get(key);
    if (!r) throw notFound('snapshot does not exist');
    return r;
  }

  /** ID, info and recorded usage of a snapshot; `not-found` when the key is unknown. */
  getInfo(key: string): { id: string; info: Info; usage: Usage | undefined } {
    const r = this.record(key);
    return { id: String(r.id), info: toInfo(key, r), usage: r.usage };
  }

  /** ID and info of a snapshot, or `undefined` when the key is unknown. */
  findInfo(key: string): { id: string; info: Info } | undefined {
    const r = this.state.snapshots.get(key);
    return r ? { id: String(r.id), info: toInfo(key, r) } : undefined;
  }

  /** Whether a key or name is in use. */
  has(key: string): boolean {
    return this.state.snapshots.has(key);
  }

  /** ID chain of a key's parents, nearest first. */
  protected parentIds(parent: string): string[] {
    const ids: string[] = [];
    let name = parent;
    while (name !== '') {
      const p = this.state.snapshots.get(name);
      if (!p) throw notFound('parent does not exist');
      ids.push(String(p.id));
      name = p.parent;
    }
    return ids;
  }

  /**
   * Throws what `createSnapshot` would throw for these arguments now, else returns the
   * parent chain's IDs (a snapshotter checks before expensive work done outside a write).
   */
  checkCreate(kind: Kind, key: string, parent: string): string[] {
    if (kind !== Kind.Active && kind !== Kind.View) {
      throw invalidArgument(`snapshot type ${kind} invalid; only snapshots of type Active or View can be created`);
    }
    if (key === '') throw invalidArgument('snapshot key must not be empty');
    if (parent !== '') {
      const p = this.state.snapshots.get(parent);
      if (!p) throw notFound(`missing parent ${JSON.stringify(parent)} bucket`);
      if (p.kind !== Kind.Committed) throw invalidArgument(`parent ${JSON.stringify(parent)} is not committed snapshot`);
    }
    if (this.state.snapshots.has(key)) throw alreadyExists(`snapshot ${key}`);
    return this.parentIds(parent);
  }

  /** An active or view snapshot with its parent chain; a committed one is `failed-precondition`. */
  getSnapshot(key: string): StoredSnapshot {
    const r = this.record(key);
    if (r.kind !== Kind.Active && r.kind !== Kind.View) {
      throw failedPrecondition(`requested snapshot ${key} not active or view`);
    }
    return { id: String(r.id), kind: r.kind, parentIds: this.parentIds(r.parent) };
  }

  /** Calls `fn` for each snapshot matching `filters`, in key order. Bad filters are `invalid-argument`. */
  async walk(fn: WalkFn, filters: readonly string[] = []): Promise<void> {
    const filter = parseAll(filters);
    const keys = [...this.state.snapshots.keys()].sort(compareUtf8);
    for (const key of keys) {
      const r = this.state.snapshots.get(key);
      if (!r) continue;
      const info = toInfo(key, r);
      if (!filter.match(adaptSnapshot(info))) continue;
      await fn(info);
    }
  }

  /** Every ID in use, mapped to its key (to find directories no snapshot owns). */
  idMap(): Map<string, string> {
    const ids = new Map<string, string>();
    for (const [key, r] of this.state.snapshots) ids.set(String(r.id), key);
    return ids;
  }
}

/** Changes to the records; they become visible and durable together when the transaction commits. */
export class WriteTransaction extends ReadTransaction {
  /** The state the transaction began on. */
  private readonly base: State;
  /** The records and child counts as changed so far: copies of the base made at the first change. */
  private own: { snapshots: ShardedMapEditor<SnapshotRecord>; children: ShardedMapEditor<number> } | undefined;
  private nextId: number;
  /** Whether anything changed (an untouched transaction writes nothing). */
  dirty = false;
  /** Keys this transaction wrote or removed. */
  readonly changed = new Set<string>();

  constructor(state: State) {
    super(state);
    this.base = state;
    this.nextId = state.nextId;
  }

  private writable(): { snapshots: ShardedMapEditor<SnapshotRecord>; children: ShardedMapEditor<number> } {
    if (!this.own) {
      this.own = { snapshots: this.base.snapshots.edit(), children: this.base.children.edit() };
      this.state = { nextId: this.nextId, ...this.own };
    }
    return this.own;
  }

  /** The state this transaction leads to. */
  result(): State {
    if (!this.own) return { ...this.base, nextId: this.nextId };
    return { nextId: this.nextId, snapshots: this.own.snapshots.done(), children: this.own.children.done() };
  }

  private countChild(parent: string, by: number): void {
    if (parent === '') return;
    const { children } = this.writable();
    const n = (children.get(parent) ?? 0) + by;
    if (n > 0) children.set(parent, n);
    else children.delete(parent);
  }

  private put(key: string, r: SnapshotRecord): void {
    const { snapshots } = this.writable();
    const old = snapshots.get(key);
    if (old?.parent !== r.parent) {
      if (old) this.countChild(old.parent, -1);
      this.countChild(r.parent, 1);
    }
    snapshots.set(key, r);
    this.changed.add(key);
    this.dirty = true;
  }

  private drop(key: string): void {
    const { snapshots } = this.writable();
    const old = snapshots.get(key);
    if (old) this.countChild(old.parent, -1);
    snapshots.delete(key);
    this.changed.add(key);
    this.dirty = true;
  }

  /**
   * Records a new active or view snapshot on `parent` ('' for none) with the labels of
   * `options`, and returns its ID and parent chain.
   */
  createSnapshot(kind: Kind, key: string, parent: string, options: SnapshotOptions = {}): StoredSnapshot {
    this.checkCreate(kind, key, parent);
    const id = this.nextId;
    this.nextId += 1;
    const t = now();
    this.put(key, { id, kind, parent, labels: storedLabels(options.labels), created: t, updated: t });
    return { id: String(id), kind, parentIds: this.parentIds(parent) };
  }

  /** Applies an update as containerd's storage.UpdateInfo and returns the stored result. */
  updateInfo(info: Pick<Info, 'name'> & Partial<Info>, fieldpaths: readonly string[] = []): Info {
    const r = this.record(info.name);
    const given = info.labels ?? {};
    let labels: Record<string, string> = { ...r.labels };
    if (fieldpaths.length > 0) {
      for (const path of fieldpaths) {
        if (path.startsWith('labels.')) {
          const key = path.slice('labels.'.length);
          labels[key] = given[key] ?? '';
          continue;
        }
        if (path === 'labels') {
          labels = { ...given };
          continue;
        }
        throw invalidArgument(`cannot update ${JSON.stringify(path)} field on snapshot ${JSON.stringify(info.name)}`);
      }
    } else {
      labels = { ...given };
    }
    const updated: SnapshotRecord = { ...r, labels: storedLabels(labels), updated: now() };
    this.put(info.name, updated);
    return toInfo(info.name, updated);
  }

  /**
   * Turns active `key` into committed `name` (same ID, new times, the labels of `options`
   * only) and returns the ID. `usage` may be left out and recorded later with `setUsage`.
   */
  commitActive(key: string, name: string, usage: Usage | undefined, options: SnapshotOptions = {}): string {
    if (this.state.snapshots.has(name)) throw alreadyExists(`committed snapshot ${name}`);
    const r = this.state.snapshots.get(key);
    if (!r) throw notFound(`failed to get active snapshot ${JSON.stringify(key)}`);
    if (r.kind !== Kind.Active) throw failedPrecondition(`snapshot ${JSON.stringify(key)} is not active`);
    if (r.parent !== '' && !this.state.snapshots.has(r.parent)) {
      throw notFound(`missing parent ${JSON.stringify(r.parent)} of snapshot ${JSON.stringify(key)}`);
    }
    const t = now();
    this.drop(key);
    this.put(name, {
      id: r.id,
      kind: Kind.Committed,
      parent: r.parent,
      labels: storedLabels(options.labels),
      created: t,
      updated: t,
      ...(usage ? { usage } : {}),
    });
    return String(r.id);
  }

  /** Records the usage of a committed snapshot, if `key` still names the snapshot with `id`. */
  setUsage(key: string, id: string, usage: Usage): void {
    const r = this.state.snapshots.get(key);
    if (!r || String(r.id) !== id || r.kind !== Kind.Committed) return;
    this.put(key, { ...r, usage });
  }

  /** Removes a snapshot that no other has as parent; returns its ID and kind. */
  remove(key: string): { id: string; kind: Kind } {
    const r = this.state.snapshots.get(key);
    if (!r) throw notFound(`snapshot ${key}`);
    if (this.state.children.has(key)) throw failedPrecondition('cannot remove snapshot with child');
    this.drop(key);
    return { id: String(r.id), kind: r.kind };
  }
}

/** Journal lines of transactions written and fsynced together, and the state after the last. */
interface Batch {
  readonly lines: Buffer[];
  readonly keys: string[];
  state: State;
}

export interface MetaStoreOptions {
  /**
   * Called with the keys of each batch once its journal lines are written and fsynced,
   * before any transaction of the batch returns (tests observe the order through it).
   */
  onSync?: (keys: readonly string[]) => void;
}

/**
 * The record store of one snapshotter, in one file (`<root>/metadata.json` by convention)
 * and its journal.
 *
 * Group commit: writers run one at a time, but a transaction that finishes while an
 * earlier batch of journal lines is being written and fsynced joins the next batch
 * instead of waiting for a fsync of its own, so concurrent writers (a collection removing
 * many snapshots) share one fdatasync. A transaction returns only once the batch holding
 * its line is on disk. Writers see the changes of batches not yet on disk (they are
 * ordered after them and written in a later or the same batch); readers (`view`) see only
 * what is on disk. When a batch fails, its transactions and those built on it fail and
 * the store goes on from what is on disk.
 */
export class MetaStore {
  /** The records as on disk: what readers see. */
  private state: State;
  /** The records after every finished transaction, on disk or not: what writers build on. */
  private head: State;
  /** Bumped when a batch fails: transactions begun before were built on lost changes. */
  private epoch = 0;
  private readonly file: string;
  private readonly journalFile: string;
  private readonly group: GroupCommit<Batch>;
  private closed = false;
  /** The journal, open for appending once the first change since open is written. */
  private journal: FileHandle | undefined;
  private journalBytes: number;
  /** Size of the records file when last written. */
  private recordsBytes: number;

  private constructor(file: string, state: State, journalBytes: number, recordsBytes: number, options: MetaStoreOptions) {
    this.file = file;
    this.journalFile = `${file}.log`;
    this.state = state;
    this.head = state;
    this.journalBytes = journalBytes;
    this.recordsBytes = recordsBytes;
    this.group = new GroupCommit<Batch>({
      create: () => ({ lines: [], keys: [], state: this.head }),
      write: (batch) => this.append(batch.lines),
      written: (batch) => {
        this.state = batch.state;
        options.onSync?.(batch.keys);
      },
      failed: () => {
        // A transaction running now was built on lost changes: its epoch is gone.
        this.epoch += 1;
        this.head = this.state;
      },
    });
  }

  /** Opens the store in `file` (and its journal), starting empty when neither exists. */
  static async open(file: string, options: MetaStoreOptions = {}): Promise<MetaStore> {
    await rm(`${file}.tmp`, { force: true });
    let state: State = stateOf(1, ShardedMap.empty());
    let recordsBytes = 0;
    try {
      const text = await readFile(file, 'utf8');
      state = parseState(file, text);
      recordsBytes = text.length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const journal = `${file}.log`;
    let text: string;
    try {
      text = await readFile(journal, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new MetaStore(file, state, 0, recordsBytes, options);
      throw err;
    }
    const complete = text.lastIndexOf('\n') + 1;
    const snapshots = state.snapshots.edit();
    let nextId = state.nextId;
    for (const line of text.slice(0, complete).split('\n')) {
      if (line === '') continue;
      let entry: JournalEntry;
      try {
        entry = JSON.parse(line) as JournalEntry;
      } catch (err) {
        throw new Error(`snapshot metadata journal ${journal} has a line that is not valid JSON`, { cause: err });
      }
      for (const [key, r] of Object.entries(entry.set)) {
        if (r === null) snapshots.delete(key);
        else snapshots.set(key, readRecord(journal, key, r));
      }
      nextId = Math.max(nextId, entry.nextId);
    }
    if (complete < Buffer.byteLength(text)) {
      // a line cut short by a crash: its transaction never returned
      const fh = await open(journal, 'r+');
      try {
        await fh.truncate(Buffer.byteLength(text.slice(0, complete)));
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    return new MetaStore(file, stateOf(nextId, snapshots.done()), Buffer.byteLength(text.slice(0, complete)), recordsBytes, options);
  }

  private checkOpen(): void {
    if (this.closed) throw failedPrecondition('snapshot metadata store is closed');
  }

  /** Runs `fn` on the records as they are on disk now; never waits for writers. */
  async view<T>(fn: (tx: ReadTransaction) => T | Promise<T>): Promise<T> {
    this.checkOpen();
    return fn(new ReadTransaction(this.state));
  }

  /**
   * Runs `fn` as the only writer. Its changes are written with the next batch; it returns
   * once they are on disk, and they are visible to readers from then on. When `fn` or the
   * write throws, nothing changes. An answer that changed nothing (or an error) still
   * waits for the batches it saw, so it never reports a state a crash could undo.
   */
  async update<T>(fn: (tx: WriteTransaction) => T | Promise<T>): Promise<T> {
    this.checkOpen();
    return this.group.transaction(async (join) => {
      this.checkOpen();
      const epoch = this.epoch;
      const tx = new WriteTransaction(this.head);
      const result = await fn(tx);
      if (tx.dirty) {
        // A batch this transaction built on failed while `fn` ran: its base is lost.
        if (this.epoch !== epoch) throw failedPrecondition('snapshot metadata changed under the transaction: an earlier write failed');
        this.enqueue(tx, join);
      }
      return result;
    });
  }

  /** Adds a finished transaction's line to the next batch (written now when none is being written). */
  private enqueue(tx: WriteTransaction, join: Join<Batch>): void {
    const state = tx.result();
    const entry: JournalEntry = { nextId: state.nextId, set: {} };
    for (const key of tx.changed) {
      const r = state.snapshots.get(key);
      entry.set[key] = r ? recordFormat(r) : null;
    }
    const line = Buffer.from(`${JSON.stringify(entry)}\n`);
    this.head = state;
    join((batch) => {
      batch.lines.push(line);
      batch.keys.push(...tx.changed);
      batch.state = state;
    });
  }

  /**
   * Appends journal lines in one write and fdatasyncs them. When the journal has grown
   * large, the records as on disk (what the journal holds, none of these lines) are
   * written out first and the journal emptied: the records then hold exactly what the
   * journal did, so a crash before the journal is gone replays it to the same state.
   * (Records that already held these lines would be rolled back, key by key, by an older
   * journal replayed over them.)
   */
  private async append(lines: readonly Buffer[]): Promise<void> {
    if (this.journalBytes >= MIN_COMPACT_BYTES && this.journalBytes >= this.recordsBytes) await this.persist(this.state);
    const data = lines.length === 1 ? lines[0]! : Buffer.concat(lines);
    if (!this.journal) {
      this.journal = await open(this.journalFile, 'a', 0o600);
      // the journal's name must survive a crash as its lines do
      await syncDir(dirname(this.file));
    }
    try {
      await this.journal.write(data);
      await this.journal.datasync();
    } catch (err) {
      // The batch fails: its lines, whole or partly written, must not count nor have
      // later lines appended to them.
      await this.journal.truncate(this.journalBytes).catch(() => {});
      await this.closeJournal();
      throw err;
    }
    this.journalBytes += data.length;
  }

  /** Writes every record to the records file, then empties the journal. */
  private async persist(state: State): Promise<void> {
    const data: FileFormat = { version: FORMAT_VERSION, nextId: state.nextId, snapshots: {} };
    for (const [key, r] of state.snapshots) data.snapshots[key] = recordFormat(r);
    const text = JSON.stringify(data);
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    await syncDir(dirname(this.file));
    this.recordsBytes = text.length;
    // The records now hold everything the journal did; replaying it again would change nothing.
    await this.closeJournal();
    await rm(this.journalFile, { force: true });
    this.journalBytes = 0;
  }

  private async closeJournal(): Promise<void> {
    const journal = this.journal;
    this.journal = undefined;
    await journal?.close().catch(() => {});
  }

  /** Waits for a running writer and the batches being written, then refuses further use. A second close does nothing. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.group.exclusive(async () => {
      this.closed = true;
      await this.closeJournal();
    });
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function parseState(file: string, text: string): State {
  let data: FileFormat;
  try {
    data = JSON.parse(text) as FileFormat;
  } catch (err) {
    throw new Error(`snapshot metadata ${file} is not valid JSON`, { cause: err });
  }
  if (data.version !== FORMAT_VERSION) {
    throw new Error(`snapshot metadata ${file} has format version ${String(data.version)}, expected ${FORMAT_VERSION}`);
  }
  const snapshots = ShardedMap.empty<SnapshotRecord>().edit();
  let maxId = 0;
  for (const [key, s] of Object.entries(data.snapshots ?? {})) {
    snapshots.set(key, readRecord(file, key, s));
    maxId = Math.max(maxId, s.id);
  }
  return stateOf(Math.max(data.nextId, maxId + 1), snapshots.done());
}
