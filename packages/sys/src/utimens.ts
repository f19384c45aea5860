// utimensat(2) with nanosecond timestamps. Node's lutimes/utimes go through doubles and
// lose the nanoseconds that layer unpacking must keep.
import { AT_FDCWD, libc, type TimespecStruct, throwErrno } from './libc.js';

/** Do not follow a final symlink: set the link's own times. */
export const AT_SYMLINK_NOFOLLOW = 0x100;
/** As a Timespec's nsec: set this time to now. */
export const UTIME_NOW = 0x3fffffff;
/** As a Timespec's nsec: leave this time unchanged. */
export const UTIME_OMIT = 0x3ffffffe;

/** A point in time as seconds and nanoseconds since the epoch (struct timespec). */
export interface Timespec {
  sec: number | bigint;
  nsec: number | bigint;
}

/** A Timespec, or nanoseconds since the epoch (as Node's bigint Stats.mtimeNs gives). */
export type TimeValue = Timespec | bigint;

const NS_PER_SEC = 1_000_000_000n;

function toTimespec(value: TimeValue): TimespecStruct {
  if (typeof value !== 'bigint') return { tv_sec: value.sec, tv_nsec: value.nsec };
  // Floor division, so times before 1970 keep 0 <= nsec < 1e9 as the kernel requires.
  let sec = value / NS_PER_SEC;
  let nsec = value % NS_PER_SEC;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += NS_PER_SEC;
  }
  return { tv_sec: sec, tv_nsec: Number(nsec) };
}

/** utimensat(2) relative to the working directory; `flags` may hold AT_SYMLINK_NOFOLLOW. */
export function utimensat(path: string, atime: TimeValue, mtime: TimeValue, flags = 0): void {
  const times = { atime: toTimespec(atime), mtime: toTimespec(mtime) };
  if (libc().utimensat(AT_FDCWD, path, times, flags) !== 0) throwErrno('utimensat', { path });
}

/** Sets access and modification time of `path` itself, symlink or not, to the nanosecond. */
export function utimensatNoFollow(path: string, atime: TimeValue, mtime: TimeValue): void {
  utimensat(path, atime, mtime, AT_SYMLINK_NOFOLLOW);
}
