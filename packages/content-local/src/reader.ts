// Random access to one committed blob through an open file handle.
import { readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReaderAt } from '@containerd-ts/content';
import { invalidArgument } from '@containerd-ts/errdefs';

const streamChunk = 1 << 20;
/**
 * Reads up to this size are made on the calling thread (`pread` on the open file) instead
 * of through libuv's thread pool. Go clients read blobs through ReaderAt with io.Copy's
 * 32 KiB buffer, one Read call each (`ctr content get`: 16,384 calls for 512 MiB); handing
 * each 32 KiB `pread` to a pool thread and back cost more than the read itself (a pool
 * thread's wake-up, the completion's eventfd and epoll round, ~12 % of such a get here),
 * while a 64 KiB read of a blob in the page cache takes microseconds. Larger reads, which may
 * wait on the disk for longer, stay off the event loop.
 */
export const SYNC_READ_MAX = 64 * 1024;

export class FileReaderAt implements ReaderAt {
  readonly size: number;
  readonly #fh: FileHandle;

  constructor(fh: FileHandle, size: number) {
    this.#fh = fh;
    this.size = size;
  }

  async readAt(offset: number, length: number): Promise<Buffer> {
    checkRange(offset, length);
    const want = Math.max(0, Math.min(length, this.size - offset));
    const buf = Buffer.allocUnsafe(want);
    let filled = 0;
    if (want <= SYNC_READ_MAX) {
      const fd = this.#fh.fd;
      while (filled < want) {
        const bytesRead = readSync(fd, buf, filled, want - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === want ? buf : buf.subarray(0, filled);
    }
    while (filled < want) {
      const { bytesRead } = await this.#fh.read(buf, filled, want - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === want ? buf : buf.subarray(0, filled);
  }

  stream(offset = 0, length?: number): NodeJS.ReadableStream & AsyncIterable<Buffer> {
    checkRange(offset, length ?? 0);
    const end = length === undefined ? this.size : Math.min(this.size, offset + length);
    if (end <= offset) return Readable.from([]);
    return this.#fh.createReadStream({ start: offset, end: end - 1, autoClose: false, highWaterMark: streamChunk });
  }

  #closed: Promise<void> | undefined;

  /** Closes the file (idempotent); open streams stop with an error. */
  close(): Promise<void> {
    this.#closed ??= this.#fh.close();
    return this.#closed;
  }
}

function checkRange(offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) throw invalidArgument(`invalid read offset ${offset}`);
  if (!Number.isSafeInteger(length) || length < 0) throw invalidArgument(`invalid read size ${length}`);
}
