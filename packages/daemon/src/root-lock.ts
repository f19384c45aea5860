// One daemon per root: an exclusive flock(2) on <root>/.containerd-ts.lock, held for the
// daemon's life. The kernel drops it when the process dies, even by kill -9, so a stale
// lock cannot exist; the file keeps the holder's pid only to name it in the error.
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { tryLockExclusive } from '@containerd-ts/sys';

export const ROOT_LOCK_FILE = '.containerd-ts.lock';

export interface RootLock {
  readonly path: string;
  release(): void;
}

/** Locks `root` for this process, or throws a one-line error naming the root and the holder's pid. */
export function lockRoot(root: string): RootLock {
  const path = join(root, ROOT_LOCK_FILE);
  const fd = openSync(path, 'a+', 0o600);
  let locked = false;
  try {
    locked = tryLockExclusive(fd);
    if (!locked) {
      const holder = readFileSync(path, 'utf8').trim();
      throw new Error(
        `root directory ${root} is in use by another daemon${/^\d+$/.test(holder) ? ` (pid ${holder})` : ''}: each daemon needs its own root`,
      );
    }
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  let released = false;
  return {
    path,
    release() {
      if (released) return;
      released = true;
      closeSync(fd);
    },
  };
}
