// Times as containerd keeps them: nanoseconds since the Unix epoch, as a protobuf
// Timestamp {seconds, nanos} (the same shape the generated API uses, so a record's time
// goes on the wire as is), read from a nanosecond clock and written as RFC 3339 text
// with up to nine fractional digits.

/** A point in time: whole seconds since 1970-01-01T00:00:00Z and 0–999,999,999 nanoseconds after them. */
export interface Timestamp {
  seconds: number;
  nanos: number;
}

const NS_PER_S = 1_000_000_000n;
const NS_PER_MS = 1_000_000n;

/** Go's zero time (0001-01-01T00:00:00Z), what containerd sends for a time it never set. */
export const GO_ZERO_TIME: Readonly<Timestamp> = Object.freeze({ seconds: -62135596800, nanos: 0 });

export function fromUnixNanos(ns: bigint): Timestamp {
  let seconds = ns / NS_PER_S;
  let nanos = ns % NS_PER_S;
  if (nanos < 0n) {
    nanos += NS_PER_S;
    seconds -= 1n;
  }
  return { seconds: Number(seconds), nanos: Number(nanos) };
}

export const toUnixNanos = (t: Timestamp): bigint => BigInt(t.seconds) * NS_PER_S + BigInt(t.nanos);

export const fromMillis = (ms: number): Timestamp => fromUnixNanos(BigInt(Math.trunc(ms)) * NS_PER_MS);

/** Milliseconds since the epoch (nanoseconds below a millisecond dropped, towards the past). */
export const toMillis = (t: Timestamp): number => t.seconds * 1000 + Math.floor(t.nanos / 1_000_000);

export const fromDate = (d: Date): Timestamp => fromMillis(d.getTime());

export const toDate = (t: Timestamp): Date => new Date(toMillis(t));

/** Negative, zero or positive as `a` is before, at or after `b`. */
export const compareTimestamps = (a: Timestamp, b: Timestamp): number => (a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos);

export const isGoZeroTime = (t: Timestamp): boolean => t.seconds === GO_ZERO_TIME.seconds && t.nanos === 0;

// The clock: the process's monotonic nanosecond counter plus an offset to the wall clock,
// never behind a Date.now() read before it, never past the millisecond a Date.now() read
// after it reports, and never going backwards within the process (a record's updated time
// is never before its created time).
//
// The offset starts from performance.timeOrigin + performance.now() (the wall time at the
// process's start, to the microsecond, plus the monotonic time since): readings have
// nanoseconds below the millisecond. Date.now() has whole milliseconds, so each reading
// also brackets the true time between a Date.now() read before the counter and the end of
// the millisecond of one read after it. A reading outside that bracket (the start's few
// microseconds of error, or a wall clock stepped either way) moves the offset to the
// bracket's start, the latest time the true time is known to have reached: from there on
// the clock is never ahead of the wall clock, and a later reading below its bracket raises
// it again by just as much as it was behind, so the error only shrinks.
const hrtime = () => process.hrtime.bigint();
const wallNanos = () => BigInt(Date.now()) * NS_PER_MS;
let offset = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6)) - hrtime();
let last = 0n;

/** The current time in nanoseconds since the epoch, strictly increasing within the process. */
export function nowUnixNanos(): bigint {
  const before = wallNanos();
  const hr = hrtime();
  let t = offset + hr;
  // Date.now() is read again only when the reading could be past the bracket's end.
  if (t < before || (t >= before + NS_PER_MS && t >= wallNanos() + NS_PER_MS)) {
    offset = before - hr;
    t = before;
  }
  if (t <= last) t = last + 1n;
  last = t;
  return t;
}

