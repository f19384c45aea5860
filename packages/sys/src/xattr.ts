// Extended attributes on a path without following a final symlink (the l*xattr calls),
// as layer unpacking and overlay whiteouts need them.
import { constants } from 'node:os';
import { lastErrno, libc, sysError, throwErrno } from './libc.js';

/** lsetxattr flag: fail with EEXIST when the attribute already exists. */
export const XATTR_CREATE = 0x1;
/** lsetxattr flag: fail with ENODATA when the attribute does not exist. */
export const XATTR_REPLACE = 0x2;

const { ENODATA, ERANGE } = constants.errno;
// Most attributes (capabilities, overlay markers, ACLs) fit here: one call instead of two.
const FIRST_TRY = 256;
const MAX_TRIES = 8;

function nameDetail(name: string): string {
  return `(name '${name}')`;
}

/** Sets attribute `name` of `path` (not following a final symlink). */
export function lsetxattr(path: string, name: string, value: Buffer | Uint8Array | string, flags = 0): void {
  const buf = typeof value === 'string' ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (libc().lsetxattr(path, name, buf, buf.length, flags) !== 0) {
    throwErrno('lsetxattr', { path, detail: nameDetail(name) });
  }
}

/** Reads attribute `name` of `path`; null when the attribute is not set (ENODATA). */
export function lgetxattr(path: string, name: string): Buffer | null {
  const { lgetxattr: get } = libc();
  let buf = Buffer.allocUnsafe(FIRST_TRY);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const n = get(path, name, buf, buf.length);
    if (n >= 0) return Buffer.from(buf.subarray(0, n));
    const errno = lastErrno();
    if (errno === ENODATA) return null;
    if (errno !== ERANGE) throw sysError(errno, 'lgetxattr', { path, detail: nameDetail(name) });
    // Too small: ask for the current size, which may change again before the next read.
    const size = get(path, name, null, 0);
    if (size < 0) {
      const e = lastErrno();
      if (e === ENODATA) return null;
      throw sysError(e, 'lgetxattr', { path, detail: nameDetail(name) });
    }
    buf = Buffer.allocUnsafe(Math.max(size, buf.length * 2));
  }
  throw sysError(ERANGE, 'lgetxattr', { path, detail: nameDetail(name) });
}

/** Names of all attributes of `path` that this process may see (not following a final symlink). */
export function llistxattr(path: string): string[] {
  const { llistxattr: list } = libc();
  let buf = Buffer.allocUnsafe(FIRST_TRY);
  for (let tries = 0; tries < MAX_TRIES; tries++) {
    const n = list(path, buf, buf.length);
    if (n >= 0) {
      return buf
        .subarray(0, n)
        .toString('utf8')
        .split('\0')
        .filter((entry) => entry !== '');
    }
    const errno = lastErrno();
    if (errno !== ERANGE) throw sysError(errno, 'llistxattr', { path });
    const size = list(path, null, 0);
    if (size < 0) throwErrno('llistxattr', { path });
    buf = Buffer.allocUnsafe(Math.max(size, buf.length * 2));
  }
  throw sysError(ERANGE, 'llistxattr', { path });
}

/** Removes attribute `name` of `path`; SysError ENODATA when it is not set. */
export function lremovexattr(path: string, name: string): void {
  if (libc().lremovexattr(path, name) !== 0) throwErrno('lremovexattr', { path, detail: nameDetail(name) });
}
