// The daemon's read end of a fifo a shim writes its log to (v2: the bundle's `log`; v1:
// `shim.stdout.log` and `shim.stderr.log` in the work dir), copied to a sink. Opened
// O_RDWR, so opening never blocks and the fifo never reads EOF while the shim restarts;
// a fifo that is not there yet is created.
import { closeSync, fstatSync, openSync, constants as fsConstants } from 'node:fs';
import { Socket } from 'node:net';
import { createFifo } from './bundle.js';

export class FifoReader {
  private socket: Socket | undefined;

  static async open(path: string, sink: ((chunk: Buffer) => void) | undefined): Promise<FifoReader> {
    const reader = new FifoReader();
    const flags = fsConstants.O_RDWR | fsConstants.O_NONBLOCK;
    let fd: number;
    try {
      // A reloaded bundle has its fifo already: open it straight away (no lstat first).
      fd = openSync(path, flags);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await createFifo(path);
      fd = openSync(path, flags);
    }
    if (!fstatSync(fd).isFIFO()) {
      closeSync(fd);
      throw new Error(`${path} is not a fifo`);
    }
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.on('data', (d: Buffer) => sink?.(d));
    socket.on('error', () => {});
    reader.socket = socket;
    return reader;
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }
}
