// The nanosecond clock, conversions, and RFC 3339 text as containerd and older
// containerd-ts records wrote it.
import { describe, expect, it, vi } from 'vitest';
import {
  GO_ZERO_TIME,
  compareTimestamps,
  formatRFC3339Nano,
  fromDate,
  fromUnixNanos,
  now,
  toMillis,
  nowUnixNanos,
  parseRFC3339,
  toDate,
  toUnixNanos,
} from './timestamp.js';

describe('the nanosecond clock', () => {
  it('follows the wall clock, with nanoseconds below the millisecond', () => {
    const before = Date.now();
    const times = Array.from({ length: 200 }, () => now());
    const after = Date.now();
    for (const t of times) {
      expect(t.seconds * 1000 + t.nanos / 1e6).toBeGreaterThanOrEqual(before - 1);
      expect(t.seconds * 1000 + t.nanos / 1e6).toBeLessThanOrEqual(after + 1);
      expect(Number.isInteger(t.nanos) && t.nanos >= 0 && t.nanos < 1e9).toBe(true);
    }
    // Sub-millisecond digits: not every reading is a whole millisecond.
    expect(times.some((t) => t.nanos % 1_000_000 !== 0)).toBe(true);
  });

  /** A fresh clock, with Date.now() reporting the true time plus `stepMs`, in whole milliseconds as it does. */
  async function freshClockWithWallStepped(stepMs: number) {
    vi.resetModules();
    const clock = await import('./timestamp.js');
    clock.nowUnixNanos();
    const trueMs = () => performance.timeOrigin + performance.now();
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => Math.floor(trueMs() + stepMs));
    return { clock, restore: () => spy.mockRestore() };
  }

  /** `n` readings a few microseconds apart, each with Date.now() read just before and just after it. */
  function bracketedReadings(clock: typeof import('./timestamp.js'), n: number) {
    const readings: { before: bigint; t: bigint; after: bigint }[] = [];
    for (let i = 0; i < n; i++) {
      const spin = performance.now() + 0.003 + Math.random() * 0.05;
      while (performance.now() < spin);
      const before = BigInt(Date.now()) * 1_000_000n;
      const t = clock.nowUnixNanos();
      readings.push({ before, t, after: BigInt(Date.now()) * 1_000_000n });
    }
    return readings;
  }

  /** Every reading inside its bracket, later than the one before, and few on a whole millisecond. */
  function expectFollowed(readings: { before: bigint; t: bigint; after: bigint }[]) {
    for (const { before, t, after } of readings) {
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThan(after + 1_000_000n);
    }
    for (let i = 1; i < readings.length; i++) expect(readings[i]!.t > readings[i - 1]!.t).toBe(true);
    // The clock moves onto the wall clock by what it lacked: only the readings that moved
    // it (a handful) land on a whole millisecond.
    expect(readings.filter(({ t }) => t % 1_000_000n === 0n).length).toBeLessThanOrEqual(10);
  }

  it('follows a wall clock stepped forward, inside the millisecond Date.now() reports and with its sub-millisecond digits', async () => {
    const { clock, restore } = await freshClockWithWallStepped(3.3);
    try {
      expectFollowed(bracketedReadings(clock, 500));
    } finally {
      restore();
    }
  });

  it('comes back inside the millisecond Date.now() reports when the wall clock is set back, once past its own earlier readings', async () => {
    const { clock, restore } = await freshClockWithWallStepped(-20);
    try {
      // It never goes back behind a reading it gave before the wall clock was set back.
      await new Promise((resolve) => setTimeout(resolve, 30));
      expectFollowed(bracketedReadings(clock, 500));
    } finally {
      restore();
    }
    const before = Date.now();
    expect(clock.toMillis(clock.now())).toBeGreaterThanOrEqual(before);
  });

  it('is never behind a wall-clock reading taken before it, even when the wall clock runs ahead of the monotonic one', () => {
    const realNow = Date.now.bind(Date);
    for (const ahead of [2, 20, 49]) {
      const spy = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ahead);
      try {
        const before = Date.now();
        expect(toMillis(now())).toBeGreaterThanOrEqual(before);
      } finally {
        spy.mockRestore();
      }
    }
    const before = Date.now();
    expect(toMillis(now())).toBeGreaterThanOrEqual(before);
  });

  it('never goes backwards and never repeats within the process', () => {
    let prev = nowUnixNanos();
    for (let i = 0; i < 10_000; i++) {
      const t = nowUnixNanos();
      expect(t > prev).toBe(true);
      prev = t;
    }
    const a = now();
    const b = now();
    expect(compareTimestamps(b, a)).toBeGreaterThan(0);
  });
});

