import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('Go durations', () => {
  it('parses as time.ParseDuration', () => {
    const cases: Array<[string, number]> = [
      ['0', 0],
      ['0s', 0],
      ['100ms', 100e6],
      ['1.5s', 1.5e9],
      ['1h30m', 5400e9],
      ['-2m', -120e9],
      ['+3us', 3e3],
      ['7µs', 7e3],
      ['1.s', 1e9],
      ['.5ms', 5e5],
      ['1h2m3s4ms5us6ns', 3723004005006],
    ];
    for (const [text, ns] of cases) expect(parseDuration(text), text).toBe(ns);
  });

  it("rejects malformed durations with Go's messages", () => {
    expect(() => parseDuration('')).toThrow('time: invalid duration ""');
    expect(() => parseDuration('10')).toThrow('time: missing unit in duration "10"');
    expect(() => parseDuration('3d')).toThrow('time: unknown unit "d" in duration "3d"');
    expect(() => parseDuration('.s')).toThrow('time: invalid duration ".s"');
    expect(() => parseDuration('1s-')).toThrow();
  });

  it('formats as Duration.String', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [1, '1ns'],
      [1500, '1.5µs'],
      [100e6, '100ms'],
      [1.5e6, '1.5ms'],
      [1e9, '1s'],
      [1.25e9, '1.25s'],
      [90e9, '1m30s'],
      [3600e9, '1h0m0s'],
      [5400.5e9, '1h30m0.5s'],
      [-2e9, '-2s'],
    ];
    for (const [ns, text] of cases) expect(formatDuration(ns), text).toBe(text);
  });
});
