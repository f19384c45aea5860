// ttrpc on the wire: the 10-byte frame header, an incremental frame parser, and the
// Request/Response envelopes (protobuf, encoded here by hand: two small messages).
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Status } from '@containerd-ts/api/types/status';

/** Bytes of the header before every message: length, stream id (uint32 BE), type, flags. */
export const MESSAGE_HEADER_LENGTH = 10;
/** Largest message body ttrpc accepts (its messageLengthMax, 4 MiB). */
export const MESSAGE_LENGTH_MAX = 4 << 20;

export const MessageType = {
  request: 0x1,
  response: 0x2,
  /** Stream data (ttrpc ≥ 1.2 streaming); unary peers ignore it. */
  data: 0x3,
} as const;

export interface FrameHeader {
  length: number;
  streamId: number;
  type: number;
  flags: number;
}

/** ttrpc's text for a message over the limit (sent with ResourceExhausted). */
export const oversizedMessage = (length: number): string => `message length ${length} exceed maximum message size of ${MESSAGE_LENGTH_MAX}`;

/** Header and body of one frame, as one buffer ready to write. */
export function encodeFrame(streamId: number, type: number, body: Uint8Array, flags = 0): Buffer {
  const frame = Buffer.allocUnsafe(MESSAGE_HEADER_LENGTH + body.length);
  frame.writeUInt32BE(body.length, 0);
  frame.writeUInt32BE(streamId, 4);
  frame[8] = type;
  frame[9] = flags;
  frame.set(body, MESSAGE_HEADER_LENGTH);
  return frame;
}

export type FrameEvent =
  | { kind: 'frame'; header: FrameHeader; body: Buffer }
  /** A frame whose declared length exceeded MESSAGE_LENGTH_MAX; its body was read and dropped. */
  | { kind: 'oversized'; header: FrameHeader };

/**
 * Splits a byte stream into frames. Chunks go in with `push`, complete frames come out.
 * An oversized frame is skipped (its bytes discarded as they arrive) and reported once
 * skipped, as ttrpc does, so the connection stays usable.
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private header: FrameHeader | undefined;
  private discarding = 0;

  push(chunk: Buffer): FrameEvent[] {
    const events: FrameEvent[] = [];
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.discarding > 0) {
        const drop = Math.min(this.discarding, this.buffered);
        this.take(drop);
        this.discarding -= drop;
        if (this.discarding > 0) return events;
        const header = this.header!;
        this.header = undefined;
        events.push({ kind: 'oversized', header });
        continue;
      }
      if (!this.header) {
        if (this.buffered < MESSAGE_HEADER_LENGTH) return events;
        const h = this.take(MESSAGE_HEADER_LENGTH);
        this.header = { length: h.readUInt32BE(0), streamId: h.readUInt32BE(4), type: h[8]!, flags: h[9]! };
        if (this.header.length > MESSAGE_LENGTH_MAX) {
          this.discarding = this.header.length;
          continue;
        }
      }
      if (this.buffered < this.header.length) return events;
      const body = this.take(this.header.length);
      events.push({ kind: 'frame', header: this.header, body });
      this.header = undefined;
    }
  }

  /** True when the stream ended in the middle of a frame (a truncated message). */
  get midFrame(): boolean {
    return this.header !== undefined || this.buffered > 0;
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= n) {
      out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
    } else {
      out = Buffer.allocUnsafe(n);
      let at = 0;
      // The chunks used up are dropped with one splice: a shift each is quadratic when a
      // frame arrives in many small chunks.
      let used = 0;
      while (at < n) {
        const c = this.chunks[used]!;
        const want = n - at;
        if (c.length <= want) {
          c.copy(out, at);
          at += c.length;
          used++;
        } else {
          c.copy(out, at, 0, want);
          this.chunks[used] = c.subarray(want);
          at += want;
        }
      }
      this.chunks.splice(0, used);
    }
    this.buffered -= n;
    return out;
  }
}