describe('conversions', () => {
  it('round-trips nanoseconds, including before the epoch', () => {
    for (const ns of [0n, 1n, 999_999_999n, 1_733_335_403_257_613_003n, -1n, -62135596800n * 1_000_000_000n]) {
      expect(toUnixNanos(fromUnixNanos(ns))).toBe(ns);
    }
    expect(fromUnixNanos(-1n)).toEqual({ seconds: -1, nanos: 999_999_999 });
    expect(fromDate(new Date(1500))).toEqual({ seconds: 1, nanos: 500_000_000 });
    expect(toDate({ seconds: 1, nanos: 500_999_999 }).getTime()).toBe(1500);
  });
});

describe('RFC 3339 text', () => {
  it("formats as Go's RFC3339Nano in UTC", () => {
    expect(formatRFC3339Nano({ seconds: 1_733_335_403, nanos: 257_613_003 })).toBe('2024-12-04T18:03:23.257613003Z');
    expect(formatRFC3339Nano({ seconds: 1_733_335_403, nanos: 467_643_200 })).toBe('2024-12-04T18:03:23.4676432Z');
    expect(formatRFC3339Nano({ seconds: 1_733_335_403, nanos: 0 })).toBe('2024-12-04T18:03:23Z');
    expect(formatRFC3339Nano(GO_ZERO_TIME)).toBe('0001-01-01T00:00:00Z');
  });

  it('parses what containerd and older records wrote, keeping nanoseconds', () => {
    expect(parseRFC3339('2024-12-04T18:03:23.257613003Z')).toEqual({ seconds: 1_733_335_403, nanos: 257_613_003 });
    // toISOString, as containerd-ts stored times before they had nanoseconds.
    expect(parseRFC3339('2024-12-04T18:03:23.076Z')).toEqual({ seconds: 1_733_335_403, nanos: 76_000_000 });
    expect(parseRFC3339('2024-12-04T18:03:23Z')).toEqual({ seconds: 1_733_335_403, nanos: 0 });
    expect(parseRFC3339('2024-12-04T19:03:23.5+01:00')).toEqual({ seconds: 1_733_335_403, nanos: 500_000_000 });
    expect(parseRFC3339('2024-12-04T18:03:23.1234567891Z')).toEqual({ seconds: 1_733_335_403, nanos: 123_456_789 });
    expect(parseRFC3339('0001-01-01T00:00:00Z')).toEqual(GO_ZERO_TIME);
    for (const bad of ['', 'yesterday', '2024-13-01T00:00:00Z', '2024-12-04T18:03:23', '2024-12-04T18:03:23.Z']) expect(parseRFC3339(bad)).toBeUndefined();
    const t = now();
    expect(parseRFC3339(formatRFC3339Nano(t))).toEqual(t);
  });

  it('reads every UTC time it writes back to the same instant, leap days and early years included', () => {
    const cases = [
      { seconds: 951_782_400, nanos: 1 }, // 2000-02-29
      { seconds: -2_203_891_200, nanos: 0 }, // 1900-03-01
      { seconds: 4_107_542_399, nanos: 999_999_999 }, // 2100-02-28T23:59:59
      { seconds: -59_011_459_200, nanos: 5 }, // 0100-01-01
      { seconds: -62_104_060_800, nanos: 0 }, // 0001-12-31
      GO_ZERO_TIME,
    ];
    let s = 17;
    for (let i = 0; i < 2000; i++) {
      s = (s * 1_103_515_245 + 12_345) % 2_147_483_648;
      cases.push({ seconds: Math.floor((s / 2_147_483_648) * 253_402_300_799) - 62_135_596_800, nanos: (s * 7) % 1_000_000_000 });
    }
    for (const t of cases) {
      const text = formatRFC3339Nano(t);
      expect(parseRFC3339(text), text).toEqual(t);
      expect(Date.parse(`${text.slice(0, 19)}Z`) / 1000, text).toBe(t.seconds);
    }
    // what the general parser accepts and normalises, and what nobody accepts
    expect(parseRFC3339('2023-02-29T00:00:00Z')).toEqual(parseRFC3339('2023-03-01T00:00:00Z'));
    for (const bad of ['2024-12-04T24:00:00Z', '2024-12-04T18:03:23.12a4Z', '2024-12-04X18:03:23Z']) expect(parseRFC3339(bad)).toBeUndefined();
  });
});
