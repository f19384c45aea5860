import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatJSON, formatText, formatTime, goQuote, hostZoneIsUTC, type LogEntry, textValue } from './log-format.js';

// 2026-12-04T17:45:38.123456789Z
const t = 1_796_406_338_123_456_789n;
const entry = (over: Partial<LogEntry> = {}): LogEntry => ({ time: t, level: 'info', msg: 'serving...', fields: {}, ...over });

const savedTZ = process.env.TZ;
afterEach(() => {
  if (savedTZ === undefined) delete process.env.TZ;
  else process.env.TZ = savedTZ;
});

describe('formatTime (containerd RFC3339NanoFixed)', () => {
  it('always has nine fraction digits and Z in UTC', () => {
    process.env.TZ = 'UTC';
    expect(formatTime(t)).toBe('2026-12-04T17:45:38.123456789Z');
    expect(formatTime(1_796_406_338_000_000_000n)).toBe('2026-12-04T17:45:38.000000000Z');
    expect(formatTime(1_796_406_338_000_000_050n)).toBe('2026-12-04T17:45:38.000000050Z');
  });

  it('uses the local zone with its offset, as Go formats time.Now()', () => {
    process.env.TZ = 'Asia/Kolkata';
    expect(formatTime(t)).toBe('2026-12-04T23:15:38.123456789+05:30');
    process.env.TZ = 'America/New_York';
    expect(formatTime(t)).toBe('2026-12-04T12:45:38.123456789-05:00');
  });

  // What the formatter wrote before it read the calendar itself: V8's local offset and ISO text.
  const byDate = (ns: bigint): string => {
    const ms = Number(ns / 1_000_000n);
    const off = -new Date(ms).getTimezoneOffset();
    const zone = off === 0 ? 'Z' : `${off < 0 ? '-' : '+'}${String(Math.floor(Math.abs(off) / 60)).padStart(2, '0')}:${String(Math.abs(off) % 60).padStart(2, '0')}`;
    return `${new Date(ms + off * 60_000).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}${zone}`;
  };

  it('writes what V8 would, in UTC and in zones with offsets, across years and DST changes', () => {
    const times: bigint[] = [0n, 951_782_400_000_000_000n /* 2000-02-29 */, 4_102_444_799_999_999_999n /* 2099-12-31T23:59:59 */];
    for (let i = 0; i < 2000; i++) times.push(BigInt(Math.floor(Math.random() * 4_102_444_800_000)) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000)));
    for (const tz of ['UTC', 'Etc/UTC', 'Asia/Kolkata', 'America/New_York', 'Australia/Lord_Howe', 'Europe/Berlin']) {
      process.env.TZ = tz;
      for (const ns of times) expect(formatTime(ns), `${tz} ${ns}`).toBe(byDate(ns));
    }
  });

  it("knows a UTC host without V8's zone data (which costs ~0.9 MB of RSS to load)", () => {
    const offset = vi.spyOn(Date.prototype, 'getTimezoneOffset');
    try {
      for (const tz of ['UTC', 'Etc/UTC', ':UTC', 'UTC0', 'GMT', 'Etc/GMT+0', 'Zulu', ':/usr/share/zoneinfo/Etc/UTC']) {
        process.env.TZ = tz;
        expect(hostZoneIsUTC(), tz).toBe(true);
        expect(formatTime(t)).toBe('2026-12-04T17:45:38.123456789Z');
      }
      expect(offset).not.toHaveBeenCalled();
      for (const tz of ['Asia/Kolkata', 'UTC+3', 'Etc/GMT+1', 'GMT+01', '']) {
        process.env.TZ = tz;
        expect(hostZoneIsUTC(), tz).toBe(false);
      }
    } finally {
      offset.mockRestore();
    }
    // Without TZ, from /etc/localtime: when it says UTC, the zone has no offset all year.
    delete process.env.TZ;
    if (hostZoneIsUTC()) {
      expect(new Date(Date.UTC(2026, 0, 15)).getTimezoneOffset()).toBe(0);
      expect(new Date(Date.UTC(2026, 6, 15)).getTimezoneOffset()).toBe(0);
    }
  });
});

describe('logrus quoting', () => {
  it('leaves letters, digits and - . _ / @ ^ + bare, and the empty string', () => {
    for (const s of ['io.containerd.snapshotter.v1', '/run/containerd/containerd.sock', 'a-b_c@d^e+f', 'SIGTERM', '42', ''])
      expect(textValue(s)).toBe(s);
  });

  it("quotes anything else with Go's %q", () => {
    expect(textValue('1.6.20~ds1-1+deb12u3')).toBe('"1.6.20~ds1-1+deb12u3"');
    expect(textValue('has space')).toBe('"has space"');
    expect(textValue('k=v')).toBe('"k=v"');
    expect(textValue('say "hi"')).toBe('"say \\"hi\\""');
    expect(textValue('C:\\path')).toBe('"C:\\\\path"');
    expect(textValue('host:port')).toBe('"host:port"');
  });

  it('escapes control and non-printable characters as Go does, keeps printable Unicode', () => {
    expect(goQuote('a\nb\tc\rd\u0007\b\f\v')).toBe('"a\\nb\\tc\\rd\\a\\b\\f\\v"');
    expect(goQuote('\u0000\u001b\u007f')).toBe('"\\x00\\x1b\\x7f"');
    expect(goQuote('\u0085\u00a0\u200b')).toBe('"\\u0085\\u00a0\\u200b"');
    expect(goQuote('héllo wörld ✓ 日本')).toBe('"héllo wörld ✓ 日本"');
    expect(goQuote('\u{1F600}')).toBe('"\u{1F600}"');
    expect(goQuote('\u{E0001}')).toBe('"\\U000e0001"');
    expect(goQuote('lone \ud800')).toBe('"lone \ufffd"');
  });

  it('prints other values as Go would print them', () => {
    expect(textValue(3)).toBe('3');
    expect(textValue(0.25)).toBe('0.25');
    expect(textValue(true)).toBe('true');
    expect(textValue(null)).toBe('"<nil>"');
    expect(textValue(new Error('boom: not found'))).toBe('"boom: not found"');
    expect(textValue(['a', 'b'])).toBe('"[\\"a\\",\\"b\\"]"');
  });
});

