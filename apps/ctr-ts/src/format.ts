// Go formatting that ctr's output depends on: go-units' HumanSize and HumanDuration,
// containerd's progress.Bytes, and go-digest's digest validation with its messages.

/** fmt's %.4g of a non-negative number below 10000. */
function goG4(v: number): string {
  if (v === 0) return '0';
  const s = v.toPrecision(4);
  if (s.includes('e')) {
    const [m = '', e = ''] = s.split('e');
    const exp = Number(e);
    return `${m.includes('.') ? m.replace(/\.?0+$/, '') : m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

function scale(size: number, base: number, units: readonly string[]): [number, string] {
  let i = 0;
  while (size >= base && i < units.length - 1) {
    size /= base;
    i++;
  }
  return [size, units[i]!];
}

/** go-units HumanSize: decimal units, 4 significant digits ("6B", "1.234kB"). */
export function humanSize(bytes: number): string {
  const [v, unit] = scale(bytes, 1000, ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB']);
  return `${goG4(v)}${unit}`;
}

/** fmt's %.1f: the nearest tenth, ties (exact halves) to even as Go rounds them. */
function goFixed1(v: number): string {
  const scaled = v * 10;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5) return ((floor % 2 === 0 ? floor : floor + 1) / 10).toFixed(1);
  return v.toFixed(1);
}

/** containerd's progress.Bytes: binary units, one decimal ("4.0 KiB", "0.0 B"). */
export function progressBytes(bytes: number): string {
  const [v, unit] = scale(bytes, 1024, ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']);
  return `${goFixed1(v)} ${unit}`;
}

/** go-units HumanDuration of a duration in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(ms / 60_000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(ms / 3_600_000 + 0.5);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(ms / 3_600_000 / 24 / 365)} years`;
}

const ENCODED_LENGTH: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** go-digest's Digest.Validate: throws with its message. */
export function validateDigest(s: string): void {
  const i = s.indexOf(':');
  if (i <= 0 || i + 1 === s.length) throw new Error('invalid checksum digest format');
  const algorithm = s.slice(0, i);
  const encoded = s.slice(i + 1);
  const length = ENCODED_LENGTH[algorithm];
  if (length === undefined) throw new Error(DIGEST_RE.test(s) ? 'unsupported digest algorithm' : 'invalid checksum digest format');
  if (encoded.length !== length) throw new Error('invalid checksum digest length');
  if (!/^[a-f0-9]+$/.test(encoded)) throw new Error('invalid checksum digest format');
}

/** go-digest's Parse: the digest, or a throw with go-digest's message. */
export function parseDigest(s: string): string {
  validateDigest(s);
  return s;
}
