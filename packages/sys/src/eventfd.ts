// eventfd(2): a counter the kernel can signal (cgroup v1 memory OOM notifications are
// delivered through one registered in `cgroup.event_control`). Node cannot watch such a
// descriptor, so it is made non-blocking and read when its owner polls it.
import { closeSync } from 'node:fs';
import { libc, throwErrno } from './libc.js';

export const EFD_CLOEXEC = 0o2000000;
export const EFD_NONBLOCK = 0o4000;

/** A new non-blocking, close-on-exec eventfd with counter 0. */
export function eventfd(): number {
  const fd = libc().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throwErrno('eventfd');
  return fd;
}

/**
 * Reads (and so resets) an eventfd's counter: the number of signals since the last read,
 * or 0 when there were none (the read would block). Throws a SysError otherwise.
 */
export function readEventfd(fd: number): bigint {
  const buf = Buffer.alloc(8);
  const n = libc().read(fd, buf, 8);
  if (n === 8) return buf.readBigUInt64LE(0);
  if (n < 0 && libc().koffi.errno() === 11 /* EAGAIN */) return 0n;
  throwErrno('read');
}

/** Closes an eventfd. */
export function closeEventfd(fd: number): void {
  closeSync(fd);
}
