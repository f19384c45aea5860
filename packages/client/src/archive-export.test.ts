import { describe, expect, it } from 'vitest';
import { descriptorJSON, goJSON } from './archive-export.js';

describe('archive JSON as Go encodes it', () => {
  it('writes descriptor fields in the OCI structs’ order, annotations sorted, empty fields left out', () => {
    const d = {
      platform: { os: 'linux', architecture: 'amd64' },
      annotations: { 'org.opencontainers.image.ref.name': '1', 'io.containerd.image.name': 'example.com/x:1' },
      size: 398,
      digest: `sha256:${'a'.repeat(64)}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      urls: [],
    };
    expect(goJSON(descriptorJSON(d))).toBe(
      `{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:${'a'.repeat(64)}","size":398,` +
        '"annotations":{"io.containerd.image.name":"example.com/x:1","org.opencontainers.image.ref.name":"1"},"platform":{"architecture":"amd64","os":"linux"}}',
    );
    expect(goJSON(descriptorJSON({ mediaType: '', digest: 'sha256:b', size: 0 }))).toBe('{"digest":"sha256:b","size":0}');
  });

  it('escapes <, > and & as encoding/json does', () => {
    expect(goJSON({ a: '<b>&' })).toBe('{"a":"\\u003cb\\u003e\\u0026"}');
  });
});
