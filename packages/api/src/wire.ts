// Writing protobuf straight into one growing Buffer, for the large responses (lists of
// thousands of records) where the generated encoders cost most: they build every nested
// message as a list of chunks, join it into a fresh array and copy it into its parent, and
// every string becomes an array of its own. Here a list handler writes each record as it
// reads it, so nothing but the output bytes (off the JavaScript heap) outlives a record.
// The bytes are the generated encoders' own: same field order, defaults left out the same
// way (the callers' tests compare them).

/** A message already encoded, answered as is by a definition wrapped with `acceptEncoded`. */
export class EncodedMessage<T> {
  /** The message type these bytes encode (for the type checker only). */
  declare readonly message?: T;
  constructor(readonly bytes: Buffer) {}
}

/** A response serializer that passes an EncodedMessage through and encodes anything else with `serialize`. */
export function acceptEncoded<T>(serialize: (value: T) => Buffer): (value: T | EncodedMessage<T>) => Buffer {
  return (value) => (value instanceof EncodedMessage ? value.bytes : serialize(value));
}

const WIRE_VARINT = 0;
const WIRE_LENGTH = 2;
/** Bytes kept for a nested message's length while it is written (up to 16,383 bytes without a move). */
const LENGTH_RESERVE = 2;

export const varintSize = (value: number): number => {
  let size = 1;
  for (let v = value; v >= 0x80; v = Math.floor(v / 128)) size++;
  return size;
};

export class WireWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + more) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** A varint of a non-negative safe integer. */
  private varint(value: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    let v = value;
    while (v >= 0x80) {
      buf[pos++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  private key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  /** An int64 or int32 field (negative values as ten bytes of two's complement, as protobuf does). */
  int64(field: number, value: number): void {
    if (!Number.isSafeInteger(value)) throw new RangeError(`integer field ${field}: ${value} is not a safe integer`);
    this.key(field, WIRE_VARINT);
    if (value >= 0) {
      this.varint(value);
      return;
    }
    this.ensure(10);
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
  }

  /** A string field (written even when empty: callers leave out defaults). */
  string(field: number, value: string): void {
    this.key(field, WIRE_LENGTH);
    if (value.length < 43) {
      // at most 3 bytes per UTF-16 unit: the length fits one byte
      this.ensure(1 + value.length * 3);
      const n = this.buf.write(value, this.pos + 1);
      this.buf[this.pos] = n;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(value, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.pos += this.buf.write(value, this.pos);
  }

  /**
   * Bytes already encoded, held as a Latin-1 string (one character per byte, each below
   * 256), appended as they are: a record stored in its wire form goes out without decoding.
   */
  latin1(bytes: string): void {
    this.ensure(bytes.length);
    this.pos += this.buf.write(bytes, this.pos, 'latin1');
  }

  /** Starts a nested message in `field`; returns what `end` needs. */
  begin(field: number): number {
    this.key(field, WIRE_LENGTH);
    this.ensure(LENGTH_RESERVE);
    this.pos += LENGTH_RESERVE;
    return this.pos;
  }

  /** Ends the nested message begun at `start`, writing its length before it. */
  end(start: number): void {
    const length = this.pos - start;
    const size = varintSize(length);
    if (size !== LENGTH_RESERVE) {
      this.ensure(size - LENGTH_RESERVE);
      this.buf.copyWithin(start - LENGTH_RESERVE + size, start, this.pos);
      this.pos += size - LENGTH_RESERVE;
    }
    let at = start - LENGTH_RESERVE;
    let v = length;
    while (v >= 0x80) {
      this.buf[at++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[at] = v;
  }

  /** A map<string, string> field as the generated code writes it: one entry per key, in key order. */
  stringMap(field: number, map: Readonly<Record<string, string>> | undefined): void {
    if (!map) return;
    for (const key of Object.keys(map)) {
      const value = map[key]!;
      const at = this.begin(field);
      if (key !== '') this.string(1, key);
      if (value !== '') this.string(2, value);
      this.end(at);
    }
  }

  /** A google.protobuf.Timestamp field. */
  timestamp(field: number, t: { seconds: number; nanos: number } | undefined): void {
    if (t === undefined) return;
    const at = this.begin(field);
    if (t.seconds !== 0) this.int64(1, t.seconds);
    if (t.nanos !== 0) this.int64(2, t.nanos);
    this.end(at);
  }

  /** The bytes written (a view of the writer's buffer; the writer is not to be used after). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Writes the items of a response's repeated message field one by one, each as `write` puts
 * it, and hands the bytes over as the response's EncodedMessage. After `take` it starts an
 * empty response again (the pages of a stream).
 */
export class RepeatedWriter<T, M, S = undefined> {
  /** Made at the first item of each response: a `take` allocates nothing for the next one. */
  #w: WireWriter | undefined;
  #count = 0;

  constructor(
    private readonly field: number,
    private readonly write: (w: WireWriter, item: T, second: S) => void,
    private readonly initialSize = 64 * 1024,
  ) {}

  /** Items written since the last `take`. */
  get count(): number {
    return this.#count;
  }

  /** Writes one item (`second` is handed to `write` too: an item in two parts needs no object). */
  add(item: T, second?: S): void {
    this.#w ??= new WireWriter(this.initialSize);
    const w = this.#w;
    const at = w.begin(this.field);
    this.write(w, item, second as S);
    w.end(at);
    this.#count++;
  }

  /** The response written so far; the writer starts over. */
  take(): EncodedMessage<M> {
    const message = new EncodedMessage<M>(this.#w?.finish() ?? Buffer.alloc(0));
    this.#w = undefined;
    this.#count = 0;
    return message;
  }
}

/**
 * A method definition whose response serializer passes an EncodedMessage through and writes
 * any other response's `items` into its repeated field `field` with `write` (the bytes of the
 * generated encoder when the response has no other field and `write` writes an item's).
 */
export function encodeRepeated<D extends { responseSerialize: (value: M) => Buffer }, M, T>(
  method: D,
  field: number,
  items: (message: M) => readonly T[],
  write: (w: WireWriter, item: T) => void,
): Omit<D, 'responseSerialize'> & { responseSerialize: (value: M | EncodedMessage<M>) => Buffer } {
  return {
    ...method,
    responseSerialize: acceptEncoded((message: M) => {
      const out = new RepeatedWriter<T, M>(field, write);
      for (const item of items(message)) out.add(item);
      return out.take().bytes;
    }),
  };
}
