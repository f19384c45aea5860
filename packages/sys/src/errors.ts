// SysError: the error every function of this package throws when a syscall fails,
// shaped like Node's own fs errors (code, errno, syscall, path, dest).
import { getSystemErrorMap } from 'node:util';

let systemErrors: Map<number, [string, string]> | undefined;

/** Symbolic name of a (positive) errno value, e.g. 2 → 'ENOENT'. */
export function errnoName(errno: number): string {
  systemErrors ??= getSystemErrorMap();
  // Node keys its map by libuv's negated errno values.
  return systemErrors.get(-errno)?.[0] ?? `E${errno}`;
}

export interface SysErrorOptions {
  /** The path the call acted on (the target for mount/umount2). */
  path?: string;
  /** The second path of a two-path call (renameat2's new path). */
  dest?: string;
  /** Text appended to the message, e.g. a mount's source and type. */
  detail?: string;
  /** Human description of the errno; defaults to Node's. */
  description?: string;
}

/**
 * A failed syscall. `errno` is the positive libc value (Node's own fs errors carry
 * libuv's negated value instead); `code` is its name, as Node's errors have it.
 */
export class SysError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  // Declared only, so an absent path or dest is not an own property set to undefined.
  declare readonly path?: string;
  declare readonly dest?: string;

  constructor(errno: number, syscall: string, options: SysErrorOptions = {}) {
    const code = errnoName(errno);
    systemErrors ??= getSystemErrorMap();
    const description = options.description ?? systemErrors.get(-errno)?.[1] ?? `errno ${errno}`;
    let message = `${code}: ${description}, ${syscall}`;
    if (options.path !== undefined) message += ` '${options.path}'`;
    if (options.dest !== undefined) message += ` -> '${options.dest}'`;
    if (options.detail !== undefined) message += ` ${options.detail}`;
    super(message);
    this.name = 'SysError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (options.path !== undefined) this.path = options.path;
    if (options.dest !== undefined) this.dest = options.dest;
  }
}

/** True when `err` is a SysError, and has the given code when one is named. */
export function isSysError(err: unknown, code?: string): err is SysError {
  return err instanceof SysError && (code === undefined || err.code === code);
}
