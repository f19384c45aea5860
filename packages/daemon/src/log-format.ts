// Log lines shaped as containerd writes them with logrus: its TextFormatter (with
// containerd's FullTimestamp and RFC3339NanoFixed time format) and its JSONFormatter.
//
//   text:     time="2026-12-04T17:45:38.123456789Z" level=info msg="serving..." address=/run/c.sock
//   terminal: INFO[2026-12-04T17:45:38.123456789Z] serving...                                    address=/run/c.sock
//             (level coloured, message padded to 44 columns, keys coloured)
//   json:     {"address":"/run/c.sock","level":"info","msg":"serving...","time":"2026-12-04T17:45:38.123456789Z"}
import { readlinkSync } from 'node:fs';

/** The levels the daemon logs at, with logrus's names (`warning`, not `warn`). */
export type LogrusLevel = 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'fatal' | 'panic';

export interface LogEntry {
  /** Nanoseconds since the Unix epoch. */
  time: bigint;
  level: LogrusLevel;
  msg: string;
  /** Fields in the order given; undefined values are left out. */
  fields: Record<string, unknown>;
}

const colors: Record<LogrusLevel, number> = {
  trace: 37,
  debug: 37,
  info: 36,
  warning: 33,
  error: 31,
  fatal: 31,
  panic: 31,
};

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

// Zone names that are UTC, as a `TZ` value (`UTC`, `:Etc/UTC`, `UTC0`) or as the end of the
// path `/etc/localtime` links to (`/usr/share/zoneinfo/Etc/UTC`).
const UTC_NAME = '(?:Etc/)?(?:UTC|UCT|Universal|Zulu|Greenwich|GMT(?:[+-]?0)?)';
const UTC_TZ = new RegExp(`^:?(?:${UTC_NAME}|(?:UTC|GMT)0|/.*/zoneinfo/${UTC_NAME})$`);
const UTC_LINK = new RegExp(`/zoneinfo/${UTC_NAME}$`);

let zoneCheckedFor: string | undefined | null = null;
let zoneIsUTC = false;

/**
 * Whether the host's time zone is UTC, known without asking V8: a Date's local time
 * (`getTimezoneOffset`, `toString`, …) loads ICU's zone data, ~0.9 MB of an idle daemon's
 * resident memory, for an offset that is zero on most servers. Decided from `TZ` when set,
 * else from the zone `/etc/localtime` links to; anything else is left to V8 (false). Checked
 * again when `TZ` changes, as node's Date does.
 */
export function hostZoneIsUTC(): boolean {
  const tz = process.env.TZ;
  if (zoneCheckedFor === tz) return zoneIsUTC;
  zoneCheckedFor = tz;
  if (tz !== undefined) {
    zoneIsUTC = UTC_TZ.test(tz);
  } else {
    try {
      zoneIsUTC = UTC_LINK.test(readlinkSync('/etc/localtime'));
    } catch {
      zoneIsUTC = false; // no link (a copied zone file, or none): V8 decides
    }
  }
  return zoneIsUTC;
}

/**
 * Go's `2006-01-02T15:04:05.000000000Z07:00` (containerd's log.RFC3339NanoFixed) in the
 * local time zone: nine fraction digits always, `Z` for UTC, else the offset. The calendar
 * fields are read in UTC (from the time shifted by the offset), which needs no zone data.
 */
