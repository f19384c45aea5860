// The content service definition with a direct encoder for Read responses. The generated
// encoder builds the message in chunks, joins them and copies the result into a Buffer
// (three copies of every data chunk); this one sizes the message first and copies the
// data once. Everything else is the generated definition.
import { ContentService, type ReadContentResponse } from '@containerd-ts/api/services/content';

const varintSize = (value: number): number => {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
};

function writeVarint(buf: Buffer, at: number, value: number): number {
  let pos = at;
  let v = value;
  while (v >= 0x80) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * Encodes a ReadContentResponse (`int64 offset = 1; bytes data = 2;`) exactly as the
 * generated encoder does, for the offsets this service sends (0 to 2^53).
 */
export function encodeReadResponse(msg: ReadContentResponse): Buffer {
  const { offset, data } = msg;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`read response offset ${offset} out of range`);
  const length = data.length;
  const size = (offset !== 0 ? 1 + varintSize(offset) : 0) + (length !== 0 ? 1 + varintSize(length) + length : 0);
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (offset !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, offset);
  }
  if (length !== 0) {
    buf[pos++] = 0x12;
    pos = writeVarint(buf, pos, length);
    buf.set(data, pos);
  }
  return buf;
}

/** containerd.services.content.v1.Content as the daemon serves it. */
export const contentServiceDefinition = {
  ...ContentService,
  read: { ...ContentService.read, responseSerialize: encodeReadResponse },
} as const;