describe('formatText', () => {
  it('writes time, level, msg, then the fields sorted by key', () => {
    process.env.TZ = 'UTC';
    const line = formatText(entry({ fields: { type: 'io.containerd.content.v1', error: 'not found', address: '/run/c.sock' } }), false);
    expect(line).toBe(
      'time="2026-12-04T17:45:38.123456789Z" level=info msg=serving... address=/run/c.sock error="not found" type=io.containerd.content.v1\n',
    );
  });

  it("names levels as logrus (warning, not warn) and quotes a message that needs it", () => {
    process.env.TZ = 'UTC';
    expect(formatText(entry({ level: 'warning', msg: 'failed to load plugin' }), false)).toBe(
      'time="2026-12-04T17:45:38.123456789Z" level=warning msg="failed to load plugin"\n',
    );
    expect(formatText(entry({ level: 'debug', msg: 'line\nbreak' }), false)).toContain(' level=debug msg="line\\nbreak"');
  });

  it('leaves out an empty message and undefined fields, and moves clashing keys aside', () => {
    process.env.TZ = 'UTC';
    const line = formatText(entry({ msg: '', fields: { msg: 'mine', level: 1, time: 'x', skipped: undefined, b: '' } }), false);
    expect(line).toBe('time="2026-12-04T17:45:38.123456789Z" level=info b= fields.level=1 fields.msg=mine fields.time=x\n');
  });

  it('on a terminal: coloured level abbreviation, the time in brackets, the message padded to 44', () => {
    process.env.TZ = 'UTC';
    const line = formatText(entry({ msg: 'starting containerd', fields: { version: '1.6.20~ds1', revision: 'abc' } }), true);
    expect(line).toBe(
      `\x1b[36mINFO\x1b[0m[2026-12-04T17:45:38.123456789Z] starting containerd${' '.repeat(25)}  \x1b[36mrevision\x1b[0m=abc \x1b[36mversion\x1b[0m="1.6.20~ds1"\n`,
    );
    const colors = (['trace', 'debug', 'info', 'warning', 'error', 'fatal', 'panic'] as const).map((level) =>
      formatText(entry({ level, msg: 'm' }), true).slice(0, 14),
    );
    expect(colors).toEqual([
      '\x1b[37mTRAC\x1b[0m[',
      '\x1b[37mDEBU\x1b[0m[',
      '\x1b[36mINFO\x1b[0m[',
      '\x1b[33mWARN\x1b[0m[',
      '\x1b[31mERRO\x1b[0m[',
      '\x1b[31mFATA\x1b[0m[',
      '\x1b[31mPANI\x1b[0m[',
    ]);
    // A long message is not cut; the message's own trailing newline is dropped.
    const long = 'x'.repeat(50);
    expect(formatText(entry({ msg: `${long}\n`, fields: { a: 1 } }), true)).toBe(
      `\x1b[36mINFO\x1b[0m[2026-12-04T17:45:38.123456789Z] ${long}  \x1b[36ma\x1b[0m=1\n`,
    );
    expect(formatText(entry({ msg: 'stopped' }), true)).toBe(`\x1b[36mINFO\x1b[0m[2026-12-04T17:45:38.123456789Z] ${'stopped'.padEnd(44)} \n`);
  });
});

describe('formatJSON', () => {
  it('writes one object with every key sorted, level, msg and time among them', () => {
    process.env.TZ = 'UTC';
    const line = formatJSON(entry({ level: 'warning', msg: 'failed to load plugin', fields: { type: 't', error: 'devmapper not configured', n: 3 } }));
    expect(line).toBe(
      '{"error":"devmapper not configured","level":"warning","msg":"failed to load plugin","n":3,"time":"2026-12-04T17:45:38.123456789Z","type":"t"}\n',
    );
    expect(line.endsWith('\n') && !line.slice(0, -1).includes('\n')).toBe(true);
  });

  it("escapes as Go's encoding/json (HTML-safe) and round-trips", () => {
    process.env.TZ = 'UTC';
    const msg = 'a <b> & "c" \\ \n\b\f\u2028 \\b';
    const line = formatJSON(entry({ msg, fields: { msg: 'clash', err: new Error('boom'), nested: { k: ['v'] } } }));
    expect(line).toContain('"msg":"a \\u003cb\\u003e \\u0026 \\"c\\" \\\\ \\n\\u0008\\u000c\\u2028 \\\\b"');
    expect(JSON.parse(line)).toEqual({
      err: 'boom',
      'fields.msg': 'clash',
      level: 'info',
      msg,
      nested: { k: ['v'] },
      time: '2026-12-04T17:45:38.123456789Z',
    });
  });
});
