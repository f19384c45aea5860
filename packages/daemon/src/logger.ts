// The daemon's logger, writing what containerd's logrus writes: text lines on stderr
// (coloured when stderr is a terminal) unless `[debug] format = "json"`, at the
// `[debug] level`. Every line is written synchronously, so nothing is lost when the
// process exits straight after logging (a failed start, a fatal signal).
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { Logger } from '@containerd-ts/plugin';
import { formatJSON, formatText, type LogEntry, type LogrusLevel } from './log-format.js';

const severities: Record<LogrusLevel, number> = { trace: 10, debug: 20, info: 30, warning: 40, error: 50, fatal: 60, panic: 70 };

// containerd's level names (config `[debug] level`, `--log-level`) to logrus levels.
const levels: Record<string, LogrusLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warning',
  warning: 'warning',
  error: 'error',
  fatal: 'fatal',
  panic: 'panic',
};

export const isLogLevel = (level: string): boolean => Object.hasOwn(levels, level);

/** `[debug] format`: text unless "json", as containerd ("" is text). */
export type LogFormat = '' | 'text' | 'json';

export interface LoggerOptions {
  /** `[debug] format` (default text). */
  format?: LogFormat;
  /** Where lines go (default 2, stderr). */
  fd?: number;
  /** Whether `fd` is a terminal (text lines are then coloured); detected when left out. */
  tty?: boolean;
}

/** Wall-clock nanoseconds: Date.now() for the milliseconds, the monotonic clock for the rest. */
function makeClock(): () => bigint {
  let baseWall = BigInt(Date.now()) * 1_000_000n;
  let baseMono = process.hrtime.bigint();
  return () => {
    const now = baseWall + (process.hrtime.bigint() - baseMono);
    const wall = BigInt(Date.now()) * 1_000_000n;
    // Follow the wall clock when it has been set (or drifted) by more than a millisecond.
    if (now - wall > 1_000_000n || wall - now > 1_000_000n) {
      baseWall = wall;
      baseMono = process.hrtime.bigint();
      return wall;
    }
    return now;
  };
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Writes all of `line` to `fd`, waiting out EAGAIN on a non-blocking pipe. */
function writeAll(fd: number, line: string): void {
  let buf = Buffer.from(line);
  for (let tries = 0; buf.length > 0; ) {
    try {
      const n = writeSync(fd, buf);
      buf = buf.subarray(n);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN' || ++tries > 1000) return;
      Atomics.wait(sleepCell, 0, 0, 5);
    }
  }
}

interface Sink {
  threshold: number;
  format: (entry: LogEntry) => string;
  fd: number;
  clock: () => bigint;
}

class LogrusLogger implements Logger {
  constructor(
    private readonly sink: Sink,
    private readonly bindings: Record<string, unknown>,
  ) {}

  private log(level: LogrusLevel, obj: object | string, msg?: string): void {
    if (severities[level] < this.sink.threshold) return;
    let fields: Record<string, unknown> = this.bindings;
    let message = msg ?? '';
    if (typeof obj === 'string') {
      message = msg === undefined ? obj : `${obj} ${msg}`;
    } else if (obj instanceof Error) {
      fields = { ...this.bindings, error: obj.message };
      if (msg === undefined) message = obj.message;
    } else {
      fields = { ...this.bindings, ...obj };
    }
    writeAll(this.sink.fd, this.sink.format({ time: this.sink.clock(), level, msg: message, fields }));
  }

  trace(obj: object | string, msg?: string): void {
    this.log('trace', obj, msg);
  }
  debug(obj: object | string, msg?: string): void {
    this.log('debug', obj, msg);
  }
  info(obj: object | string, msg?: string): void {
    this.log('info', obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.log('warning', obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.log('error', obj, msg);
  }
  fatal(obj: object | string, msg?: string): void {
    this.log('fatal', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new LogrusLogger(this.sink, { ...this.bindings, ...bindings });
  }
  /** Lines are written synchronously: nothing to flush. Kept for callers of the pino API. */
  flush(): void {}
}

/**
 * A logger at a containerd level (`info` when empty) writing containerd's log lines to
 * stderr: logrus text (coloured on a terminal), or JSON with `format: 'json'`.
 */
export function createLogger(level = 'info', options: LoggerOptions = {}): Logger & { fatal(obj: object | string, msg?: string): void; flush(): void } {
  const logrusLevel = levels[level || 'info'];
  if (!logrusLevel) throw new Error(`invalid log level "${level}": expected one of ${Object.keys(levels).join(', ')}`);
  const format = options.format ?? '';
  if (format !== '' && format !== 'text' && format !== 'json') throw new Error(`unknown log format: ${String(format)}`);
  const fd = options.fd ?? 2;
  const colored = format !== 'json' && (options.tty ?? isatty(fd));
  return new LogrusLogger(
    {
      threshold: severities[logrusLevel],
      format: format === 'json' ? formatJSON : (entry) => formatText(entry, colored),
      fd,
      clock: makeClock(),
    },
    {},
  );
}
