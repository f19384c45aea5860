// The one place that touches koffi: loads it and glibc on first use (so importing this
// package costs nothing at daemon start), declares the C prototypes and struct
// layouts, and turns a failed call's errno into a SysError.
import { createRequire } from 'node:module';
import { SysError, type SysErrorOptions } from './errors.js';

type Koffi = typeof import('koffi');
type Callback<R> = (err: unknown, result: R) => void;

/** A bound C function: callable on the JS thread, or on koffi's worker pool via `async`. */
export interface CFunction<A extends unknown[], R> {
  (...args: A): R;
  async(...args: [...A, Callback<R>]): void;
}

/** glibc's `struct statfs` on 64-bit Linux (x86_64, aarch64), as koffi decodes it. */
export interface StatfsStruct {
  f_type: number;
  f_bsize: number;
  f_blocks: number;
  f_bfree: number;
  f_bavail: number;
  f_files: number;
  f_ffree: number;
  f_namelen: number;
  f_frsize: number;
  f_flags: number;
}

export interface TimespecStruct {
  tv_sec: number | bigint;
  tv_nsec: number | bigint;
}

export interface Libc {
  koffi: Koffi;
  mount: CFunction<[string | null, string, string | null, number, string | null], number>;
  umount2: CFunction<[string, number], number>;
  mknod: (path: string, mode: number, dev: bigint) => number;
  lsetxattr: CFunction<[string, string, Buffer, number, number], number>;
  lgetxattr: CFunction<[string, string, Buffer | null, number], number>;
  llistxattr: CFunction<[string, Buffer | null, number], number>;
  lremovexattr: CFunction<[string, string], number>;
  statfs: CFunction<[string, Partial<StatfsStruct>], number>;
  renameat2: CFunction<[number, string, number, string, number], number>;
  syncfs: CFunction<[number], number>;
  flock: CFunction<[number, number], number>;
  utimensat: CFunction<[number, string, { atime: TimespecStruct; mtime: TimespecStruct }, number], number>;
  getdents64: (fd: number, buf: Buffer, size: number) => number;
  strerror: (errno: number) => string;
  posixSpawn: (pid: number[], path: string, fileActions: Buffer, attr: Buffer, argv: (string | null)[], envp: (string | null)[]) => number;
  spawnFileActionsInit: (fa: Buffer) => number;
  spawnFileActionsDestroy: (fa: Buffer) => number;
  spawnFileActionsAddDup2: (fa: Buffer, fd: number, newfd: number) => number;
  /** glibc 2.29 and later; undefined before. */
  spawnFileActionsAddChdir: ((fa: Buffer, path: string) => number) | undefined;
  spawnAttrInit: (attr: Buffer) => number;
  spawnAttrDestroy: (attr: Buffer) => number;
  spawnAttrSetFlags: (attr: Buffer, flags: number) => number;
  spawnAttrSetPgroup: (attr: Buffer, pgroup: number) => number;
  spawnAttrSetSigDefault: (attr: Buffer, set: Buffer) => number;
  spawnAttrSetSigMask: (attr: Buffer, set: Buffer) => number;
  sigfillset: (set: Buffer) => number;
  sigemptyset: (set: Buffer) => number;
  pipe2: (fds: number[], flags: number) => number;
  eventfd: (initval: number, flags: number) => number;
  read: (fd: number, buf: Buffer, count: number) => number;
  waitpid: (pid: number, status: number[], options: number) => number;
  /** glibc's malloc_trim and mallopt; undefined on a C library without them (musl). */
  mallocTrim: ((pad: number) => number) | undefined;
  mallopt: ((param: number, value: number) => number) | undefined;
  /** glibc before 2.33 exports mknod only as `__xmknod`; bound when present. */
  legacyMknod: ((path: string, mode: number, dev: bigint) => number) | undefined;
}

/** `AT_FDCWD`: relative paths of the *at() calls resolve against the working directory. */
export const AT_FDCWD = -100;

