import { describe, expect, it } from 'vitest';
import { formatReference, hostname, parseReference, referenceDigest, referenceHost, referenceRepository } from './reference.js';

describe('parseReference (containerd reference.Parse)', () => {
  it('splits locator and object', () => {
    expect(parseReference('127.0.0.1:5000/fixture:gzip')).toEqual({ locator: '127.0.0.1:5000/fixture', object: 'gzip' });
    expect(parseReference('docker.io/library/busybox:1.36@sha256:abc')).toEqual({ locator: 'docker.io/library/busybox', object: '1.36@sha256:abc' });
    expect(parseReference('example.com/a/b@sha256:abc')).toEqual({ locator: 'example.com/a/b', object: '@sha256:abc' });
    expect(parseReference('example.com/a')).toEqual({ locator: 'example.com/a', object: '' });
    expect(parseReference('foo')).toEqual({ locator: 'foo', object: '' });
  });

  it('gives the parts a resolver needs', () => {
    const spec = parseReference('127.0.0.1:5000/team/app:1@sha256:0123');
    expect(referenceHost(spec)).toBe('127.0.0.1:5000');
    expect(referenceRepository(spec)).toBe('team/app');
    expect(referenceDigest(spec)).toBe('sha256:0123');
    expect(hostname('127.0.0.1:5000')).toBe('127.0.0.1');
    expect(hostname('[::1]:5000')).toBe('::1');
    expect(formatReference(spec)).toBe('127.0.0.1:5000/team/app:1@sha256:0123');
    expect(formatReference(parseReference('h/x@sha256:1'))).toBe('h/x@sha256:1');
  });

  it("rejects what containerd rejects, in its words", () => {
    expect(() => parseReference('Bad Ref')).toThrow('parse "dummy://Bad Ref": invalid character " " in host name');
    expect(() => parseReference('http://example.com/x:1')).toThrow('invalid reference');
    expect(() => parseReference('/x:1')).toThrow('hostname required');
  });
});
