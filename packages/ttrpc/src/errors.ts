// Errors of ttrpc calls as @containerd-ts/errdefs errors: a status from the peer keeps
// its gRPC code, message and details, so a caller can pass a shim's error on unchanged.
import type { Any } from '@containerd-ts/api';
import type { Status } from '@containerd-ts/api/types/status';
import { ContainerdError, GrpcCode, kindOfGrpcCode, toGrpcStatus } from '@containerd-ts/errdefs';

/**
 * A non-OK status: answered by the peer, or produced locally for a deadline, a cancel or
 * an oversized message. `kind` is errdefs' class of the code (so `isNotFound(err)` works),
 * `code` the exact gRPC code, `message` the status message, `details` the status details.
 */
export class TtrpcStatusError extends ContainerdError {
  readonly grpcCode: number;
  readonly details: Any[];
  constructor(code: number, message: string, details: Any[] = []) {
    super(kindOfGrpcCode(code));
    this.message = message;
    this.grpcCode = code;
    this.details = details;
  }
  override get code(): GrpcCode {
    const c = this.grpcCode;
    return (Number.isInteger(c) && c > 0 && c <= GrpcCode.UNAUTHENTICATED ? c : GrpcCode.UNKNOWN) as GrpcCode;
  }
  /** The google.rpc.Status this error stands for. */
  toStatus(): Status {
    return { code: this.grpcCode, message: this.message, details: this.details };
  }
}

/** ttrpc's ErrClosed text: the connection closed before the call got its answer. */
export const CLOSED_MESSAGE = 'ttrpc: closed';

/**
 * The connection is gone (closed by either side, or broken). Kind `unavailable`; test with
 * `isTtrpcClosed` — containerd treats a closed shim connection specially (e.g. State of a
 * task whose shim exited is NotFound).
 */
export class TtrpcClosedError extends ContainerdError {
  constructor(cause?: unknown) {
    super('unavailable', undefined, cause === undefined ? undefined : { cause });
    this.message = CLOSED_MESSAGE;
  }
}

export const isTtrpcClosed = (err: unknown): err is TtrpcClosedError => err instanceof TtrpcClosedError;

/** The status a server sends for anything a handler threw. */
export function statusFromError(err: unknown): Status {
  if (err instanceof TtrpcStatusError) return err.toStatus();
  const { code, details } = toGrpcStatus(err);
  return { code, message: details, details: [] };
}
