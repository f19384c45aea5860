// Messages between applyLayer's caller thread and an apply worker (apply-in-worker.ts,
// apply-worker.ts). Every message names its job: a reused worker ignores what is left of
// an earlier job, and so does the caller.
import type { ApplyResult, WhiteoutMode } from './apply.js';

/** What an apply needs besides its bytes: the ApplyOptions that can cross threads. */
export interface WorkerApplyOptions {
  mediaType?: string;
  whiteouts?: WhiteoutMode;
  parents?: readonly string[];
  userxattr?: boolean;
  /** Whether the caller has a logger (the worker then sends its log lines). */
  log: boolean;
}

export type ToApplyWorker =
  /** `stop`: an Int32Array's buffer whose element 0 the caller sets to 1 on abort (seen before each entry). */
  | { t: 'job'; id: number; root: string; options: WorkerApplyOptions; stop: SharedArrayBuffer }
  /** Compressed layer bytes (transferred). */
  | { t: 'in'; id: number; buf: ArrayBuffer; off: number; len: number }
  /** The source ended. */
  | { t: 'end'; id: number }
  /** The source failed: stop (the caller reports its own error). */
  | { t: 'source-error'; id: number; message: string }
  /** The caller's signal fired: stop as an aborted apply does. */
  | { t: 'abort'; id: number };

export type FromApplyWorker =
  /** Input bytes the applier has taken (credit for more). */
  | { t: 'taken'; id: number; bytes: number }
  | { t: 'log'; id: number; level: 'warn' | 'debug'; obj: object | string; msg?: string }
  | { t: 'done'; id: number; result: ApplyResult }
  /** The apply failed; the worker is ready for another job. */
  | { t: 'error'; id: number; error: SerializedError };

/** An error as it crosses threads: class name, message, stack, primitive own properties, cause. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** Own properties with primitive values (code, errno, syscall, path, dest, kind…). */
  props: Record<string, string | number | boolean>;
  cause?: SerializedError;
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), props: {} };
  const props: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(err) as Array<[string, unknown]>) {
    if (key === 'cause') continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') props[key] = value;
  }
  const out: SerializedError = { name: err.name, message: err.message, props };
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined && depth < 8) out.cause = serializeError(err.cause, depth + 1);
  return out;
}
