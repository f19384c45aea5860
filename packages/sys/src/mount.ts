// mount(2) and umount2(2), synchronous and on koffi's worker pool (a mount can block
// for as long as the file system takes: NFS, a slow device, an overlay with many lowers).
import { callAsync, libc, throwErrno } from './libc.js';

// mountflags of mount(2), from <linux/mount.h>.
export const MS_RDONLY = 0x1;
export const MS_NOSUID = 0x2;
export const MS_NODEV = 0x4;
export const MS_NOEXEC = 0x8;
export const MS_SYNCHRONOUS = 0x10;
export const MS_REMOUNT = 0x20;
export const MS_MANDLOCK = 0x40;
export const MS_DIRSYNC = 0x80;
export const MS_NOSYMFOLLOW = 0x100;
export const MS_NOATIME = 0x400;
export const MS_NODIRATIME = 0x800;
export const MS_BIND = 0x1000;
export const MS_MOVE = 0x2000;
export const MS_REC = 0x4000;
export const MS_SILENT = 0x8000;
export const MS_POSIXACL = 0x10000;
export const MS_UNBINDABLE = 0x20000;
export const MS_PRIVATE = 0x40000;
export const MS_SLAVE = 0x80000;
export const MS_SHARED = 0x100000;
export const MS_RELATIME = 0x200000;
export const MS_STRICTATIME = 0x1000000;
export const MS_LAZYTIME = 0x2000000;

// flags of umount2(2).
export const MNT_FORCE = 0x1;
export const MNT_DETACH = 0x2;
export const MNT_EXPIRE = 0x4;
export const UMOUNT_NOFOLLOW = 0x8;

function describe(source: string | null, fstype: string | null): string {
  return `(source '${source ?? ''}', type '${fstype ?? ''}')`;
}

/**
 * mount(2). `source` and `fstype` may be null where the kernel ignores them (remount,
 * propagation changes); `data` is the file-system option string (e.g. overlay's
 * `lowerdir=…,upperdir=…,workdir=…`). Throws SysError with `path` = target.
 */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data?: string): void {
  if (libc().mount(source, target, fstype, flags, data ?? null) !== 0) {
    throwErrno('mount', { path: target, detail: describe(source, fstype) });
  }
}

/** mount(2) run off the JS thread. */
export async function mountAsync(
  source: string | null,
  target: string,
  fstype: string | null,
  flags: number,
  data?: string,
): Promise<void> {
  await callAsync(libc().mount, [source, target, fstype, flags, data ?? null], 'mount', {
    path: target,
    detail: describe(source, fstype),
  });
}

/** umount2(2) with MNT_* / UMOUNT_NOFOLLOW flags. */
export function umount2(target: string, flags = 0): void {
  if (libc().umount2(target, flags) !== 0) throwErrno('umount2', { path: target });
}

/** umount2(2) run off the JS thread (an unmount may have to flush dirty data). */
export async function umount2Async(target: string, flags = 0): Promise<void> {
  await callAsync(libc().umount2, [target, flags], 'umount2', { path: target });
}
