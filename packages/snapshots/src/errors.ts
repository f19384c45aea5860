// Wrapping an error with context while keeping its containerd class, as Go's
// fmt.Errorf("context: %w", err) keeps errdefs.Is* working.
import { ContainerdError } from '@containerd-ts/errdefs';

/** `context: <message of err>`, of the same class as `err` (unknown for plain errors). */
export function wrapError(context: string, err: unknown): Error {
  const message = `${context}: ${err instanceof Error ? err.message : String(err)}`;
  if (err instanceof ContainerdError) {
    const wrapped = new ContainerdError(err.kind, undefined, { cause: err });
    wrapped.message = message;
    return wrapped;
  }
  return new Error(message, { cause: err });
}
