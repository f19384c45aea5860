// The snapshotter contract, as containerd's snapshots.Snapshotter: keyed active, view and
// committed snapshots with parents, labels and mounts. Implemented by each snapshotter
// plugin (not namespaced) and wrapped by the metadata layer (namespaced, GC references).
import type { RequestContext } from '@containerd-ts/namespaces';
import type {} from '@containerd-ts/plugin';
import type { Timestamp } from '@containerd-ts/timestamp';

/** The kind of a snapshot, spelled as containerd's Kind.String() prints it. */
export const Kind = {
  Unknown: 'Unknown',
  View: 'View',
  Active: 'Active',
  Committed: 'Committed',
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

const kindNumbers: Record<Kind, number> = { Unknown: 0, View: 1, Active: 2, Committed: 3 };
const kindsByNumber: readonly Kind[] = [Kind.Unknown, Kind.View, Kind.Active, Kind.Committed];

/** Parses `view`, `active` or `committed` in any case, as containerd's ParseKind; anything else is Unknown. */
export function parseKind(text: string): Kind {
  switch (text.toLowerCase()) {
    case 'view':
      return Kind.View;
    case 'active':
      return Kind.Active;
    case 'committed':
      return Kind.Committed;
    default:
      return Kind.Unknown;
  }
}

/** The wire number of a kind (the snapshots API's Kind enum: UNKNOWN 0, VIEW 1, ACTIVE 2, COMMITTED 3). */
export const kindNumber = (kind: Kind): number => kindNumbers[kind];
/** The kind for a wire number; Unknown for numbers the API does not define. */
export const kindFromNumber = (n: number): Kind => kindsByNumber[n] ?? Kind.Unknown;

/** What is known about one snapshot. */
export interface Info {
  kind: Kind;
  /** Key (active, view) or name (committed). */
  name: string;
  /** Name of the parent committed snapshot; '' when there is none. */
  parent: string;
  labels: Record<string, string>;
  created: Timestamp;
  updated: Timestamp;
}

/** Resources a snapshot uses, excluding its parents. */
export interface Usage {
  /** Bytes on disk (allocated blocks). */
  size: number;
  /** Distinct inodes. */
  inodes: number;
}

/** One mount as containerd's mount.Mount: `mount -t type -o options source target`. */
export interface Mount {
  type: string;
  source: string;
  /** Path below the mount root to mount onto (containerd 2.x); the root itself when absent. */
  target?: string;
  options: string[];
}

/** Options of prepare, view and commit (containerd's snapshots.Opt values). */
export interface SnapshotOptions {
  /** Labels of the new snapshot (WithLabels). */
  labels?: Record<string, string>;
}

export type WalkFn = (info: Info) => void | Promise<void>;

/** The fields `update` reads: the name, and the values of the fields named by `fieldpaths`. */
export type InfoUpdate = Pick<Info, 'name'> & Partial<Omit<Info, 'name'>>;

/**
 * A snapshotter (containerd's snapshots.Snapshotter). Errors carry containerd's classes:
 * a missing key is `not-found`, a taken key or name `already-exists`, committing a view or
 * removing a parent `failed-precondition`, a non-committed parent or an immutable field in
 * `update` `invalid-argument`.
 */
export interface Snapshotter {
  /** Info of an active, view or committed snapshot by key or name. */
  stat(ctx: RequestContext, key: string): Promise<Info>;
  /**
   * Info of each of `keys`, in order, `undefined` for a key that does not exist: what `stat`
   * answers for each, in one call. Optional; without it a caller stats key by key. The
   * metadata store's walk asks its backend about a whole batch of records this way.
   */
  statMany?(ctx: RequestContext, keys: readonly string[]): Promise<Array<Info | undefined>>;
  /**
   * Updates the mutable fields named by `fieldpaths` (`labels`, `labels.<key>`); with no
   * fieldpaths all labels are replaced. Labels with an empty value are dropped.
   */
  update(ctx: RequestContext, info: InfoUpdate, fieldpaths?: readonly string[]): Promise<Info>;
  /** Usage of the snapshot alone (not its parents). */
  usage(ctx: RequestContext, key: string): Promise<Usage>;
  /** Mounts of an active or view snapshot (again, after prepare or view). */
  mounts(ctx: RequestContext, key: string): Promise<Mount[]>;
  /** Creates an active (writable) snapshot on a committed parent ('' for an empty one). */
  prepare(ctx: RequestContext, key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** Creates a read-only view of a committed parent; it can never be committed. */
  view(ctx: RequestContext, key: string, parent?: string, options?: SnapshotOptions): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`; `key` is gone afterwards. */
  commit(ctx: RequestContext, name: string, key: string, options?: SnapshotOptions): Promise<void>;
  /** Removes a snapshot; one that is the parent of another cannot be removed. */
  remove(ctx: RequestContext, key: string): Promise<void>;
  /** Calls `fn` for every snapshot matching any of `filters` (fields `name`, `parent`, `kind`, `labels.<key>`). */
  walk(ctx: RequestContext, fn: WalkFn, filters?: readonly string[]): Promise<void>;
  /** Releases resources; a second call does nothing. */
  close(): Promise<void>;
  /** Reclaims storage left by removals (containerd's snapshots.Cleaner), when the snapshotter defers it. */
  cleanup?(ctx: RequestContext): Promise<void>;
}

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.snapshotter.v1': Snapshotter;
  }
}
