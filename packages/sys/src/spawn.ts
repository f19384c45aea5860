// posix_spawn(3): starting a program without fork(). Node's child_process forks the
// whole daemon first (libuv), which copies its page tables and blocks the event loop for
// tens of milliseconds once the heap is large; glibc's posix_spawn shares the parent's
// memory until exec (clone with CLONE_VM|CLONE_VFORK), as Go's os/exec does. The caller
// gets a pid and the descriptors it asked for; waiting is `waitpidNoHang`.
import { constants } from 'node:os';
import { libc, sysError, throwErrno } from './libc.js';

const O_CLOEXEC = 0o2000000;
const POSIX_SPAWN_SETPGROUP = 0x02;
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const WNOHANG = 1;
// glibc's posix_spawn_file_actions_t is 80 bytes, posix_spawnattr_t 336, sigset_t 128 (x86_64, aarch64).
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 512;
const SIGSET_SIZE = 128;

export interface PosixSpawnOptions {
  /** Absolute path of the program. */
  path: string;
  /** argv, argv[0] included. */
  argv: readonly string[];
  /** The environment, `NAME=value` each. */
  env: readonly string[];
  /** Working directory of the program (default: the caller's). */
  cwd?: string;
  /** Descriptors that become the program's 0, 1 and 2. */
  stdio: readonly [number, number, number];
  /** Put the program in a new process group of its own (Go's Setpgid). */
  newProcessGroup?: boolean;
}

/**
 * Starts a program; returns its pid. Every signal is reset to its default action and
 * none is blocked in the program (Node ignores SIGPIPE, which exec would otherwise keep).
 * Throws a SysError when the program cannot be started (ENOENT, EACCES, …).
 */
export function posixSpawn(options: PosixSpawnOptions): number {
  const c = libc();
  const fa = Buffer.alloc(FILE_ACTIONS_SIZE);
  const attr = Buffer.alloc(ATTR_SIZE);
  const all = Buffer.alloc(SIGSET_SIZE);
  const none = Buffer.alloc(SIGSET_SIZE);
  c.spawnFileActionsInit(fa);
  c.spawnAttrInit(attr);
  try {
    c.sigfillset(all);
    c.sigemptyset(none);
    options.stdio.forEach((fd, target) => {
      if (c.spawnFileActionsAddDup2(fa, fd, target) !== 0) throwErrno('posix_spawn_file_actions_adddup2');
    });
    if (options.cwd !== undefined) {
      if (!c.spawnFileActionsAddChdir) throw new Error('posix_spawn with a working directory needs glibc 2.29 or later');
      if (c.spawnFileActionsAddChdir(fa, options.cwd) !== 0) throwErrno('posix_spawn_file_actions_addchdir_np');
    }
    let flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (options.newProcessGroup) {
      flags |= POSIX_SPAWN_SETPGROUP;
      c.spawnAttrSetPgroup(attr, 0);
    }
    c.spawnAttrSetFlags(attr, flags);
    c.spawnAttrSetSigDefault(attr, all);
    c.spawnAttrSetSigMask(attr, none);
    const pid = [0];
    // posix_spawn returns the error number instead of setting errno.
    const errno = c.posixSpawn(pid, options.path, fa, attr, [...options.argv, null], [...options.env, null]);
    if (errno !== 0) throw sysError(errno, 'posix_spawn', { path: options.path });
    return pid[0]!;
  } finally {
    c.spawnFileActionsDestroy(fa);
    c.spawnAttrDestroy(attr);
  }
}

/** A pipe whose two ends close on exec: `[read, write]`. */
export function pipe(): [number, number] {
  const fds = [0, 0];
  if (libc().pipe2(fds, O_CLOEXEC) !== 0) throwErrno('pipe2');
  return [fds[0]!, fds[1]!];
}

export type WaitStatus = { exited: false } | { exited: true; code: number | null; signal: NodeJS.Signals | null };

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** Reaps `pid` if it has ended, without waiting: its exit code or the signal that ended it. */
export function waitpidNoHang(pid: number): WaitStatus {
  const status = [0];
  const r = libc().waitpid(pid, status, WNOHANG);
  if (r === -1) throwErrno('waitpid');
  if (r === 0) return { exited: false };
  const s = status[0]!;
  const termsig = s & 0x7f;
  if (termsig === 0) return { exited: true, code: (s >> 8) & 0xff, signal: null };
  return { exited: true, code: null, signal: signalNames.get(termsig) ?? null };
}
