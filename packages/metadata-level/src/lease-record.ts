// Lease records as stored: the wire bytes of containerd.services.leases.v1.Lease without its
// ID (the key holds it) — created_at 2, labels 3 — kept as wire-record.ts keeps records. A
// list hands a record on as it is, behind the ID; a get, a filter on a label and the
// collector's mark decode it. Schema version 3 converted the JSON records of earlier
// versions (migrations.ts).
import { Lease as ApiLease } from '@containerd-ts/api/services/leases';
import type { WireWriter } from '@containerd-ts/api/wire';
import type { Timestamp } from '@containerd-ts/timestamp';
import { fromStored, mapEntryBytes, toStored } from './wire-record.js';

/** A lease record, decoded (labels with an empty value are never stored). */
export interface LeaseRecord {
  createdAt: Timestamp;
  labels: Record<string, string>;
}

/** Writes the fields of containerd.services.leases.v1.Lease other than the ID (created_at 2, labels 3). */
export function writeLeaseFields(w: WireWriter, lease: { createdAt: Timestamp | undefined; labels: Readonly<Record<string, string>> | undefined }): void {
  w.timestamp(2, lease.createdAt);
  w.stringMap(3, lease.labels);
}

/** A record as stored. */
export const encodeLeaseRecord = (record: LeaseRecord): string => toStored((w) => writeLeaseFields(w, record), 128);

/** A stored record, decoded; one that is not a record is an error saying so. */
export function decodeLeaseRecord(stored: string): LeaseRecord {
  const lease = fromStored(stored, (bytes) => ApiLease.decode(bytes), 'lease');
  return { createdAt: lease.createdAt ?? { seconds: 0, nanos: 0 }, labels: lease.labels };
}

/** The bytes (as stored) of label `key` = `value` in a record. */
export const leaseLabelBytes = (key: string, value: string): string => mapEntryBytes(3, key, value);
