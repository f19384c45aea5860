// The daemon's structured logger (pino on stderr) with containerd's level names.
import { pino } from 'pino';
import type { Logger } from '@containerd-ts/plugin';

const levels: Record<string, string> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  panic: 'fatal',
};

export const isLogLevel = (level: string): boolean => level in levels;

/** A pino logger writing JSON lines to stderr at a containerd level (`info` when empty). */
export function createLogger(level = 'info'): Logger & { flush(): void } {
  const pinoLevel = levels[level || 'info'];
  if (!pinoLevel) throw new Error(`invalid log level "${level}": expected one of ${Object.keys(levels).join(', ')}`);
  return pino(
    { level: pinoLevel, base: undefined, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ fd: 2, sync: true }),
  );
}
