// mknod(2) and glibc's dev_t encoding (makedev/major/minor), for device nodes, fifos
// and overlay whiteouts (a character device 0:0).
import { libc, throwErrno } from './libc.js';

/**
 * mknod(2). `mode` carries the file type (fs.constants.S_IFCHR, S_IFBLK, S_IFIFO,
 * S_IFREG, S_IFSOCK) or'ed with the permission bits; the umask applies as usual.
 * `dev` matters only for device nodes (see makedev).
 */
export function mknod(path: string, mode: number, dev: number | bigint = 0): void {
  if (libc().mknod(path, mode, BigInt(dev)) !== 0) throwErrno('mknod', { path });
}

/**
 * Encodes a device number as glibc's makedev(3) does: the low 8 bits of the minor,
 * then 12 bits of major, then the rest of the minor, then the rest of the major.
 * The same value Node reports as `Stats.rdev`.
 */
export function makedev(major: number, minor: number): number {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  const dev = ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
  if (dev > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError(`device ${major}:${minor} does not fit a number`);
  return Number(dev);
}

/** The major number of a device number (glibc's major(3)). */
export function major(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 32n) & 0xfffff000n) | ((d >> 8n) & 0xfffn));
}

/** The minor number of a device number (glibc's minor(3)). */
export function minor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 12n) & 0xffffff00n) | (d & 0xffn));
}
