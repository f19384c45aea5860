// containerd's error classes (errdefs) and their gRPC status codes.
// Messages follow containerd: "<context>: not found", so a client that matches on
// the suffix (as ctr and the Go client do) classifies our errors as containerd's.

/** gRPC status codes, numerically as on the wire (no grpc-js dependency here). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof GrpcCode)[keyof typeof GrpcCode];

/** Names of gRPC codes as Go's codes.Code.String() prints them (ctr shows these). */
export const grpcCodeName: Record<number, string> = {
  0: 'OK',
  1: 'Canceled',
  2: 'Unknown',
  3: 'InvalidArgument',
  4: 'DeadlineExceeded',
  5: 'NotFound',
  6: 'AlreadyExists',
  7: 'PermissionDenied',
  8: 'ResourceExhausted',
  9: 'FailedPrecondition',
  10: 'Aborted',
  11: 'OutOfRange',
  12: 'Unimplemented',
  13: 'Internal',
  14: 'Unavailable',
  15: 'DataLoss',
  16: 'Unauthenticated',
};

export type ErrorKind =
  | 'unknown'
  | 'invalid-argument'
  | 'not-found'
  | 'already-exists'
  | 'failed-precondition'
  | 'unavailable'
  | 'not-implemented'
  | 'canceled'
  | 'deadline-exceeded';

const kinds: Record<ErrorKind, { code: GrpcCode; text: string }> = {
  unknown: { code: GrpcCode.UNKNOWN, text: 'unknown' },
  'invalid-argument': { code: GrpcCode.INVALID_ARGUMENT, text: 'invalid argument' },
  'not-found': { code: GrpcCode.NOT_FOUND, text: 'not found' },
  'already-exists': { code: GrpcCode.ALREADY_EXISTS, text: 'already exists' },
  'failed-precondition': { code: GrpcCode.FAILED_PRECONDITION, text: 'failed precondition' },
  unavailable: { code: GrpcCode.UNAVAILABLE, text: 'unavailable' },
  'not-implemented': { code: GrpcCode.UNIMPLEMENTED, text: 'not implemented' },
  canceled: { code: GrpcCode.CANCELLED, text: 'context canceled' },
  'deadline-exceeded': { code: GrpcCode.DEADLINE_EXCEEDED, text: 'context deadline exceeded' },
};

/** An error of one of containerd's classes. `message` is the full text sent to clients. */
export class ContainerdError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, context?: string, options?: { cause?: unknown }) {
    const text = kinds[kind].text;
    super(context ? `${context}: ${text}` : text, options);
    this.kind = kind;
    this.name = 'ContainerdError';
  }
  get code(): GrpcCode {
    return kinds[this.kind].code;
  }
}

/**
 * A ContainerdError whose message is taken as is and whose gRPC code is the one received
 * (used when decoding a remote error): a code without a class of its own, such as
 * ResourceExhausted or Internal, is kind `unknown` but passes through unchanged.
 */
class RemoteContainerdError extends ContainerdError {
  private readonly remoteCode: GrpcCode;
  constructor(kind: ErrorKind, message: string, code: GrpcCode) {
    super(kind);
    this.message = message;
    this.remoteCode = code;
  }
  override get code(): GrpcCode {
    return this.remoteCode;
  }
}

export const notFound = (context?: string, cause?: unknown) => new ContainerdError('not-found', context, { cause });
export const alreadyExists = (context?: string, cause?: unknown) =>
  new ContainerdError('already-exists', context, { cause });
export const invalidArgument = (context?: string, cause?: unknown) =>
  new ContainerdError('invalid-argument', context, { cause });
export const failedPrecondition = (context?: string, cause?: unknown) =>
  new ContainerdError('failed-precondition', context, { cause });
export const unavailable = (context?: string, cause?: unknown) => new ContainerdError('unavailable', context, { cause });
export const notImplemented = (context?: string, cause?: unknown) =>
  new ContainerdError('not-implemented', context, { cause });