export function formatTime(epochNanos: bigint): string {
  const ms = Number(epochNanos / 1_000_000n);
  const nanos = Number(epochNanos % 1_000_000_000n);
  const offsetMin = hostZoneIsUTC() ? 0 : -new Date(ms).getTimezoneOffset();
  const d = new Date(ms + offsetMin * 60_000);
  const year = d.getUTCFullYear();
  const local = `${year < 1000 ? String(year).padStart(4, '0') : year}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
  let zone = 'Z';
  if (offsetMin !== 0) {
    const abs = Math.abs(offsetMin);
    zone = `${offsetMin < 0 ? '-' : '+'}${pad2(Math.floor(abs / 60))}:${pad2(abs % 60)}`;
  }
  return `${local}.${String(nanos).padStart(9, '0')}${zone}`;
}

// What logrus leaves unquoted: letters, digits and - . _ / @ ^ + (the empty string too).
const bare = /^[a-zA-Z0-9\-._/@^+]*$/;
const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const shortEscapes: Record<string, string> = {
  '\u0007': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

// A lone UTF-16 surrogate (which Go would never see: it encodes as U+FFFD).
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const wellFormed = (s: string): string => s.replace(loneSurrogate, '\ufffd');

/** Go's `%q` of a string (strconv.Quote): printable characters as they are, the rest escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of wellFormed(s)) {
    const short = shortEscapes[ch];
    if (short !== undefined) {
      out += short;
      continue;
    }
    if (printable.test(ch)) {
      out += ch;
      continue;
    }
    const cp = ch.codePointAt(0) ?? 0;
    if (cp < 0x80) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += `\\U${cp.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

/** A field value as text (Go's fmt.Sprint of what the daemon logs). */
function valueText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.message;
  if (v === null) return '<nil>';
  if (typeof v === 'object') {
    try {
      return JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? x.toString() : x instanceof Error ? x.message : x));
    } catch {
      return String(v);
    }
  }
  return String(v);
}

/** A value as logrus writes it after `key=`: bare when it can be, else Go-quoted. */
export function textValue(v: unknown): string {
  const s = valueText(v);
  return bare.test(s) ? s : goQuote(s);
}

// logrus moves fields that clash with its own keys aside as `fields.<key>`.
const reserved = new Set(['time', 'level', 'msg']);

/** The entry's fields with logrus's clash renaming and undefined values dropped. */
function fieldsOf(entry: LogEntry): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(entry.fields)) {
    if (v === undefined) continue;
    out.push([reserved.has(k) ? `fields.${k}` : k, v]);
  }
  return out;
}

const byKey = (a: [string, unknown], b: [string, unknown]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/**
 * One line of logrus's TextFormatter as containerd configures it. `colored` is its
 * terminal form (stderr is a TTY): coloured level abbreviation, time in brackets, the
 * message padded to 44 columns, coloured keys.
 */
export function formatText(entry: LogEntry, colored: boolean): string {
  const fields = fieldsOf(entry).sort(byKey);
  const time = formatTime(entry.time);
  if (colored) {
    const c = colors[entry.level];
    const level = entry.level.toUpperCase().slice(0, 4);
    let line = `\x1b[${c}m${level}\x1b[0m[${time}] ${entry.msg.replace(/\n$/, '').padEnd(44)} `;
    for (const [k, v] of fields) line += ` \x1b[${c}m${k}\x1b[0m=${textValue(v)}`;
    return `${line}\n`;
  }
  let line = `time="${time}" level=${entry.level}`;
  if (entry.msg !== '') line += ` msg=${textValue(entry.msg)}`;
  for (const [k, v] of fields) line += ` ${k}=${textValue(v)}`;
  return `${line}\n`;
}

// Go's encoding/json escapes these too (HTML-safe output, as logrus's encoder is set up).
const jsonEscapes: Record<string, string> = {
  '<': '\\u003c',
  '>': '\\u003e',
  '&': '\\u0026',
  '\u2028': '\\u2028',
  '\u2029': '\\u2029',
  '\b': '\\u0008',
  '\f': '\\u000c',
};

function jsonText(value: unknown): string {
  const s = JSON.stringify(value, (_, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Error) return x.message;
    if (typeof x === 'string') return wellFormed(x);
    return x;
  });
  // Re-escape what Go writes differently; `\b` and `\f` only when not part of `\\`.
  return s.replace(/[<>&\u2028\u2029]|\\\\|\\b|\\f/g, (m) => {
    if (m === '\\\\') return m;
    if (m === '\\b') return jsonEscapes['\b'] ?? m;
    if (m === '\\f') return jsonEscapes['\f'] ?? m;
    return jsonEscapes[m] ?? m;
  });
}

/** One line of logrus's JSONFormatter: fields plus `level`, `msg`, `time`, keys sorted. */
export function formatJSON(entry: LogEntry): string {
  const all = fieldsOf(entry);
  all.push(['level', entry.level], ['msg', entry.msg], ['time', formatTime(entry.time)]);
  all.sort(byKey);
  let line = '{';
  for (const [k, v] of all) {
    if (line.length > 1) line += ',';
    line += `${jsonText(k)}:${jsonText(v)}`;
  }
  return `${line}}\n`;
}
