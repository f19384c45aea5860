// Image records as stored: the wire bytes of containerd.services.images.v1.Image without its
// name (the key holds the name) — labels 2, target 3 (a containerd.types.Descriptor),
// created_at 7, updated_at 8 — kept as wire-record.ts keeps records. A list hands a record
// on as it is, behind the name, so listing images decodes and encodes nothing; a get, an
// update, a filter on a field other than the name, and the collector's mark decode it.
// Schema version 3 converted the JSON records of earlier versions (migrations.ts).
import { Image as ApiImage } from '@containerd-ts/api/services/images';
import type { WireWriter } from '@containerd-ts/api/wire';
import type { Timestamp } from '@containerd-ts/timestamp';
import type { DescriptorRecord } from './records.js';
import { fromStored, mapEntryBytes, toStored } from './wire-record.js';

/** An image record, decoded (labels with an empty value are never stored). */
export interface ImageRecord {
  target: DescriptorRecord;
  labels: Record<string, string>;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** What the record fields of an Image message are written from (an API image has them too). */
export interface ImageFields {
  labels: Readonly<Record<string, string>> | undefined;
  target: { mediaType: string; digest: string; size: number; annotations?: Readonly<Record<string, string>> | undefined } | undefined;
  createdAt: Timestamp | undefined;
  updatedAt: Timestamp | undefined;
}

/**
 * Writes the fields of containerd.services.images.v1.Image other than the name (labels 2,
 * target 3, created_at 7, updated_at 8) as the generated encoder does.
 */
export function writeImageFields(w: WireWriter, image: ImageFields): void {
  w.stringMap(2, image.labels);
  const target = image.target;
  if (target !== undefined) {
    // containerd.types.Descriptor (media_type 1, digest 2, size 3, annotations 5)
    const at = w.begin(3);
    if (target.mediaType !== '') w.string(1, target.mediaType);
    if (target.digest !== '') w.string(2, target.digest);
    if (target.size !== 0) w.int64(3, target.size);
    w.stringMap(5, target.annotations);
    w.end(at);
  }
  w.timestamp(7, image.createdAt);
  w.timestamp(8, image.updatedAt);
}

/** A record as stored. */
export const encodeImageRecord = (record: ImageRecord): string => toStored((w) => writeImageFields(w, record));

/** A stored record, decoded; one that is not a record (or has no target) is an error saying so. */
export function decodeImageRecord(stored: string): ImageRecord {
  const image = fromStored(stored, (bytes) => ApiImage.decode(bytes), 'image');
  const target = image.target;
  if (target === undefined) throw new Error('metadata: image record has no target');
  const descriptor: DescriptorRecord = { mediaType: target.mediaType, digest: target.digest, size: target.size };
  if (Object.keys(target.annotations).length > 0) descriptor.annotations = target.annotations;
  return {
    target: descriptor,
    labels: image.labels,
    createdAt: image.createdAt ?? { seconds: 0, nanos: 0 },
    updatedAt: image.updatedAt ?? { seconds: 0, nanos: 0 },
  };
}

/** The bytes (as stored) of label `key` = `value` in a record. */
export const imageLabelBytes = (key: string, value: string): string => mapEntryBytes(2, key, value);
