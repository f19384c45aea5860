import { describe, expect, it } from 'vitest';
import { canonicalHeaderKey, dumpRequest, dumpResponse } from './http-dump.js';

describe('http dumps as Go writes them', () => {
  it('canonical header keys', () => {
    expect(['docker-content-digest', 'etag', 'WWW-authenticate', 'x-content-type-options'].map(canonicalHeaderKey)).toEqual([
      'Docker-Content-Digest',
      'Etag',
      'Www-Authenticate',
      'X-Content-Type-Options',
    ]);
  });

  it('DumpRequest: request line, Host, sorted headers without Content-Length, blank line, body', () => {
    const d = dumpRequest('PUT', 'http://127.0.0.1:5000/v2/r/blobs/uploads/x?digest=sha256%3Aab', { 'user-agent': 'ua', 'content-type': 'application/octet-stream', 'content-length': '2', accept: ['a', 'b'] }, Buffer.from('hi'));
    expect(d.toString()).toBe(
      'PUT /v2/r/blobs/uploads/x?digest=sha256%3Aab HTTP/1.1\r\nHost: 127.0.0.1:5000\r\nAccept: a\r\nAccept: b\r\nContent-Type: application/octet-stream\r\nUser-Agent: ua\r\n\r\nhi',
    );
  });

  it('DumpResponse: status, Content-Length first, the other headers sorted; a HEAD answer keeps its length and has no body', () => {
    const headers = { 'content-length': '405', etag: '"x"', 'content-type': 't', date: 'D' };
    expect(dumpResponse({ statusText: '200 OK', headers }, Buffer.alloc(0), true).toString()).toBe('HTTP/1.1 200 OK\r\nContent-Length: 405\r\nContent-Type: t\r\nDate: D\r\nEtag: "x"\r\n\r\n');
    expect(dumpResponse({ statusText: '201 Created', headers: { 'content-length': '0' } }, Buffer.alloc(0)).toString()).toBe('HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n');
  });
});
