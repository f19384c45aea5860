// Mounting what a snapshotter returns, as containerd's mount package does on Linux: option
// strings become mount(2) flags and data, a read-only bind is remounted read-only, and an
// overlay whose lowerdir list outgrows a page is mounted from the lowers' common directory
// with relative paths. Syscalls go through @containerd-ts/sys; nothing spawns mount(8).
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { isMainThread } from 'node:worker_threads';
import { notImplemented } from '@containerd-ts/errdefs';
import {
  isSysError,
  MS_BIND,
  MS_DIRSYNC,
  MS_MANDLOCK,
  MS_NOATIME,
  MS_NODEV,
  MS_NODIRATIME,
  MS_NOEXEC,
  MS_NOSUID,
  MS_PRIVATE,
  MS_RDONLY,
  MS_REC,
  MS_RELATIME,
  MS_REMOUNT,
  MS_SHARED,
  MS_SILENT,
  MS_SLAVE,
  MS_STRICTATIME,
  MS_SYNCHRONOUS,
  MS_UNBINDABLE,
  mount as sysMount,
  mountAsync,
  umount2Async,
} from '@containerd-ts/sys';
import type { Mount } from './types.js';

let cachedPageSize: number | undefined;

/** The system page size (AT_PAGESZ from the auxiliary vector; 4096 when unreadable). */
export function pageSize(): number {
  if (cachedPageSize === undefined) {
    cachedPageSize = 4096;
    try {
      const auxv = readFileSync('/proc/self/auxv');
      for (let i = 0; i + 16 <= auxv.length; i += 16) {
        const type = auxv.readBigUInt64LE(i);
        if (type === 0n) break;
        if (type === 6n) {
          cachedPageSize = Number(auxv.readBigUInt64LE(i + 8));
          break;
        }
      }
    } catch {
      // keep the default
    }
  }
  return cachedPageSize;
}

// Options that are mount(2) flags: set them, or clear them (`rw` clears MS_RDONLY).
const flagOptions: Record<string, { clear: boolean; flag: number }> = {
  async: { clear: true, flag: MS_SYNCHRONOUS },
  atime: { clear: true, flag: MS_NOATIME },
  bind: { clear: false, flag: MS_BIND },
  defaults: { clear: false, flag: 0 },
  dev: { clear: true, flag: MS_NODEV },
  diratime: { clear: true, flag: MS_NODIRATIME },
  dirsync: { clear: false, flag: MS_DIRSYNC },
  exec: { clear: true, flag: MS_NOEXEC },
  mand: { clear: false, flag: MS_MANDLOCK },
  noatime: { clear: false, flag: MS_NOATIME },
  nodev: { clear: false, flag: MS_NODEV },
  nodiratime: { clear: false, flag: MS_NODIRATIME },
  noexec: { clear: false, flag: MS_NOEXEC },
  nomand: { clear: true, flag: MS_MANDLOCK },
  norelatime: { clear: true, flag: MS_RELATIME },
  nostrictatime: { clear: true, flag: MS_STRICTATIME },
  nosuid: { clear: false, flag: MS_NOSUID },
  rbind: { clear: false, flag: MS_BIND | MS_REC },
  relatime: { clear: false, flag: MS_RELATIME },
  remount: { clear: false, flag: MS_REMOUNT },
  ro: { clear: false, flag: MS_RDONLY },
  rw: { clear: true, flag: MS_RDONLY },
  strictatime: { clear: false, flag: MS_STRICTATIME },
  suid: { clear: true, flag: MS_NOSUID },
  sync: { clear: false, flag: MS_SYNCHRONOUS },
  // Propagation types (containerd 1.7 and later), applied by a second mount(2) call.
  private: { clear: false, flag: MS_PRIVATE },
  rprivate: { clear: false, flag: MS_PRIVATE | MS_REC },
  shared: { clear: false, flag: MS_SHARED },
  rshared: { clear: false, flag: MS_SHARED | MS_REC },
  slave: { clear: false, flag: MS_SLAVE },
  rslave: { clear: false, flag: MS_SLAVE | MS_REC },
  unbindable: { clear: false, flag: MS_UNBINDABLE },
  runbindable: { clear: false, flag: MS_UNBINDABLE | MS_REC },
};

const PROPAGATION_TYPES = MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE;

export interface ParsedMountOptions {
  /** mount(2) flags, propagation types included. */
  flags: number;
  /** The file-system data string: every option that is not a flag, joined with commas. */
  data: string;
  /** The `loop` option was given (the source is a file to attach to a loop device). */
  loop: boolean;
}

