// The resolver's own checks and its dial errors (a port nothing listens on); resolving and
// fetching from a real registry is covered by test-e2e's ctr-ts-images test.
import { describe, expect, it } from 'vitest';
import { RESOLVE_ACCEPT, Registry, isLocalhost, validateDigest } from './registry.js';
import { goNetError } from './transport.js';

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

  it('words TLS failures as Go does', () => {
    const e = (code: string, message = '') => Object.assign(new Error(message), { code });
    expect(goNetError(e('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'r:443')).toBe('x509: certificate signed by unknown authority');
    expect(goNetError(e('SELF_SIGNED_CERT_IN_CHAIN'), 'r:443')).toBe('x509: certificate signed by unknown authority');
    expect(goNetError(e('CERT_HAS_EXPIRED'), 'r:443')).toBe('x509: certificate has expired or is not yet valid');
    expect(
      goNetError(e('ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE', '80:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:rec_layer_s3.c:1601:SSL alert number 42'), 'r:443'),
    ).toBe('remote error: tls: bad certificate');
    const altname = (sans: string) => Object.assign(e('ERR_TLS_CERT_ALTNAME_INVALID'), { cert: { subjectaltname: sans } });
    expect(goNetError(altname('IP Address:127.0.0.1, DNS:localhost'), '127.0.0.2:5000')).toBe('x509: certificate is valid for 127.0.0.1, not 127.0.0.2');
    expect(goNetError(altname('DNS:a.example, DNS:b.example'), 'c.example')).toBe('x509: certificate is valid for a.example, b.example, not c.example');
    expect(goNetError(altname('DNS:a.example'), '[::1]:5000')).toBe("x509: cannot validate certificate for ::1 because it doesn't contain any IP SANs");
    expect(goNetError(altname('IP Address:127.0.0.1'), 'localhost:5000')).toBe('x509: certificate is not valid for any names, but wanted to match localhost');
    expect(goNetError(e('ECONNREFUSED'), '127.0.0.1:1')).toBe('dial tcp 127.0.0.1:1: connect: connection refused');
  });
});
