// The resolver's own checks and its dial errors (a port nothing listens on); resolving and
// fetching from a real registry is covered by test-e2e's ctr-ts-images test.
import { describe, expect, it } from 'vitest';
import { RESOLVE_ACCEPT, Registry, isLocalhost, validateDigest } from './registry.js';

describe('Registry', () => {
  it('sends containerd’s Accept header when resolving', () => {
    expect(RESOLVE_ACCEPT).toBe(
      'application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*',
    );
  });

  it('needs an object and a valid digest before it asks anything', async () => {
    await expect(new Registry('127.0.0.1:1/x', { plainHttp: true }).resolve()).rejects.toThrow('object required');
    await expect(new Registry('127.0.0.1:1/x@sha256:abc', { plainHttp: true }).resolve()).rejects.toThrow('invalid checksum digest length');
    expect(() => validateDigest('md5:abc')).toThrow('unsupported digest algorithm');
    expect(() => validateDigest(`sha256:${'A'.repeat(64)}`)).toThrow('invalid checksum digest format');
  });

  it('reports a refused connection as containerd does', async () => {
    await expect(new Registry('127.0.0.1:1/x:1', { plainHttp: true }).resolve()).rejects.toThrow(
      'failed to do request: Head "http://127.0.0.1:1/v2/x/manifests/1": dial tcp 127.0.0.1:1: connect: connection refused',
    );
  });

  it('speaks plain HTTP to a loopback registry without being asked, HTTPS elsewhere', async () => {
    expect(isLocalhost('127.0.0.1:5000')).toBe(true);
    expect(isLocalhost('localhost')).toBe(true);
    expect(isLocalhost('[::1]:5000')).toBe(true);
    expect(isLocalhost('registry.example.com:5000')).toBe(false);
    await expect(new Registry('127.0.0.1:1/x:1').resolve()).rejects.toThrow('Head "http://127.0.0.1:1/v2/x/manifests/1"');
  });
});
