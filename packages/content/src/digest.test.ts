import { describe, expect, it } from 'vitest';
import { EMPTY_DIGEST, digestOf, digestProblem, splitDigest } from './digest.js';

describe('digests', () => {
  it('validates as go-digest does', () => {
    expect(digestProblem(EMPTY_DIGEST)).toBeUndefined();
    expect(digestProblem(`sha512:${'a'.repeat(128)}`)).toBeUndefined();
    expect(digestProblem('sha256')).toBe('invalid checksum digest format');
    expect(digestProblem('sha256:')).toBe('invalid checksum digest format');
    expect(digestProblem(':abc')).toBe('invalid checksum digest format');
    expect(digestProblem('sha256:abc')).toBe('invalid checksum digest length');
    expect(digestProblem(`sha256:${'A'.repeat(64)}`)).toBe('invalid checksum digest format');
    expect(digestProblem(`md5:${'a'.repeat(32)}`)).toBe('unsupported digest algorithm');
    expect(digestProblem('MD5:abc')).toBe('invalid checksum digest format');
  });

  it('hashes with the canonical algorithm', () => {
    expect(digestOf('')).toBe(EMPTY_DIGEST);
    expect(splitDigest(EMPTY_DIGEST)).toEqual({ algorithm: 'sha256', hex: EMPTY_DIGEST.slice(7) });
  });
});
