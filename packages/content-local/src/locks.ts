// In-process locks on ingest refs: one writer per ref at a time. A refusal names how
// long and since when the ref has been held, as containerd's `ref … locked for …`.
import type { Status } from '@containerd-ts/content';
import { unavailable } from '@containerd-ts/errdefs';

/** What holds a ref: the open writer, which `abort` can cancel. */
export interface LockOwner {
  /** What has been written so far. */
  currentStatus(): Status;
  /** Stops the writer for an abort; the lock stays held for the aborter to release. */
  cancel(): Promise<void>;
}

export interface RefLock {
  readonly since: Date;
  owner: LockOwner | undefined;
  /** Frees the ref (idempotent). */
  release(): void;
}

interface Entry extends RefLock {
  readonly sinceNs: bigint;
  readonly released: Promise<void>;
}

// Keyed by store root and ref, so two stores on one root in a process share locks
// while stores on different roots never contend.
const held = new Map<string, Entry>();

const lockKey = (root: string, ref: string): string => `${root}\u0000${ref}`;

/** The lock currently held on `ref` in the store at `root`, if any. */
export const heldLock = (root: string, ref: string): RefLock | undefined => held.get(lockKey(root, ref));

function take(key: string): Entry {
  let resolve = () => {};
  const released = new Promise<void>((r) => {
    resolve = r;
  });
  const entry: Entry = {
    since: new Date(),
    sinceNs: process.hrtime.bigint(),
    owner: undefined,
    released,
    release() {
      if (held.get(key) === entry) held.delete(key);
      resolve();
    },
  };
  held.set(key, entry);
  return entry;
}

/**
 * Locks `ref`, waiting up to `waitMs` for a current holder to let go (containerd
 * retries for about as long). Refused with `unavailable`.
 */
export async function lockRef(root: string, ref: string, waitMs: number, signal?: AbortSignal): Promise<RefLock> {
  const key = lockKey(root, ref);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const current = held.get(key);
    if (!current) return take(key);
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal?.aborted) {
      const elapsed = process.hrtime.bigint() - current.sinceNs;
      throw unavailable(`ref ${ref} locked for ${formatGoDuration(elapsed)} (since ${formatGoTime(current.since)})`);
    }
    let wake = () => {};
    const timer = setTimeout(() => wake(), remaining);
    const onAbort = () => wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    await Promise.race([current.released, new Promise<void>((resolve) => (wake = resolve))]);
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

// Prints a duration in nanoseconds the way Go's time.Duration does: 0s, 750ns, 1.5µs, 2.25ms, 1m3.5s.
export function formatGoDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const sign = ns < 0n ? '-' : '';
  const abs = ns < 0n ? -ns : ns;
  const decimal = (value: bigint, digits: number): string => {
    const unit = 10n ** BigInt(digits);
    const frac = (value % unit).toString().padStart(digits, '0').replace(/0+$/, '');
    return frac ? `${value / unit}.${frac}` : `${value / unit}`;
  };
  if (abs < 1000n) return `${sign}${abs}ns`;
  if (abs < 1_000_000n) return `${sign}${decimal(abs, 3)}µs`;
  if (abs < 1_000_000_000n) return `${sign}${decimal(abs, 6)}ms`;
  const hours = abs / 3_600_000_000_000n;
  const minutes = (abs / 60_000_000_000n) % 60n;
  const seconds = `${decimal(abs % 60_000_000_000n, 9)}s`;
  if (hours > 0n) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0n) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

// Prints a time the way Go's time.Time.String does (in UTC): 2006-01-02 15:04:05.123 +0000 UTC.
export function formatGoTime(t: Date): string {
  const iso = t.toISOString(); // 2006-01-02T15:04:05.123Z
  const ms = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? `.${ms}` : ''} +0000 UTC`;
}
