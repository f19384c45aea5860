// The content service definition with a direct encoder for Read responses. The generated
// encoder builds the message in chunks, joins them and copies the result into a Buffer
// (three copies of every data chunk); this one sizes the message first and copies the
// data once. List responses (100 infos each) are written straight into one buffer (see
// `@containerd-ts/api/wire`). Everything else is the generated definition.
import { ContentService, type ListContentResponse, type ReadContentResponse } from '@containerd-ts/api/services/content';
import { WireWriter } from '@containerd-ts/api/wire';

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

/**
 * Encodes a ListContentResponse (`repeated Info info = 1`; Info: digest 1, size 2,
 * created_at 3, updated_at 4, labels 5) exactly as the generated encoder does.
 */
export function encodeListContentResponse(msg: ListContentResponse): Buffer {
  const w = new WireWriter(16 * 1024);
  for (const info of msg.info) {
    const at = w.begin(1);
    if (info.digest !== '') w.string(1, info.digest);
    if (info.size !== 0) w.int64(2, info.size);
    w.timestamp(3, info.createdAt);
    w.timestamp(4, info.updatedAt);
    w.stringMap(5, info.labels);
    w.end(at);
  }
  return w.finish();
}

/** containerd.services.content.v1.Content as the daemon serves it. */
export const contentServiceDefinition = {
  ...ContentService,
  read: { ...ContentService.read, responseSerialize: encodeReadResponse },
  list: { ...ContentService.list, responseSerialize: encodeListContentResponse },
} as const;
