// getdents64(2): a directory's entries with the file type the file system stored in each
// (d_type). Node's readdir hides DT_UNKNOWN behind an lstat, so a check for file systems
// that do not record types (ext4 without `filetype`, XFS with ftype=0) needs the call itself.
import { closeSync, constants, openSync } from 'node:fs';
import { SysError } from './errors.js';
import { libc, throwErrno } from './libc.js';
import { nativeSys } from './native.js';

// d_type values, from <dirent.h>.
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

export interface RawDirent {
  ino: bigint;
  /** d_type as the file system reported it (DT_UNKNOWN when it does not record types). */
  type: number;
  name: string;
}

/**
 * Calls `visit` for each entry of directory `path` (`.` and `..` included), in the order
 * getdents64 returns them, until it returns true. Returns how many entries were visited.
 */
export function readDirents(path: string, visit: (entry: RawDirent) => boolean | undefined): number {
  const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    const native = nativeSys();
    const getdents64 = native ? undefined : libc().getdents64;
    const buf = Buffer.alloc(32 * 1024);
    let visited = 0;
    for (;;) {
      let n: number;
      if (native) {
        n = native.getdents64(fd, buf);
        if (n < 0) throw new SysError(-n, 'getdents64', { path });
      } else {
        n = Number(getdents64?.(fd, buf, buf.length));
        if (n === -1) throwErrno('getdents64', { path });
      }
      if (n === 0) return visited;
      // struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen, u8 d_type, char d_name[].
      for (let off = 0; off < n; ) {
        const reclen = buf.readUInt16LE(off + 16);
        const nameEnd = buf.indexOf(0, off + 19);
        const entry: RawDirent = {
          ino: buf.readBigUInt64LE(off),
          type: buf.readUInt8(off + 18),
          name: buf.toString('utf8', off + 19, nameEnd < 0 || nameEnd > off + reclen ? off + reclen : nameEnd),
        };
        visited++;
        if (visit(entry)) return visited;
        off += reclen;
      }
    }
  } finally {
    closeSync(fd);
  }
}
