// Copying a directory tree with everything a container file system holds, as continuity's
// fs.CopyDir: file contents (reflinked where the file system can), hard links kept as hard
// links, symlinks, device nodes, fifos and sockets, owners, modes (setuid, sticky), xattrs
// and nanosecond times. Directory times are set after their entries are written, so they
// survive the copy. Entries are handled with synchronous calls in slices of the event loop;
// large files are copied asynchronously.
import {
  type BigIntStats,
  chmodSync,
  constants,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { lgetxattr, llistxattr, lsetxattr, mknod, utimensatNoFollow } from '@containerd-ts/sys';
import { EventLoopSlicer } from './yield.js';

export interface CopyDirOptions {
  /**
   * Called when an xattr cannot be listed, read or written. The default rethrows; return
   * normally to skip that xattr (containerd's native snapshotter ignores such failures).
   */
  onXattrError?: (err: unknown, path: string, name: string) => void;
  /**
   * Give each directory its source's times after its contents are copied. By default a
   * directory's owner, mode, times and xattrs are set before its contents, as containerd's
   * fs.CopyDir does, so a non-empty directory ends with the time of the copy: the native
   * snapshotter keeps that, so its trees match containerd's entry by entry.
   */
  preserveDirectoryTimes?: boolean;
}

/** Files larger than this are copied off the event loop. */
const SYNC_COPY_LIMIT = 1 << 20;

/** Copies the tree under directory `src` into `dst` (created when missing). */
export async function copyDir(dst: string, src: string, options: CopyDirOptions = {}): Promise<void> {
  const st = statSync(src, { bigint: true });
  if (!st.isDirectory()) throw new Error(`source ${src} is not directory`);
  await copyDirectory(dst, src, st, { inodes: new Map(), options, slicer: new EventLoopSlicer() });
}

interface CopyState {
  inodes: Map<bigint, string>;
  options: CopyDirOptions;
  slicer: EventLoopSlicer;
}

async function copyDirectory(dst: string, src: string, st: BigIntStats, state: CopyState): Promise<void> {
  const existing = statSync(dst, { bigint: true, throwIfNoEntry: false });
  if (!existing) {
    mkdirSync(dst, { mode: Number(st.mode) & 0o7777 });
  } else if (!existing.isDirectory()) {
    throw new Error(`cannot copy to non-directory: ${dst}`);
  }
  const names = readdirSync(src).sort();
  if (!state.options.preserveDirectoryTimes) {
    copyFileInfo(st, dst);
    copyXattrs(dst, src, state.options);
  }
  for (const name of names) {
    await state.slicer.pause();
    const source = join(src, name);
    const target = join(dst, name);
    const est = lstatSync(source, { bigint: true });
    if (est.isDirectory()) {
      await copyDirectory(target, source, est, state);
      continue;
    }
    if (est.isFile()) {
      const first = est.nlink > 1n ? state.inodes.get(est.ino) : undefined;
      if (first !== undefined) {
        linkSync(first, target);
      } else {
        if (est.nlink > 1n) state.inodes.set(est.ino, target);
        if (est.size > SYNC_COPY_LIMIT) await copyFile(source, target, constants.COPYFILE_FICLONE);
        else copyFileSync(source, target, constants.COPYFILE_FICLONE);
      }
    } else if (est.isSymbolicLink()) {
      symlinkSync(readlinkSync(source), target);
    } else if (est.isCharacterDevice() || est.isBlockDevice() || est.isFIFO() || est.isSocket()) {
      mknod(target, Number(est.mode), est.isCharacterDevice() || est.isBlockDevice() ? est.rdev : 0);
    } else {
      continue;
    }
    copyFileInfo(est, target);
    copyXattrs(target, source, state.options);
  }
  if (state.options.preserveDirectoryTimes) {
    copyFileInfo(st, dst);
    copyXattrs(dst, src, state.options);
  }
}

function copyFileInfo(st: BigIntStats, path: string): void {
  try {
    lchownSync(path, Number(st.uid), Number(st.gid));
  } catch (err) {
    // Without the right to chown, an owner that already matches is fine.
    const now = lstatSync(path, { bigint: true });
    if ((err as NodeJS.ErrnoException).code !== 'EPERM' || now.uid !== st.uid || now.gid !== st.gid) throw err;
  }
  if (!st.isSymbolicLink()) chmodSync(path, Number(st.mode) & 0o7777);
  utimensatNoFollow(path, st.atimeNs, st.mtimeNs);
}

function copyXattrs(dst: string, src: string, options: CopyDirOptions): void {
  const fail = (err: unknown, name: string): void => {
    if (!options.onXattrError) throw err;
    options.onXattrError(err, src, name);
  };
  let names: string[];
  try {
    names = llistxattr(src);
  } catch (err) {
    fail(err, '');
    return;
  }
  for (const name of names) {
    try {
      const value = lgetxattr(src, name);
      if (value !== null) lsetxattr(dst, name, value);
    } catch (err) {
      fail(err, name);
    }
  }
}
