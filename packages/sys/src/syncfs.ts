// syncfs(2): flush the whole file system an fd lives on (fsync is in Node already).
import { callAsync, libc, throwErrno } from './libc.js';

/** syncfs(2) on the file system holding open file descriptor `fd`. Blocks while data is written. */
export function syncfs(fd: number): void {
  if (libc().syncfs(fd) !== 0) throwErrno('syncfs');
}

/** syncfs(2) run off the JS thread. */
export async function syncfsAsync(fd: number): Promise<void> {
  await callAsync(libc().syncfs, [fd], 'syncfs');
}