let loaded: Libc | undefined;

/** Whether koffi and glibc have been loaded yet (they load on the first call). */
export function libcLoaded(): boolean {
  return loaded !== undefined;
}

export function libc(): Libc {
  loaded ??= load();
  return loaded;
}

function load(): Libc {
  if (process.platform !== 'linux') throw new Error(`@containerd-ts/sys: Linux only (this is ${process.platform})`);
  const koffi: Koffi = createRequire(import.meta.url)('koffi');
  if (koffi.sizeof('long') !== 8) throw new Error('@containerd-ts/sys: needs a 64-bit Linux (x86_64 or arm64)');
  const lib = koffi.load('libc.so.6');

  // Struct types are anonymous: koffi's type names are global to the process, and a plugin
  // loaded from plugin_dir brings its own copy of this package (a named type would be a
  // "duplicate type name" error in the second copy).
  // __fsword_t is a long, fsblkcnt_t and fsfilcnt_t are 64-bit on both supported ABIs.
  const statfsType = koffi.struct({
    f_type: 'long',
    f_bsize: 'long',
    f_blocks: 'uint64',
    f_bfree: 'uint64',
    f_bavail: 'uint64',
    f_files: 'uint64',
    f_ffree: 'uint64',
    f_fsid: koffi.array('int', 2),
    f_namelen: 'long',
    f_frsize: 'long',
    f_flags: 'long',
    f_spare: koffi.array('long', 4),
  });
  if (koffi.sizeof(statfsType) !== 120) throw new Error('@containerd-ts/sys: unexpected struct statfs size');
  const timespecType = koffi.struct({ tv_sec: 'int64', tv_nsec: 'long' });
  const timesType = koffi.struct({ atime: timespecType, mtime: timespecType });

  let legacyMknod: Libc['legacyMknod'];
  try {
    const xmknod = lib.func('__xmknod', 'int', ['int', 'const char *', 'uint32', koffi.pointer('uint64')]);
    // _MKNOD_VER_LINUX is 0 on x86_64 and on the generic ABI aarch64 uses.
    legacyMknod = (path, mode, dev) => xmknod(0, path, mode, [dev]);
  } catch {
    legacyMknod = undefined;
  }
  let mknod: Libc['mknod'];
  try {
    mknod = lib.func('mknod', 'int', ['const char *', 'uint32', 'uint64']);
  } catch (err) {
    if (!legacyMknod) throw err;
    mknod = legacyMknod;
  }

  let getdents64: Libc['getdents64'];
  try {
    getdents64 = lib.func('getdents64', 'long', ['int', 'void *', 'size_t']);
  } catch {
    // glibc before 2.30 has no wrapper: the raw system call (its number differs per ABI).
    const syscall = lib.func('long syscall(long number, ...)');
    const nr = process.arch === 'arm64' ? 61 : 217;
    getdents64 = (fd, buf, size) => syscall(nr, 'int', fd, 'void *', buf, 'size_t', size);
  }

  let spawnFileActionsAddChdir: Libc['spawnFileActionsAddChdir'];
  try {
    spawnFileActionsAddChdir = lib.func('int posix_spawn_file_actions_addchdir_np(void *fa, const char *path)');
  } catch {
    spawnFileActionsAddChdir = undefined;
  }
  let mallocTrim: Libc['mallocTrim'];
  let mallopt: Libc['mallopt'];
  try {
    mallocTrim = lib.func('malloc_trim', 'int', ['size_t']);
    mallopt = lib.func('mallopt', 'int', ['int', 'int']);
  } catch {
    mallocTrim = undefined;
    mallopt = undefined;
  }

  return {
    koffi,
    mallocTrim,
    mallopt,
    mount: lib.func('mount', 'int', ['const char *', 'const char *', 'const char *', 'unsigned long', 'const char *']),
    umount2: lib.func('umount2', 'int', ['const char *', 'int']),
    mknod,
    lsetxattr: lib.func('lsetxattr', 'int', ['const char *', 'const char *', 'const void *', 'size_t', 'int']),
    lgetxattr: lib.func('lgetxattr', 'long', ['const char *', 'const char *', 'void *', 'size_t']),
    llistxattr: lib.func('llistxattr', 'long', ['const char *', 'void *', 'size_t']),
    lremovexattr: lib.func('lremovexattr', 'int', ['const char *', 'const char *']),
    statfs: lib.func('statfs', 'int', ['const char *', koffi.out(koffi.pointer(statfsType))]),
    renameat2: lib.func('renameat2', 'int', ['int', 'const char *', 'int', 'const char *', 'unsigned int']),
    syncfs: lib.func('syncfs', 'int', ['int']),
    flock: lib.func('flock', 'int', ['int', 'int']),
    utimensat: lib.func('utimensat', 'int', ['int', 'const char *', koffi.pointer(timesType), 'int']),
    getdents64,
    strerror: lib.func('strerror', 'const char *', ['int']),
    posixSpawn: lib.func('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
    spawnFileActionsInit: lib.func('int posix_spawn_file_actions_init(void *fa)'),
    spawnFileActionsDestroy: lib.func('int posix_spawn_file_actions_destroy(void *fa)'),
    spawnFileActionsAddDup2: lib.func('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
    spawnFileActionsAddChdir,
    spawnAttrInit: lib.func('int posix_spawnattr_init(void *attr)'),
    spawnAttrDestroy: lib.func('int posix_spawnattr_destroy(void *attr)'),
    spawnAttrSetFlags: lib.func('int posix_spawnattr_setflags(void *attr, short flags)'),
    spawnAttrSetPgroup: lib.func('int posix_spawnattr_setpgroup(void *attr, int pgroup)'),
    spawnAttrSetSigDefault: lib.func('int posix_spawnattr_setsigdefault(void *attr, void *set)'),
    spawnAttrSetSigMask: lib.func('int posix_spawnattr_setsigmask(void *attr, void *set)'),
    sigfillset: lib.func('int sigfillset(void *set)'),
    sigemptyset: lib.func('int sigemptyset(void *set)'),
    pipe2: lib.func('int pipe2(_Out_ int *fds, int flags)'),
    eventfd: lib.func('int eventfd(unsigned int initval, int flags)'),
    read: lib.func('long read(int fd, void *buf, size_t count)'),
    waitpid: lib.func('int waitpid(int pid, _Out_ int *status, int options)'),
    legacyMknod,
  };
}

/** The errno the last synchronous C call left; read it straight after the call. */
export function lastErrno(): number {
  return libc().koffi.errno();
}

/** The SysError for `errno`, described with glibc's strerror text. */
export function sysError(errno: number, syscall: string, options: SysErrorOptions = {}): SysError {
  const text = libc().strerror(errno);
  const description = text ? text.charAt(0).toLowerCase() + text.slice(1) : undefined;
  return new SysError(errno, syscall, description === undefined ? options : { ...options, description });
}

/**
 * Throws the SysError for the errno the failed call just left. Call it straight after
 * the C call, before anything else can overwrite errno.
 */
export function throwErrno(syscall: string, options: SysErrorOptions = {}): never {
  const err = sysError(libc().koffi.errno(), syscall, options);
  Error.captureStackTrace(err, throwErrno);
  throw err;
}

/**
 * Runs a C function on koffi's worker pool. koffi restores the worker's errno while
 * our callback runs, so it is read there; a result of -1 rejects with a SysError.
 */
export function callAsync<A extends unknown[], R extends number>(
  fn: CFunction<A, R>,
  args: A,
  syscall: string,
  options: SysErrorOptions = {},
): Promise<R> {
  const { koffi } = libc();
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, result: R) => {
      if (err) reject(err);
      else if (result === -1) reject(sysError(koffi.errno(), syscall, options));
      else resolve(result);
    });
  });
}
