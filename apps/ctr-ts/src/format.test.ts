// Go formatting ctr's output depends on: go-units, progress.Bytes, go-digest.
import { describe, expect, it } from 'vitest';
import { humanDuration, humanSize, progressBytes, validateDigest } from './format.js';

describe('Go formatting', () => {
  it('sizes as go-units HumanSize and progress.Bytes', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(20)).toBe('20B');
    expect(humanSize(1234)).toBe('1.234kB');
    expect(humanSize(1_500_000)).toBe('1.5MB');
    expect(humanSize(999_999)).toBe('1000kB');
    expect(progressBytes(0)).toBe('0.0 B');
    expect(progressBytes(4096)).toBe('4.0 KiB');
    expect(progressBytes(1280)).toBe('1.2 KiB');
    expect(progressBytes(1_572_864)).toBe('1.5 MiB');
  });

  it('durations as go-units HumanDuration', () => {
    expect(humanDuration(999)).toBe('Less than a second');
    expect(humanDuration(1000)).toBe('1 second');
    expect(humanDuration(59_999)).toBe('59 seconds');
    expect(humanDuration(60_000)).toBe('About a minute');
    expect(humanDuration(5 * 60_000)).toBe('5 minutes');
    expect(humanDuration(3_600_000)).toBe('About an hour');
    expect(humanDuration(3 * 86_400_000)).toBe('3 days');
  });

  it("validates digests with go-digest's messages", () => {
    expect(() => validateDigest(`sha256:${'a'.repeat(64)}`)).not.toThrow();
    expect(() => validateDigest('')).toThrow('invalid checksum digest format');
    expect(() => validateDigest('sha256:abc')).toThrow('invalid checksum digest length');
    expect(() => validateDigest('md5:abc')).toThrow('unsupported digest algorithm');
    expect(() => validateDigest(`sha256:${'A'.repeat(64)}`)).toThrow('invalid checksum digest format');
    expect(() => validateDigest('Bad:abc')).toThrow('invalid checksum digest format');
  });
});