/** ttrpc's Request: what to call, the encoded argument, the deadline and metadata. */
export interface TtrpcRequest {
  service: string;
  method: string;
  payload: Uint8Array;
  /** Time left for the call in nanoseconds; 0 = no deadline. */
  timeoutNano: bigint;
  metadata: Array<{ key: string; value: string }>;
}

/** ttrpc's Response: a google.rpc.Status (absent = OK) and the encoded result. */
export interface TtrpcResponse {
  status: Status | undefined;
  payload: Uint8Array;
}

export function encodeRequest(req: TtrpcRequest): Uint8Array {
  const w = new BinaryWriter();
  if (req.service !== '') w.tag(1, WireType.LengthDelimited).string(req.service);
  if (req.method !== '') w.tag(2, WireType.LengthDelimited).string(req.method);
  if (req.payload.length > 0) w.tag(3, WireType.LengthDelimited).bytes(req.payload);
  if (req.timeoutNano !== 0n) w.tag(4, WireType.Varint).int64(req.timeoutNano);
  for (const kv of req.metadata) {
    w.tag(5, WireType.LengthDelimited).fork();
    if (kv.key !== '') w.tag(1, WireType.LengthDelimited).string(kv.key);
    if (kv.value !== '') w.tag(2, WireType.LengthDelimited).string(kv.value);
    w.join();
  }
  return w.finish();
}

export function encodeResponse(res: TtrpcResponse): Uint8Array {
  const w = new BinaryWriter();
  if (res.status) Status.encode(res.status, w.tag(1, WireType.LengthDelimited).fork()).join();
  if (res.payload.length > 0) w.tag(2, WireType.LengthDelimited).bytes(res.payload);
  return w.finish();
}

function expectWireType(field: number, got: WireType, want: WireType): void {
  if (got !== want) throw new Error(`proto: wrong wireType = ${got} for field ${field}`);
}

function decodeKeyValue(bytes: Uint8Array): { key: string; value: string } {
  const r = new BinaryReader(bytes);
  const kv = { key: '', value: '' };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1) {
      expectWireType(field, wt, WireType.LengthDelimited);
      kv.key = r.string();
    } else if (field === 2) {
      expectWireType(field, wt, WireType.LengthDelimited);
      kv.value = r.string();
    } else r.skip(wt, field);
  }
  return kv;
}

/** Decodes a Request; throws on malformed protobuf or a known field with the wrong wire type. */
export function decodeRequest(bytes: Uint8Array): TtrpcRequest {
  const r = new BinaryReader(bytes);
  const req: TtrpcRequest = { service: '', method: '', payload: new Uint8Array(0), timeoutNano: 0n, metadata: [] };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    switch (field) {
      case 1:
        expectWireType(field, wt, WireType.LengthDelimited);
        req.service = r.string();
        break;
      case 2:
        expectWireType(field, wt, WireType.LengthDelimited);
        req.method = r.string();
        break;
      case 3:
        expectWireType(field, wt, WireType.LengthDelimited);
        req.payload = r.bytes();
        break;
      case 4:
        expectWireType(field, wt, WireType.Varint);
        req.timeoutNano = BigInt(r.int64());
        break;
      case 5:
        expectWireType(field, wt, WireType.LengthDelimited);
        req.metadata.push(decodeKeyValue(r.bytes()));
        break;
      default:
        r.skip(wt, field);
    }
  }
  if (r.pos !== r.len) throw new Error('proto: unexpected end of message');
  return req;
}

/** Decodes a Response; throws on malformed protobuf. */
export function decodeResponse(bytes: Uint8Array): TtrpcResponse {
  const r = new BinaryReader(bytes);
  const res: TtrpcResponse = { status: undefined, payload: new Uint8Array(0) };
  while (r.pos < r.len) {
    const [field, wt] = r.tag();
    if (field === 1) {
      expectWireType(field, wt, WireType.LengthDelimited);
      res.status = Status.decode(r.bytes());
    } else if (field === 2) {
      expectWireType(field, wt, WireType.LengthDelimited);
      res.payload = r.bytes();
    } else r.skip(wt, field);
  }
  if (r.pos !== r.len) throw new Error('proto: unexpected end of message');
  return res;
}
