// A process's stdio over fifos as containerd's cio does it: a directory of its own under
// /run/containerd/fifo (or a given dir) with `<id>-stdin`, `-stdout` and `-stderr`; the
// client opens its ends before the task is created (the shim opens the others), copies its
// streams in and out, and the directory is removed when the IO is closed.
import { constants, closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, rmdir, unlink } from 'node:fs/promises';
import { Socket } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { mknod } from '@containerd-ts/sys';

/** containerd's default FIFO directory. */
export const DEFAULT_FIFO_DIR = '/run/containerd/fifo';

/** The paths a task's stdio is given (empty: none). */
export interface StdioPaths {
  stdin: string;
  stdout: string;
  stderr: string;
  terminal: boolean;
}

export interface Streams {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

const mkfifo = (path: string) => mknod(path, constants.S_IFIFO | 0o700, 0);

/** Makes a fifo (mode 0700) at `path`, as fifo.OpenFifo with O_CREAT does. */
export const makeFifo = (path: string): void => mkfifo(path);

/**
 * One process's fifos and the copies to and from them. Create with `FifoIO.create`, pass
 * `paths` to Tasks.Create or Exec, then `start()` once the daemon has the fifos open.
 */
export class FifoIO {
  private fds: { stdin?: number; stdout?: number; stderr?: number } = {};
  private sockets: Socket[] = [];
  private copies: Promise<void>[] = [];

  private constructor(
    readonly dir: string,
    readonly paths: StdioPaths,
    private readonly streams: Streams,
  ) {}

  /**
   * cio.NewFIFOSetInDir and the client's open: a temp dir under `fifoDir`, the fifos in it,
   * and this side of each opened without blocking (stdin read-write, so it never waits for
   * the shim; stdout and stderr read-only, so they end when the shim closes them).
   */
  static async create(id: string, opts: { fifoDir?: string; terminal?: boolean; streams: Streams }): Promise<FifoIO> {
    const root = opts.fifoDir || DEFAULT_FIFO_DIR;
    await mkdir(root, { recursive: true, mode: 0o700 });
    const dir = await mkdtemp(join(root, '/'));
    const terminal = opts.terminal ?? false;
    const s = opts.streams;
    const paths: StdioPaths = {
      stdin: s.stdin ? join(dir, `${id}-stdin`) : '',
      // The shim opens stdout and stderr whatever the caller wants: what nobody reads is drained.
      stdout: join(dir, `${id}-stdout`),
      stderr: terminal ? '' : join(dir, `${id}-stderr`),
      terminal,
    };
    const io = new FifoIO(dir, paths, s);
    try {
      if (paths.stdin) {
        mkfifo(paths.stdin);
        io.fds.stdin = openSync(paths.stdin, constants.O_RDWR | constants.O_NONBLOCK);
      }
      if (paths.stdout) {
        mkfifo(paths.stdout);
        io.fds.stdout = openSync(paths.stdout, constants.O_RDONLY | constants.O_NONBLOCK);
      }
      if (paths.stderr) {
        mkfifo(paths.stderr);
        io.fds.stderr = openSync(paths.stderr, constants.O_RDONLY | constants.O_NONBLOCK);
      }
    } catch (err) {
      await io.close();
      throw err;
    }
    return io;
  }

  /**
   * Starts the copies (after Tasks.Create/Exec: the shim has opened its ends, so a read
   * that returns nothing means the process's side is closed). `onStdinEnd` runs when the
   * caller's stdin ends (containerd's client then asks the daemon to close the process's).
   */
  start(onStdinEnd?: () => Promise<void> | void): void {
    const take = (k: 'stdin' | 'stdout' | 'stderr') => {
      const fd = this.fds[k];
      delete this.fds[k];
      return fd;
    };
    const out = (fd: number | undefined, to: Writable | undefined) => {
      if (fd === undefined) return;
      const sock = new Socket({ fd, readable: true, writable: false });
      this.sockets.push(sock);
      this.copies.push(
        new Promise<void>((resolve) => {
          sock.on('data', (chunk: Buffer) => {
            if (to && !to.write(chunk)) {
              sock.pause();
              to?.once('drain', () => sock.resume());
            }
          });
          sock.once('end', () => resolve());
          sock.once('close', () => resolve());
          sock.once('error', () => resolve());
        }),
      );
    };
    out(take('stdout'), this.streams.stdout);
    out(take('stderr'), this.streams.stderr);
    const from = this.streams.stdin;
    const inFd = from ? take('stdin') : undefined;
    if (inFd !== undefined && from) {
      const sock = new Socket({ fd: inFd, readable: false, writable: true });
      this.sockets.push(sock);
      sock.on('error', () => {});
      const finish = () => {
        from.unpipe(sock);
        sock.end(() => {
          sock.destroy();
          Promise.resolve(onStdinEnd?.()).catch(() => {});
        });
      };
      from.once('end', finish);
      from.once('error', finish);
      from.pipe(sock, { end: false });
    }
  }

  /** Resolves when stdout and stderr have ended (the process and its children closed them). */
  async wait(): Promise<void> {
    await Promise.all(this.copies);
  }

  /** Stops copying stdin (the process keeps running; its stdin stays open). */
  detachStdin(): void {
    const from = this.streams.stdin;
    if (from) {
      from.unpipe();
      from.pause();
    }
  }

  /** Closes every end this side holds and removes the fifos and their directory (unless `keepDir`). */
  async close(opts: { keepDir?: boolean } = {}): Promise<void> {
    this.detachStdin();
    for (const s of this.sockets) s.destroy();
    for (const fd of Object.values(this.fds)) {
      try {
        closeSync(fd);
      } catch {}
    }
    this.fds = {};
    if (!opts.keepDir && this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Opens the fifos of a running process again (cio.Load, for `tasks attach`): stdout and
 * stderr are read, `streams.stdin` is written to stdin. The directory stays.
 */
export async function attachFifos(paths: StdioPaths, streams: Streams): Promise<FifoIO> {
  const io = Object.create(FifoIO.prototype) as FifoIO;
  const fds: Record<string, number> = {};
  if (paths.stdin && streams.stdin) fds.stdin = openSync(paths.stdin, constants.O_RDWR | constants.O_NONBLOCK);
  if (paths.stdout && streams.stdout) fds.stdout = openSync(paths.stdout, constants.O_RDONLY | constants.O_NONBLOCK);
  if (paths.stderr && streams.stderr) fds.stderr = openSync(paths.stderr, constants.O_RDONLY | constants.O_NONBLOCK);
  Object.assign(io, { dir: '', paths, streams, fds, sockets: [], copies: [] });
  return io;
}

/**
 * Removes the fifos of a deleted process and their directory when nothing else is in it
 * (what `run -d` left for a later attach).
 */
export async function removeFifos(paths: Partial<StdioPaths>): Promise<void> {
  const files = [paths.stdin, paths.stdout, paths.stderr].filter((p): p is string => !!p);
  for (const f of files) await unlink(f).catch(() => {});
  const dirs = new Set(files.map((f) => dirname(f)));
  for (const d of dirs) {
    const left = await readdir(d).catch(() => undefined);
    if (left && left.length === 0) await rmdir(d).catch(() => {});
  }
}
