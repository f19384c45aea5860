import { describe, expect, it } from 'vitest';
import { clearGCLabels, dockerMediaTypeToOCI, uncompressedMediaType } from './convert.js';

describe('converter helpers', () => {
  it('maps Docker media types to OCI ones as containerd, leaving others alone', () => {
    expect(dockerMediaTypeToOCI('application/vnd.docker.distribution.manifest.list.v2+json')).toBe('application/vnd.oci.image.index.v1+json');
    expect(dockerMediaTypeToOCI('application/vnd.docker.image.rootfs.foreign.diff.tar.gzip')).toBe('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip');
    expect(dockerMediaTypeToOCI('application/vnd.docker.container.image.v1+json')).toBe('application/vnd.oci.image.config.v1+json');
    expect(dockerMediaTypeToOCI('application/x-other')).toBe('application/x-other');
  });

  it('names the uncompressed media type of gzip and zstd layers', () => {
    expect(uncompressedMediaType('application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe('application/vnd.docker.image.rootfs.diff.tar');
    expect(uncompressedMediaType('application/vnd.oci.image.layer.v1.tar+zstd')).toBe('application/vnd.oci.image.layer.v1.tar');
    expect(uncompressedMediaType('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip')).toBe('application/vnd.oci.image.layer.nondistributable.v1.tar');
  });

  it('clears only content GC references to the digest', () => {
    const labels = { 'containerd.io/gc.ref.content.l.0': 'sha256:a', 'containerd.io/gc.ref.content.l.1': 'sha256:b', 'containerd.io/gc.ref.snapshot.overlayfs': 'sha256:a', other: 'sha256:a' };
    clearGCLabels(labels, 'sha256:a');
    expect(labels).toEqual({ 'containerd.io/gc.ref.content.l.1': 'sha256:b', 'containerd.io/gc.ref.snapshot.overlayfs': 'sha256:a', other: 'sha256:a' });
  });
});