/** Splits mount options into flags and data as containerd's parseMountOptions. */
export function parseMountOptions(options: readonly string[]): ParsedMountOptions {
  let flags = 0;
  let loop = false;
  const data: string[] = [];
  for (const o of options) {
    const f = Object.hasOwn(flagOptions, o) ? flagOptions[o] : undefined;
    if (f && f.flag !== 0) {
      flags = f.clear ? flags & ~f.flag : flags | f.flag;
    } else if (o === 'loop') {
      loop = true;
    } else {
      // `defaults` (no flag) reaches the data string too, as in containerd.
      data.push(o);
    }
  }
  return { flags, data: data.join(','), loop };
}

/** The longest common prefix of some strings (byte-wise, as containerd computes it). */
export function longestCommonPrefix(strs: readonly string[]): string {
  if (strs.length === 0) return '';
  let min = strs[0] ?? '';
  let max = min;
  for (const s of strs.slice(1)) {
    if (s < min) min = s;
    if (s > max) max = s;
  }
  for (let i = 0; i < min.length && i < max.length; i++) {
    if (min[i] !== max[i]) return min.slice(0, i);
  }
  return min;
}

// path.Dir of Go: everything before the last slash, cleaned of a trailing one.
function parentDir(p: string): string {
  const i = p.lastIndexOf('/');
  if (i < 0) return '.';
  const dir = p.slice(0, i + 1).replace(/\/+$/, '');
  return dir === '' ? '/' : dir;
}

/**
 * Rewrites the overlay `lowerdir=` option relative to the lowers' common parent directory,
 * which is returned as `chdir` ('' when there is nothing to gain), as containerd's
 * compactLowerdirOption. The rewritten option moves to the end of the list.
 */
export function compactLowerdirOption(options: readonly string[]): { chdir: string; options: string[] } {
  const idx = options.findIndex((o) => o.startsWith('lowerdir='));
  if (idx === -1) return { chdir: '', options: [...options] };
  const dirs = (options[idx] ?? '').slice('lowerdir='.length).split(':');
  if (dirs.length === 1) return { chdir: '', options: [...options] };
  let common = longestCommonPrefix(dirs);
  if (common === '') return { chdir: '', options: [...options] };
  common = parentDir(common);
  if (common === '/' || common === '.') return { chdir: '', options: [...options] };
  common = `${common}/`;
  const relative = dirs.map((d) => d.slice(common.length));
  const rest = options.filter((_, i) => i !== idx);
  return { chdir: common, options: [...rest, `lowerdir=${relative.join(':')}`] };
}

const optionsSize = (options: readonly string[]): number => options.reduce((n, o) => n + Buffer.byteLength(o), 0);

/**
 * mount(2) with the working directory set to `dir`, so relative overlay lowerdirs resolve
 * there. Synchronous so that no other JavaScript runs while the directory is changed
 * (containerd forks a child for this); the daemon uses absolute paths everywhere else.
 */
