// @containerd-ts/sys: the Linux syscalls Node.js lacks, through koffi. koffi and glibc
// load on the first call, so importing this package costs nothing. flock, getdents64 and
// malloc_trim go through the package's own small addon where it was built (native.ts).
export { SysError, type SysErrorOptions, errnoName, isSysError } from './errors.js';
export * from './mount.js';
export { makedev, major, minor, mknod } from './mknod.js';
export { XATTR_CREATE, XATTR_REPLACE, lgetxattr, llistxattr, lremovexattr, lsetxattr } from './xattr.js';
export * from './statfs.js';
export * from './rename.js';
export { syncfs, syncfsAsync } from './syncfs.js';
export * from './utimens.js';
export * from './dirent.js';
export { LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, tryLockExclusive, unlock } from './flock.js';
export { type PosixSpawnOptions, type WaitStatus, pipe, posixSpawn, waitpidNoHang } from './spawn.js';
export { mallocTrim, setMallocArenaMax } from './malloc.js';
export { NATIVE_ADDON, type NativeSys, nativeSys } from './native.js';
export { EFD_CLOEXEC, EFD_NONBLOCK, closeEventfd, eventfd, readEventfd } from './eventfd.js';
