// Go's time.Duration text form, as containerd's config uses it ("100ms", "1h30m", "0s"):
// a parser with time.ParseDuration's grammar and errors, and time.Duration.String.

const unitNanos: Record<string, number> = {
  ns: 1,
  us: 1e3,
  'µs': 1e3, // U+00B5 micro sign
  'μs': 1e3, // U+03BC Greek mu
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Parses a Go duration string into nanoseconds; throws with Go's message when malformed. */
export function parseDuration(text: string): number {
  const fail = (): never => {
    throw new Error(`time: invalid duration ${JSON.stringify(text)}`);
  };
  let s = text;
  let negative = false;
  if (s[0] === '-' || s[0] === '+') {
    negative = s[0] === '-';
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') fail();
  let total = 0;
  while (s !== '') {
    const m = /^(\d*)(?:\.(\d*))?/.exec(s);
    const whole = m?.[1] ?? '';
    const frac = m?.[2];
    if (whole === '' && (frac === undefined || frac === '')) fail();
    s = s.slice(m![0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (!unitMatch) throw new Error(`time: missing unit in duration ${JSON.stringify(text)}`);
    const unit = unitMatch[0];
    const scale = unitNanos[unit];
    if (scale === undefined) throw new Error(`time: unknown unit ${JSON.stringify(unit)} in duration ${JSON.stringify(text)}`);
    s = s.slice(unit.length);
    total += Number(whole || '0') * scale + (frac ? Number(`0.${frac}`) * scale : 0);
    if (!Number.isFinite(total) || total > 2 ** 63) fail();
  }
  total = Math.round(total);
  return negative ? -total : total;
}

/** Formats nanoseconds as Go's Duration.String ("0s", "1.5ms", "1m30s", "1h0m0s"). */
export function formatDuration(nanos: number): string {
  if (nanos === 0) return '0s';
  const sign = nanos < 0 ? '-' : '';
  let n = Math.abs(Math.round(nanos));
  const trim = (digits: string) => digits.replace(/0+$/, '');
  const withFraction = (value: number, scale: number, unit: string) => {
    const whole = Math.floor(value / scale);
    const frac = trim(String(value % scale).padStart(String(scale).length - 1, '0'));
    return `${whole}${frac ? `.${frac}` : ''}${unit}`;
  };
  if (n < 1e3) return `${sign}${n}ns`;
  if (n < 1e6) return sign + withFraction(n, 1e3, 'µs');
  if (n < 1e9) return sign + withFraction(n, 1e6, 'ms');
  const hours = Math.floor(n / 3600e9);
  n -= hours * 3600e9;
  const minutes = Math.floor(n / 60e9);
  n -= minutes * 60e9;
  const seconds = withFraction(n, 1e9, 's');
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return sign + seconds;
}
