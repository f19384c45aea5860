// flock(2): advisory whole-file locks, released by the kernel when the holder dies.
import { SysError } from './errors.js';
import { libc, throwErrno } from './libc.js';
import { nativeSys } from './native.js';

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/**
 * Takes an exclusive lock on open file descriptor `fd` without waiting. Returns false when
 * another open file description holds a lock on the file; throws a SysError otherwise.
 */
export function tryLockExclusive(fd: number): boolean {
  const native = nativeSys();
  if (native) {
    const r = native.flock(fd, LOCK_EX | LOCK_NB);
    if (r === 0) return true;
    if (r === -11 /* EWOULDBLOCK */) return false;
    throw new SysError(-r, 'flock');
  }
  if (libc().flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
  const errno = libc().koffi.errno();
  if (errno === 11 /* EWOULDBLOCK */) return false;
  throwErrno('flock');
}

/** Releases the lock held on `fd` (closing the descriptor also releases it). */
export function unlock(fd: number): void {
  const native = nativeSys();
  if (native) {
    const r = native.flock(fd, LOCK_UN);
    if (r !== 0) throw new SysError(-r, 'flock');
    return;
  }
  if (libc().flock(fd, LOCK_UN) !== 0) throwErrno('flock');
}