function mountInDirectory(dir: string, source: string, target: string, fstype: string, flags: number, data: string): void {
  if (!isMainThread) throw new Error(`failed to mountat: ${target}: compacted overlay mounts need the main thread`);
  let previous: string;
  try {
    previous = process.cwd();
  } catch {
    previous = '/';
  }
  const absoluteTarget = target.startsWith('/') ? target : `${previous}/${target}`;
  process.chdir(dir);
  try {
    sysMount(source, absoluteTarget, fstype, flags, data);
  } catch (err) {
    throw new Error(`failed to mountat: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    process.chdir(previous);
  }
}

/** Mounts one Mount on `target`, as containerd's (*Mount).Mount on Linux. */
export async function mount(m: Mount, target: string): Promise<void> {
  if (m.type.startsWith('fuse.') || m.type.startsWith('fuse3.')) {
    throw notImplemented(`mount type ${m.type} needs a mount helper binary, which containerd-ts does not run`);
  }
  let chdir = '';
  let options: readonly string[] = m.options;
  if (m.type === 'overlay' && optionsSize(options) >= pageSize() - 512) {
    ({ chdir, options } = compactLowerdirOption(options));
  }
  const { flags, data, loop } = parseMountOptions(options);
  if (Buffer.byteLength(data) > pageSize()) throw new Error('mount options is too long');
  if (loop) throw notImplemented(`mount option "loop" (attaching ${m.source} to a loop device)`);
  const ownFlags = flags & ~PROPAGATION_TYPES;
  if ((flags & MS_REMOUNT) === 0 || data !== '') {
    if (chdir) mountInDirectory(chdir, m.source, target, m.type, ownFlags, data);
    else await mountAsync(m.source, target, m.type, ownFlags, data === '' ? undefined : data);
  }
  if ((flags & PROPAGATION_TYPES) !== 0) {
    await mountAsync(null, target, null, flags & (PROPAGATION_TYPES | MS_REC | MS_SILENT));
  }
  // A bind mount ignores MS_RDONLY on creation: make it read-only with a remount.
  if ((ownFlags & (MS_BIND | MS_RDONLY)) === (MS_BIND | MS_RDONLY)) {
    await mountAsync(null, target, null, ownFlags | MS_REMOUNT);
  }
}

/** Mounts every Mount in order on `target` (or on `target/<m.target>` when a mount names one). */
export async function mountAll(mounts: readonly Mount[], target: string): Promise<void> {
  for (const m of mounts) {
    const dest = m.target ? `${target.replace(/\/+$/, '')}/${m.target.replace(/^\/+/, '')}` : target;
    await mount(m, dest);
  }
}

/** One umount2, retried while busy; false when `target` is not a mount point. */
async function unmountOnce(target: string, flags: number): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    try {
      await umount2Async(target, flags);
      return true;
    } catch (err) {
      if (isSysError(err, 'EBUSY')) {
        await sleep(50);
        continue;
      }
      if (isSysError(err, 'EINVAL')) return false;
      throw err;
    }
  }
  throw new Error(`failed to unmount target ${target}: device or resource busy`);
}

/** Unmounts `target` once (MNT_* flags); not being a mount point is not an error. */
export async function unmount(target: string, flags = 0): Promise<void> {
  await unmountOnce(target, flags);
}

/** Unmounts everything stacked on `target` until it is no longer a mount point. */
export async function unmountAll(target: string, flags = 0): Promise<void> {
  if (target === '' || !existsSync(target)) return;
  while (await unmountOnce(target, flags)) {
    // keep unmounting: several mounts may be stacked on one target
  }
}

/** Directories of an overlay mount, read from its options. */
export interface OverlayDirs {
  /** Lower directories, topmost first, as given (absolute for snapshotter mounts). */
  lowerdirs: string[];
  upperdir: string | undefined;
  workdir: string | undefined;
  /** The `userxattr` option: overlay xattrs are `user.overlay.*` instead of `trusted.overlay.*`. */
  userxattr: boolean;
}

/** The directories of an overlay mount; undefined for other mount types. */
export function overlayDirs(m: Mount): OverlayDirs | undefined {
  if (m.type !== 'overlay') return undefined;
  const dirs: OverlayDirs = { lowerdirs: [], upperdir: undefined, workdir: undefined, userxattr: false };
  for (const option of m.options) {
    for (const o of option.split(',')) {
      if (o.startsWith('lowerdir=')) dirs.lowerdirs = o.slice('lowerdir='.length).split(':');
      else if (o.startsWith('upperdir=')) dirs.upperdir = o.slice('upperdir='.length);
      else if (o.startsWith('workdir=')) dirs.workdir = o.slice('workdir='.length);
      else if (o === 'userxattr') dirs.userxattr = true;
    }
  }
  return dirs;
}

/** Where changes to an active snapshot can be written without mounting it. */
export interface UpperDir {
  /** The directory that receives changes. */
  path: string;
  /** Overlay lower directories, topmost first; empty for a plain directory. */
  lowerdirs: string[];
  /**
   * True for an overlay upper directory: deletions must be written as overlay whiteouts
   * (character device 0:0) and opaque directories marked with the `overlay.opaque` xattr.
   */
  overlay: boolean;
  /** Overlay xattrs live in the `user.` namespace (`user.overlay.opaque`) rather than `trusted.`. */
  userxattr: boolean;
}

/**
 * For the mounts of an active snapshot, the directory a layer can be applied to directly:
 * the upper directory of a single overlay mount, or the source of a single writable bind
 * mount. Undefined when the mounts must be mounted to be written (read-only, several
 * mounts, other types).
 */
export function upperDirOf(mounts: readonly Mount[]): UpperDir | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0];
  if (!m || m.target) return undefined;
  if (m.type === 'overlay') {
    const dirs = overlayDirs(m);
    if (!dirs?.upperdir) return undefined;
    return { path: dirs.upperdir, lowerdirs: dirs.lowerdirs, overlay: true, userxattr: dirs.userxattr };
  }
  if (m.type === 'bind') {
    if ((parseMountOptions(m.options).flags & MS_RDONLY) !== 0) return undefined;
    return { path: m.source, lowerdirs: [], overlay: false, userxattr: false };
  }
  return undefined;
}
