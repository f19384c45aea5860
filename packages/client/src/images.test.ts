import { describe, expect, it } from 'vitest';
import { MediaType, appendDistributionSource, chainId, childrenLabels, childrenOf, isLayerType, makeRefKey, sha256 } from './images.js';

const d = (mediaType: string, n: number) => ({ mediaType, digest: `sha256:${String(n).repeat(64)}`, size: n });

describe('images', () => {
  it('labels children as SetChildrenMappedLabels: config, l.N, m.N', () => {
    const manifest = [d(MediaType.dockerConfig, 1), d(MediaType.dockerLayerGzip, 2), d('application/vnd.oci.image.layer.v1.tar+zstd', 3)];
    expect(childrenLabels(manifest)).toEqual({
      'containerd.io/gc.ref.content.config': manifest[0]!.digest,
      'containerd.io/gc.ref.content.l.0': manifest[1]!.digest,
      'containerd.io/gc.ref.content.l.1': manifest[2]!.digest,
    });
    const index = [d(MediaType.ociManifest, 4), d(MediaType.dockerManifest, 5), d('application/json', 6), d('application/json', 7)];
    expect(childrenLabels(index)).toEqual({
      'containerd.io/gc.ref.content.m.0': index[0]!.digest,
      'containerd.io/gc.ref.content.m.1': index[1]!.digest,
      'containerd.io/gc.ref.content.0': index[2]!.digest,
      'containerd.io/gc.ref.content.1': index[3]!.digest,
    });
  });

  it('names ingests as MakeRefKey', () => {
    expect(makeRefKey(d(MediaType.dockerManifest, 1))).toBe(`manifest-sha256:${'1'.repeat(64)}`);
    expect(makeRefKey(d(MediaType.ociIndex, 1))).toMatch(/^index-/);
    expect(makeRefKey(d(MediaType.dockerLayerGzip, 1))).toMatch(/^layer-/);
    expect(makeRefKey(d(MediaType.ociConfig, 1))).toMatch(/^config-/);
    expect(makeRefKey(d('text/plain', 1))).toMatch(/^unknown-/);
    expect(makeRefKey({ ...d(MediaType.ociManifest, 1), annotations: { 'org.opencontainers.image.ref.name': 'v1' } })).toBe(`manifest-v1@sha256:${'1'.repeat(64)}`);
    expect(isLayerType('application/vnd.docker.image.rootfs.diff.tar.gzip+enc')).toBe(true);
  });

  it('reads children of manifests and indexes', () => {
    const m = { config: d(MediaType.ociConfig, 1), layers: [d(MediaType.dockerLayerGzip, 2)] };
    expect(childrenOf(d(MediaType.ociManifest, 9), Buffer.from(JSON.stringify(m)))).toEqual([m.config, ...m.layers]);
    expect(childrenOf(d(MediaType.ociIndex, 9), Buffer.from(JSON.stringify({ manifests: [m.config] })))).toEqual([m.config]);
    expect(childrenOf(d(MediaType.dockerLayerGzip, 9), Buffer.from('x'))).toEqual([]);
  });

  it('computes chain IDs as identity.ChainID', () => {
    const a = sha256('a');
    const b = sha256('b');
    const c = sha256('c');
    expect(chainId([])).toBe('');
    expect(chainId([a])).toBe(a);
    expect(chainId([a, b, c])).toBe(sha256(`${sha256(`${a} ${b}`)} ${c}`));
  });

  it('keeps distribution sources as a sorted set', () => {
    expect(appendDistributionSource('', 'library/busybox')).toBe('library/busybox');
    expect(appendDistributionSource('z/b,a/b', 'm/x')).toBe('a/b,m/x,z/b');
    expect(appendDistributionSource('a/b', 'a/b')).toBe('a/b');
  });
});
