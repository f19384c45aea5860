// fsync of a whole tree: every regular file and directory, deepest first, so that when it
// returns the data and the names are on disk. Symlinks, devices, fifos and sockets have no
// data of their own to flush (and opening a fifo would block); their names are flushed with
// their directory.
import { constants } from 'node:fs';
import { open, opendir } from 'node:fs/promises';
import { join } from 'node:path';

/** Flushes `dir` and everything below it; returns how many files and directories were synced. */
export async function syncTree(dir: string): Promise<number> {
  let count = 0;
  for await (const entry of await opendir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) count += await syncTree(path);
    else if (entry.isFile()) count += await syncPath(path);
  }
  return count + (await syncPath(dir));
}

async function syncPath(path: string): Promise<number> {
  // O_NOFOLLOW: the entry was a file or directory when listed; never sync through a link
  // that replaced it. O_NONBLOCK: never wait on a fifo swapped in meanwhile.
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
  return 1;
}
