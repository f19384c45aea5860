import { describe, expect, it } from 'vitest';
import { familiarizeReference, normalizeDockerReference, ociReferenceName, refTranslator } from './archive-reference.js';

describe('docker references in archives', () => {
  it('normalizes RepoTags as ParseDockerRef does', () => {
    expect(normalizeDockerReference('busybox')).toBe('docker.io/library/busybox:latest');
    expect(normalizeDockerReference('busybox:1.36')).toBe('docker.io/library/busybox:1.36');
    expect(normalizeDockerReference('user/app:v1')).toBe('docker.io/user/app:v1');
    expect(normalizeDockerReference('localhost:5000/app')).toBe('localhost:5000/app:latest');
    expect(normalizeDockerReference('index.docker.io/library/alpine:3')).toBe('docker.io/library/alpine:3');
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(normalizeDockerReference(`app:1@${digest}`)).toBe(`docker.io/library/app@${digest}`);
    expect(() => normalizeDockerReference('Busybox')).toThrow('invalid reference format: repository name must be lowercase');
    expect(() => normalizeDockerReference('a'.repeat(64))).toThrow('cannot specify 64-byte hexadecimal strings');
    expect(() => normalizeDockerReference('bad ref')).toThrow('invalid reference format');
  });

  it('familiarizes names as docker save writes them', () => {
    expect(familiarizeReference('docker.io/library/busybox:latest')).toBe('busybox:latest');
    expect(familiarizeReference('docker.io/user/app')).toBe('user/app:latest');
    expect(familiarizeReference('127.0.0.1:5000/fixture:gzip')).toBe('127.0.0.1:5000/fixture:gzip');
    expect(familiarizeReference('import-2024-01-01:latest')).toBe('import-2024-01-01:latest');
  });

  it('translates OCI ref names as ctr images import --base-name', () => {
    expect(ociReferenceName('docker.io/library/busybox:latest')).toBe('latest');
    expect(refTranslator('foo/bar', false)('latest')).toBe('foo/bar:latest');
    expect(refTranslator('foo/bar', false)('example.com/x:1')).toBe('example.com/x:1');
    expect(refTranslator('foo/bar', true)('example.com/x:1')).toBe('');
    expect(refTranslator('foo/bar', true)('foo/bar:2')).toBe('foo/bar:2');
    expect(refTranslator('foo/bar', true)('foo/barn:2')).toBe('');
  });
});