/** The current time with nanoseconds (time.Now() for containerd). */
export const now = (): Timestamp => fromUnixNanos(nowUnixNanos());

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** `2006-01-02T15:04:05` of the UTC calendar time, and the nanoseconds. */
function calendar(t: Timestamp): string {
  const d = new Date(t.seconds * 1000);
  const year = d.getUTCFullYear();
  return `${pad(year, 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** Nanoseconds as Go prints them with `.999999999`: trailing zeros (and an empty fraction) left out. */
export function goFraction(nanos: number): string {
  if (nanos === 0) return '';
  return `.${pad(nanos, 9).replace(/0+$/, '')}`;
}

/** Go's RFC3339Nano in UTC (`2006-01-02T15:04:05.999999999Z`): what containerd writes as text. */
export const formatRFC3339Nano = (t: Timestamp): string => `${calendar(t)}${goFraction(t.nanos)}Z`;

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|([+-])(\d{2}):(\d{2}))$/;

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The digit at `i` of `text` as a number, or NaN. */
function digitAt(text: string, i: number): number {
  const c = text.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : Number.NaN;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/**
 * The form every record is written in (`2006-01-02T15:04:05.999999999Z`), read without a
 * regular expression or a Date (lists read two per record); undefined for anything else,
 * including what the general parser must judge (leap seconds, out-of-range days).
 */
function parseCanonicalUTC(text: string): Timestamp | undefined {
  const n = text.length;
  if (n < 20 || text.charCodeAt(n - 1) !== 90 /* Z */) return undefined;
  if (text[4] !== '-' || text[7] !== '-' || text[10] !== 'T' || text[13] !== ':' || text[16] !== ':') return undefined;
  const year = digitAt(text, 0) * 1000 + digitAt(text, 1) * 100 + digitAt(text, 2) * 10 + digitAt(text, 3);
  const month = digitAt(text, 5) * 10 + digitAt(text, 6);
  const day = digitAt(text, 8) * 10 + digitAt(text, 9);
  const hour = digitAt(text, 11) * 10 + digitAt(text, 12);
  const minute = digitAt(text, 14) * 10 + digitAt(text, 15);
  const second = digitAt(text, 17) * 10 + digitAt(text, 18);
  // NaN fails every comparison below
  if (!(year >= 0 && month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && !leap ? 28 : (DAYS_IN_MONTH[month - 1] ?? 0))) return undefined;
  let nanos = 0;
  if (n > 20) {
    if (text[19] !== '.' || n === 21) return undefined;
    for (let i = 20; i < n - 1; i++) {
      const d = digitAt(text, i);
      if (Number.isNaN(d)) return undefined;
      if (i < 29) nanos = nanos * 10 + d;
    }
    for (let i = Math.min(n - 1, 29); i < 29; i++) nanos *= 10;
  }
  const seconds = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return { seconds, nanos };
}

/**
 * Parses RFC 3339 text with any number of fractional digits (nanoseconds kept, digits
 * beyond nine dropped) and a `Z` or numeric offset: what containerd and older
 * containerd-ts (milliseconds, `toISOString`) wrote. Undefined when it is not such a time.
 */
export function parseRFC3339(text: string): Timestamp | undefined {
  const fast = parseCanonicalUTC(text);
  if (fast) return fast;
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, , sign, oh, om] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  if (Number.isNaN(ms) || Number(mo) > 12 || Number(d) > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  // Date.UTC maps years 0–99 to 1900–1999.
  const date = new Date(ms);
  date.setUTCFullYear(Number(y));
  let seconds = date.getTime() / 1000;
  if (sign) seconds -= (sign === '-' ? -1 : 1) * (Number(oh) * 3600 + Number(om) * 60);
  const nanos = frac ? Number(frac.slice(0, 9).padEnd(9, '0')) : 0;
  return { seconds, nanos };
}

/** parseRFC3339 that throws on text that is not a time (a corrupt record). */
export function mustParseRFC3339(text: string, what = 'timestamp'): Timestamp {
  const t = parseRFC3339(text);
  if (!t) throw new Error(`invalid ${what} ${JSON.stringify(text)}`);
  return t;
}
