import { describe, expect, it } from 'vitest';
import { formatPlatform, matchPlatform, normalizePlatform, parsePlatform } from './platforms.js';

describe('platforms', () => {
  it('normalizes and formats as containerd', () => {
    expect(formatPlatform(normalizePlatform({ os: 'Linux', architecture: 'x86_64' }))).toBe('linux/amd64');
    expect(formatPlatform(normalizePlatform({ os: 'linux', architecture: 'aarch64', variant: 'v8' }))).toBe('linux/arm64');
    expect(formatPlatform(normalizePlatform({ os: 'linux', architecture: 'armhf' }))).toBe('linux/arm/v7');
    expect(formatPlatform({ os: '', architecture: '' })).toBe('unknown');
    expect(formatPlatform(parsePlatform('linux/arm64/v8'))).toBe('linux/arm64');
    expect(() => parsePlatform('linux/a b')).toThrow(
      '"a b" is an invalid component of "linux/a b": platform specifier component must match "^[A-Za-z0-9_-]+$": invalid argument',
    );
    expect(() => parsePlatform('a/b/c/d')).toThrow('"a/b/c/d": cannot parse platform specifier: invalid argument');
  });

  it('matches the wanted platform only (older arm variants on arm)', () => {
    const amd64 = { os: 'linux', architecture: 'amd64' };
    expect(matchPlatform(amd64, { os: 'linux', architecture: 'amd64' })).toBe(true);
    expect(matchPlatform(amd64, { os: 'linux', architecture: 'arm64' })).toBe(false);
    expect(matchPlatform(amd64, { os: 'windows', architecture: 'amd64' })).toBe(false);
    const v7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
    expect(matchPlatform(v7, { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(true);
    expect(matchPlatform({ os: 'linux', architecture: 'arm', variant: 'v6' }, v7)).toBe(false);
  });
});
