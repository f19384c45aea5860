// The JSON records stored under the keys of keys.ts (image and lease records are not JSON:
// image-record.ts, lease-record.ts). Times are RFC 3339 strings in UTC with nanoseconds
// (Go's RFC3339Nano; records written before nanoseconds have milliseconds, which read the
// same); labels with an empty value are never stored.
import { type Timestamp, formatRFC3339Nano, mustParseRFC3339 } from '@containerd-ts/timestamp';

/** A stored time, read. */
export const readRecordTime = (text: string): Timestamp => mustParseRFC3339(text, 'record time');

/** A time as stored. */
export const recordTime = (t: Timestamp): string => formatRFC3339Nano(t);

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

export interface DescriptorRecord {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
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