export const canceled = (context?: string, cause?: unknown) => new ContainerdError('canceled', context, { cause });

/**
 * True for a ContainerdError from this or another copy of this package (a third-party
 * plugin bundles its own): recognised by name and a known kind, not only by class.
 */
export const isContainerdError = (err: unknown): err is ContainerdError =>
  err instanceof ContainerdError ||
  (err instanceof Error && err.name === 'ContainerdError' && typeof (err as ContainerdError).kind === 'string' && (err as ContainerdError).kind in kinds);

export const isKind = (err: unknown, kind: ErrorKind): boolean => isContainerdError(err) && err.kind === kind;
export const isNotFound = (err: unknown) => isKind(err, 'not-found');
export const isAlreadyExists = (err: unknown) => isKind(err, 'already-exists');
export const isInvalidArgument = (err: unknown) => isKind(err, 'invalid-argument');
export const isFailedPrecondition = (err: unknown) => isKind(err, 'failed-precondition');
export const isUnavailable = (err: unknown) => isKind(err, 'unavailable');
export const isNotImplemented = (err: unknown) => isKind(err, 'not-implemented');

/** The gRPC status for any thrown value: classified errors keep their code, the rest are Unknown. */
export function toGrpcStatus(err: unknown): { code: GrpcCode; details: string } {
  if (isContainerdError(err)) {
    // A decoded remote error keeps the code it arrived with (see fromGrpcStatus).
    const code: unknown = err.code;
    const valid = typeof code === 'number' && Number.isInteger(code) && code > GrpcCode.OK && code <= GrpcCode.UNAUTHENTICATED;
    return { code: valid ? (code as GrpcCode) : kinds[err.kind].code, details: err.message };
  }
  if (err instanceof Error) return { code: GrpcCode.UNKNOWN, details: err.message };
  return { code: GrpcCode.UNKNOWN, details: String(err) };
}

const codeToKind: Partial<Record<number, ErrorKind>> = {
  [GrpcCode.INVALID_ARGUMENT]: 'invalid-argument',
  [GrpcCode.NOT_FOUND]: 'not-found',
  [GrpcCode.ALREADY_EXISTS]: 'already-exists',
  [GrpcCode.FAILED_PRECONDITION]: 'failed-precondition',
  [GrpcCode.UNAVAILABLE]: 'unavailable',
  [GrpcCode.UNIMPLEMENTED]: 'not-implemented',
  [GrpcCode.CANCELLED]: 'canceled',
  [GrpcCode.DEADLINE_EXCEEDED]: 'deadline-exceeded',
};

/** The error class of a gRPC code (`unknown` for codes without one). */
export const kindOfGrpcCode = (code: number): ErrorKind => codeToKind[code] ?? 'unknown';

/**
 * errdefs.FromGRPC's text of an error (as a Go client prints one it received): the message
 * with its class's text at the end (`…: already exists`), added when the daemon's message
 * lacks it. Other errors: their message.
 */
export function goErrorText(err: unknown): string {
  if (!isContainerdError(err)) return err instanceof Error ? err.message : String(err);
  const cls = kinds[err.kind].text;
  if (err.message === cls) return cls;
  const desc = err.message.endsWith(`: ${cls}`) ? err.message.slice(0, -(cls.length + 2)) : err.message;
  return `${desc}: ${cls}`;
}

/**
 * Decodes a gRPC error (code + details) from a remote containerd or shim into a
 * ContainerdError; `toGrpcStatus` of it gives the same code and details back.
 */
export function fromGrpcStatus(code: number, details: string): ContainerdError {
  const known = code >= GrpcCode.CANCELLED && code <= GrpcCode.UNAUTHENTICATED && Number.isInteger(code);
  return new RemoteContainerdError(kindOfGrpcCode(code), details, known ? (code as GrpcCode) : GrpcCode.UNKNOWN);
}
