// ctr's log lines on stderr (logrus: text format, or the short coloured form on a terminal)
// and Go's local RFC 3339 time they carry.

/** Go's RFC 3339 in the local time zone (`Z` for UTC), as time.Format(time.RFC3339). */
export function formatRFC3339Local(date: Date): string {
  const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, '0');
  const offset = -date.getTimezoneOffset();
  const zone = offset === 0 ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(offset / 60)}:${pad(offset % 60)}`;
  return `${pad(date.getFullYear(), 4)}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${zone}`;
}

// logrus quotes a value unless every character is one of these.
const bareValue = /^[A-Za-z0-9\-._/@^+]*$/;
const logValue = (v: string) => (v !== '' && bareValue.test(v) ? v : JSON.stringify(v));

/**
 * One log line on stderr as ctr's logger (logrus) prints it: text format when stderr is
 * not a terminal, the short coloured form when it is.
 */
export function logLine(level: 'error' | 'warning' | 'debug', msg: string, fields: Record<string, string> = {}): void {
  const entries = Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1));
  if (process.stderr.isTTY) {
    const color = level === 'error' ? 31 : level === 'warning' ? 33 : 37;
    const tag = level === 'error' ? 'ERRO' : level === 'warning' ? 'WARN' : 'DEBU';
    const rest = entries.map(([k, v]) => ` \x1b[${color}m${k}\x1b[0m=${logValue(v)}`).join('');
    process.stderr.write(`\x1b[${color}m${tag}\x1b[0m[0000] ${msg.padEnd(44)}${rest}\n`);
    return;
  }
  const rest = entries.map(([k, v]) => ` ${k}=${logValue(v)}`).join('');
  process.stderr.write(`time=${logValue(formatRFC3339Local(new Date()))} level=${level} msg=${logValue(msg)}${rest}\n`);
}
