// Records stored in the wire form of an API message (image-record.ts, lease-record.ts): the
// message's bytes kept in the database as a Latin-1 string, one character per byte, which a
// list appends to its response as they are (`WireWriter.latin1`).
import { WireWriter } from '@containerd-ts/api/wire';

/**
 * A message whose key (an image's name, a lease's ID: field 1 of both) is `key` and whose
 * other fields are the stored record, written without decoding it.
 */
export function writeStoredRecord(w: WireWriter, key: string, stored: string): void {
  if (key !== '') w.string(1, key);
  w.latin1(stored);
}

/** The bytes `write` writes, as stored. */
export function toStored(write: (w: WireWriter) => void, initialSize = 256): string {
  const w = new WireWriter(initialSize);
  write(w);
  return w.finish().toString('latin1');
}

/** A stored record decoded with `decode` (a generated decoder); an error naming `what` when it is not one. */
export function fromStored<T>(stored: string, decode: (bytes: Uint8Array) => T, what: string): T {
  try {
    return decode(Buffer.from(stored, 'latin1'));
  } catch (err) {
    throw new Error(`metadata: ${what} record unreadable: ${(err as Error).message}`);
  }
}

/**
 * The bytes, as stored, of the entry `key` = `value` of the map<string, string> in `field`: a
 * record without them cannot hold that entry (entries are written one each, key then value).
 */
export const mapEntryBytes = (field: number, key: string, value: string): string => toStored((w) => w.stringMap(field, { [key]: value }), 64);
