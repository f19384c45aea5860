// Strict request decoding, as containerd 1.6's generated (gogo) decoders: before a body is
// decoded (ts-proto skips what does not fit), it is walked against the message's fields.
// A wire type other than the field's, a varint longer than 10 bytes, a length past the
// end or a truncated field is an error, with gogo's text. Unknown fields with a well-formed
// encoding are accepted, as gogo does.
import { WIRE_MESSAGES, WIRE_METHODS } from './gen/wire-schema.js';

/** The full name of the request message of gRPC method `path` (`/pkg.Service/Method`). */
export function requestTypeOf(path: string): string | undefined {
  return WIRE_METHODS[path];
}

class WireError extends Error {}

const EOF = 'unexpected EOF';
const OVERFLOW = 'proto: integer overflow';
const NEGATIVE_LENGTH = 'proto: negative length found during unmarshaling';

/** Reads a varint at `at`; returns [value, next]. Values beyond 2^53 lose precision (only compared). */
function varint(buf: Uint8Array, at: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let shift = 0; ; shift += 7) {
    if (shift >= 64) throw new WireError(OVERFLOW);
    if (at >= end) throw new WireError(EOF);
    const b = buf[at++]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if (b < 0x80) return [value, at];
  }
}

/** A length (gogo converts it to int: beyond 2^63 it is negative). */
function length(buf: Uint8Array, at: number, end: number): [number, number] {
  const [n, next] = varint(buf, at, end);
  if (n >= 2 ** 63) throw new WireError(NEGATIVE_LENGTH);
  return [n, next];
}

/** gogo's skip: the length of the field starting at `at` (tag included), groups nested. */
function skip(buf: Uint8Array, at: number, end: number): number {
  let i = at;
  let depth = 0;
  while (i < end) {
    const [wire, afterTag] = varint(buf, i, end);
    i = afterTag;
    const wireType = wire % 8;
    switch (wireType) {
      case 0:
        i = varint(buf, i, end)[1];
        break;
      case 1:
        i += 8;
        break;
      case 2: {
        const [n, next] = length(buf, i, end);
        i = next + n;
        break;
      }
      case 3:
        depth++;
        break;
      case 4:
        if (depth === 0) throw new WireError('proto: unexpected end of group');
        depth--;
        break;
      case 5:
        i += 4;
        break;
      default:
        throw new WireError(`proto: illegal wireType ${wireType}`);
    }
    if (depth === 0) return i - at;
  }
  throw new WireError(EOF);
}

function walk(type: string, buf: Uint8Array, start: number, end: number): void {
  const message = WIRE_MESSAGES[type];
  if (!message) return;
  let i = start;
  while (i < end) {
    const tagStart = i;
    const [wire, afterTag] = varint(buf, i, end);
    i = afterTag;
    const wireType = wire % 8;
    // gogo takes the field number as an int32
    const fieldNum = (Math.floor(wire / 8) % 2 ** 32) | 0;
    if (wireType === 4) throw new WireError(`proto: ${message.go}: wiretype end group for non-group`);
    if (fieldNum <= 0) throw new WireError(`proto: ${message.go}: illegal tag ${fieldNum} (wire type ${wire})`);
    const field = message.fields[fieldNum];
    if (!field) {
      const n = skip(buf, tagStart, end);
      if (tagStart + n > end) throw new WireError(EOF);
      i = tagStart + n;
      continue;
    }
    const [expected, goName, nested, packable] = field;
    if (wireType !== expected && !(packable && wireType === 2)) {
      throw new WireError(`proto: wrong wireType = ${wireType} for field ${goName}`);
    }
    switch (wireType) {
      case 0:
        i = varint(buf, i, end)[1];
        break;
      case 1:
      case 5:
        i += wireType === 1 ? 8 : 4;
        if (i > end) throw new WireError(EOF);
        break;
      case 2: {
        const [n, next] = length(buf, i, end);
        const post = next + n;
        if (post > end) throw new WireError(EOF);
        if (nested) walk(nested, buf, next, post);
        else if (packable) {
          // packed scalars: a run of varints or fixed values
          let p = next;
          while (p < post) {
            if (expected === 0) p = varint(buf, p, post)[1];
            else p += expected === 1 ? 8 : 4;
          }
          if (p > post) throw new WireError(EOF);
        }
        i = post;
        break;
      }
      default:
        throw new WireError(`proto: wrong wireType = ${wireType} for field ${goName}`);
    }
  }
}

/**
 * What containerd's decoder would say about `bytes` as a `type` message (gogo's error
 * text, e.g. `proto: wrong wireType = 0 for field ID`), or undefined when it decodes.
 * Unknown message types are not checked.
 */
export function wireProblem(type: string, bytes: Uint8Array): string | undefined {
  try {
    walk(type, bytes, 0, bytes.length);
    return undefined;
  } catch (err) {
    if (err instanceof WireError) return err.message;
    throw err;
  }
}
