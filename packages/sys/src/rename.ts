// renameat2(2): rename with RENAME_NOREPLACE (atomic "create if absent") and
// RENAME_EXCHANGE (atomic swap), which fs.rename cannot express.
import { AT_FDCWD, libc, throwErrno } from './libc.js';

/** Fail with EEXIST instead of replacing an existing newPath. */
export const RENAME_NOREPLACE = 0x1;
/** Atomically swap oldPath and newPath; both must exist. */
export const RENAME_EXCHANGE = 0x2;
/** Leave an overlay whiteout at oldPath (needs CAP_MKNOD). */
export const RENAME_WHITEOUT = 0x4;

/** renameat2(2) on two paths (relative ones resolve against the working directory). */
export function renameat2(oldPath: string, newPath: string, flags = 0): void {
  if (libc().renameat2(AT_FDCWD, oldPath, AT_FDCWD, newPath, flags) !== 0) {
    throwErrno('renameat2', { path: oldPath, dest: newPath });
  }
}
