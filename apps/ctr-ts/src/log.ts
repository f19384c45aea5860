// ctr's log lines on stderr (logrus: text format, or the short coloured form on a terminal)
// and Go's local RFC 3339 time they carry.
import { goIsPrint } from './go-print.js';

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
export function logLine(level: 'error' | 'warning' | 'info' | 'debug', msg: string, fields: Record<string, string> = {}): void {
  const entries = Object.entries(fields).sort(([a], [b]) => (a < b ? -1 : 1));
  if (process.stderr.isTTY) {
    const color = level === 'error' ? 31 : level === 'warning' ? 33 : level === 'info' ? 36 : 37;
    const tag = level === 'error' ? 'ERRO' : level === 'warning' ? 'WARN' : level === 'info' ? 'INFO' : 'DEBU';
    const rest = entries.map(([k, v]) => ` \x1b[${color}m${k}\x1b[0m=${logValue(v)}`).join('');
    process.stderr.write(`\x1b[${color}m${tag}\x1b[0m[0000] ${msg.padEnd(44)}${rest}\n`);
    return;
  }
  const rest = entries.map(([k, v]) => ` ${k}=${logValue(v)}`).join('');
  process.stderr.write(`time=${logValue(formatRFC3339Local(new Date()))} level=${level} msg=${logValue(msg)}${rest}\n`);
}

/** strconv.Quote of a byte string: Go's escapes, `\x` for bytes that are not UTF-8. */
export function goQuote(bytes: Buffer): string {
  let out = '"';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let cp = -1;
    let n = 1;
    if (b < 0x80) cp = b;
    else {
      n = b >= 0xf5 ? 0 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc2 ? 2 : 0;
      if (n > 0 && i + n <= bytes.length) {
        cp = b & (0xff >> (n + 1));
        for (let k = 1; k < n; k++) {
          const c = bytes[i + k]!;
          if ((c & 0xc0) !== 0x80) {
            cp = -1;
            break;
          }
          cp = (cp << 6) | (c & 0x3f);
        }
        const min = n === 2 ? 0x80 : n === 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = -1;
      } else cp = -1;
    }
    if (cp < 0) {
      out += `\\x${b.toString(16).padStart(2, '0')}`;
      i += 1;
      continue;
    }
    i += n;
    const ch = String.fromCodePoint(cp);
    const escapes: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v', 34: '\\"', 92: '\\\\' };
    if (escapes[cp] !== undefined) out += escapes[cp];
    else if (goIsPrint(cp)) out += ch;
    else if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

const bareBytes = (b: Buffer) => b.every((c) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x2f || c === 0x40 || c === 0x5e || c === 0x2b);

/**
 * logrus's Logger.Writer() as ctr's --http-dump writes to it: what is written is cut into lines
 * (bufio.ScanLines: `\n`, a `\r` before it dropped) and each complete line logged at info level,
 * in text format; an unfinished line waits for the next write (and is never logged if none comes).
 */
export class LogrusWriter {
  private pending = Buffer.alloc(0);

  write(data: Buffer): void {
    let buf = Buffer.concat([this.pending, data]);
    let nl = buf.indexOf(0x0a);
    const lines: string[] = [];
    while (nl >= 0) {
      let line = buf.subarray(0, nl);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      const time = `time=${logValue(formatRFC3339Local(new Date()))} level=info`;
      lines.push(line.length === 0 ? `${time}\n` : `${time} msg=${bareBytes(line) ? line.toString() : goQuote(line)}\n`);
      buf = buf.subarray(nl + 1);
      nl = buf.indexOf(0x0a);
    }
    this.pending = Buffer.from(buf);
    if (lines.length > 0) process.stderr.write(lines.join(''));
  }
}
