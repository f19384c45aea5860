// ctr's pull/push progress display (cmd/ctr/commands/content.Display and pkg/progress):
// one table of jobs per tick with status, bar and bytes, then `elapsed: … total: …`.
// ctr writes it whole on each tick when stdout is not a terminal; on a terminal the
// previous table is cleared first (progress.Writer).
import { TabWriter } from './tabwriter.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB'];

/** progress.Bytes.String(): units.CustomSize("%02.1f %s", n, 1024, …). */
export function progressBytes(n: number): string {
  let size = n;
  let i = 0;
  while (size >= 1024 && i < UNITS.length - 1) {
    size /= 1024;
    i++;
  }
  return `${size.toFixed(1).padStart(2, '0')} ${UNITS[i]}`;
}

const GREEN = '\x1b[32m';
const RESET = '\x1b[0m';

/** progress.Bar formatted with %40r. */
export function progressBar(fraction: number, width = 40): string {
  const h = Math.min(1, Math.max(0, fraction));
  const positive = Math.trunc((width - 2) * h);
  const negative = width - 2 - positive;
  return `|${GREEN}${'+'.repeat(positive)}${RESET}${'-'.repeat(negative)}|`;
}

/** Go's %W.Ps of a string: truncated to P characters, right-aligned in W. */
const goString = (s: string, width: number, precision: number) => [...s].slice(0, precision).join('').padStart(width);

export interface StatusInfo {
  ref: string;
  status: string;
  offset: number;
  total: number;
}

/** content.Display: the table text of one tick. */
export function displayStatuses(statuses: readonly StatusInfo[], elapsedMs: number, opts: { bytesWhenDone?: boolean } = {}): string {
  const w = new TabWriter(1, 1, ' ', 8);
  let total = 0;
  for (const s of statuses) {
    total += s.offset;
    switch (s.status) {
      case 'downloading':
      case 'uploading': {
        const bar = s.total > 0 ? progressBar(s.offset / s.total) : progressBar(0);
        w.write(`${s.ref}:\t${s.status}\t${bar}\t${goString(progressBytes(s.offset), 8, 8)}/${progressBytes(s.total)}\t\n`);
        break;
      }
      case 'resolving':
      case 'waiting':
        w.write(`${s.ref}:\t${s.status}\t${progressBar(0)}\t\n`);
        break;
      default:
        // Beyond ctr (terminal display): a finished job keeps its size.
        if (opts.bytesWhenDone && s.total > 0) w.write(`${s.ref}:\t${s.status}\t${progressBar(1)}\t${goString(progressBytes(s.total), 8, 8)}/${progressBytes(s.total)}\t\n`);
        else w.write(`${s.ref}:\t${s.status}\t${progressBar(1)}\t\n`);
    }
  }
  const seconds = elapsedMs / 1000;
  const rate = seconds > 0 ? Math.trunc(total / seconds) : 0;
  w.write(`elapsed: ${seconds.toFixed(1).padEnd(4)}s\ttotal: ${goString(progressBytes(total), 7, 6)}\t(${progressBytes(rate)}/s)\t\n`);
  return w.flush();
}
