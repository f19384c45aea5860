// The JSON records stored under the keys of keys.ts. Times are ISO-8601 strings (UTC);
// labels with an empty value are never stored.

export interface NamespaceRecord {
  labels?: Record<string, string>;
}

export interface BlobRecord {
  size: number;
  createdAt: string;
  updatedAt: string;
  labels?: Record<string, string>;
}

export interface IngestRecord {
  /** Ingest reference in the backend store: `<namespace>/<sequence>/<ref>`. */
  ref: string;
  /** When an unleased ingest stops being a GC root (24 h after the writer last opened). */
  expireAt?: string;
  /** Digest of backend content this ingest shares (shared policy): kept alive while the ingest exists. */
  expected?: string;
}

export interface LeaseRecord {
  createdAt: string;
  labels?: Record<string, string>;
}

export interface DescriptorRecord {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageRecord {
  target: DescriptorRecord;
  labels?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
}

/** A protobuf `Any` as stored (value base64). */
export interface AnyRecord {
  typeUrl: string;
  value: string;
}

export interface ContainerRecord {
  labels?: Record<string, string>;
  image?: string;
  runtime: { name: string; options?: AnyRecord };
  spec?: AnyRecord;
  snapshotter?: string;
  snapshotKey?: string;
  extensions?: Record<string, AnyRecord>;
  sandbox?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * A snapshot of one snapshotter in one namespace. The garbage collector reads `name`
 * (the snapshot's key in the backend), `parent` (the parent's key in this namespace)
 * and `labels`; the snapshot metadata layer may store more fields beside them.
 */
export interface SnapshotRecord {
  name: string;
  parent?: string;
  kind?: 'active' | 'view' | 'committed';
  labels?: Record<string, string>;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}
