// Lease records as stored: the wire bytes of containerd.services.leases.v1.Lease without its
// ID (the key holds it) — created_at 2, labels 3 — kept in the database as a Latin-1 string,
// one character per byte, as image records are (image-record.ts). A list hands a record on
// as it is, behind the ID; a get, a filter on a label and the collector's mark decode it.
// Schema version 3 converted the JSON records of earlier versions (migrations.ts).
import { Lease as ApiLease } from '@containerd-ts/api/services/leases';
import { WireWriter } from '@containerd-ts/api/wire';
import type { Timestamp } from '@containerd-ts/timestamp';

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
export function encodeLeaseRecord(record: LeaseRecord): string {
  const w = new WireWriter(128);
  writeLeaseFields(w, record);
  return w.finish().toString('latin1');
}

/** A stored record, decoded; one that is not a record is an error saying so. */
export function decodeLeaseRecord(stored: string): LeaseRecord {
  let lease: ApiLease;
  try {
    lease = ApiLease.decode(Buffer.from(stored, 'latin1'));
  } catch (err) {
    throw new Error(`metadata: lease record unreadable: ${(err as Error).message}`);
  }
  return { createdAt: lease.createdAt ?? { seconds: 0, nanos: 0 }, labels: lease.labels };
}

/** The bytes (as stored) of label `key` = `value` in a record (one map entry each, key then value). */
export function leaseLabelBytes(key: string, value: string): string {
  const w = new WireWriter(64);
  w.stringMap(3, { [key]: value });
  return w.finish().toString('latin1');
}
