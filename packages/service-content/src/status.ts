// gRPC statuses the content API answers with beyond containerd's error classes
// (OutOfRange, DataLoss, Unknown with a set message), how any thrown value becomes the
// status a streaming call ends with, and Go's `%q` quoting used in some messages.
import { canceled, fromGrpcStatus, GrpcCode } from '@containerd-ts/errdefs';
import { toServiceError } from '@containerd-ts/grpc-server';
import type { ServiceError } from '@grpc/grpc-js';

/** An error that ends a call with exactly this code and message. */
export class GrpcStatusError extends Error {
  readonly code: GrpcCode;
  readonly details: string;

  constructor(code: GrpcCode, details: string) {
    super(details);
    this.name = 'GrpcStatusError';
    this.code = code;
    this.details = details;
  }
}

/** The status a call ends with for `err`: its own code, containerd's for an errdefs class, else Unknown. */
export function toStatus(err: unknown): Partial<ServiceError> & { code: number; details: string } {
  if (err instanceof GrpcStatusError) return { code: err.code, details: err.details, message: err.details };
  const { code = GrpcCode.UNKNOWN, details = String(err) } = toServiceError(err);
  return { code, details, message: details };
}

/**
 * `err` with `prefix: ` in front of its message, keeping its class (as Go's
 * `fmt.Errorf("%s: %w", prefix, err)` keeps what errdefs.Is matches).
 */
export function withPrefix(prefix: string, err: unknown): Error {
  const status = toStatus(err);
  const details = `${prefix}: ${status.details}`;
  if (err instanceof GrpcStatusError || status.code === GrpcCode.UNKNOWN) return new GrpcStatusError(status.code as GrpcCode, details);
  return fromGrpcStatus(status.code, details);
}

/** Message of any thrown value. */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

// Go's unicode.IsPrint is approximated by: not a control or format character, not a
// lone surrogate, not an unassigned or private-use code point.
const notPrintable = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}]/u;

const shortEscapes: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/** A string quoted as Go's `%q` (strconv.Quote) prints it. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const short = shortEscapes[ch];
    if (short) {
      out += short;
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === ' ' || !notPrintable.test(ch)) {
      out += ch;
    } else if (cp < 0x80) {
      out += `\\x${cp.toString(16).padStart(2, '0')}`;
    } else if (cp < 0x10000) {
      out += `\\u${cp.toString(16).padStart(4, '0')}`;
    } else {
      out += `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return `${out}"`;
}

/** Go's zero time.Time, which containerd sends for timestamps it always fills in. */
export { GO_ZERO_TIME } from '@containerd-ts/timestamp';

const cancelReason = canceled();

/**
 * A signal aborted when the call is cancelled. grpc-js reports "cancelled" at the end of
 * every call, finished or not; the reason is made once, so no call pays for an
 * AbortError with a stack trace.
 */
export function cancellationSignal(call: { on(event: 'cancelled', fn: () => void): unknown }): AbortSignal {
  const controller = new AbortController();
  call.on('cancelled', () => controller.abort(cancelReason));
  return controller.signal;
}
