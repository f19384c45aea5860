import { isNotImplemented } from '@containerd-ts/errdefs';
import { describe, expect, it } from 'vitest';
import { diffMediaType, MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP } from './index.js';

describe('diffMediaType', () => {
  it('defaults to gzip and accepts plain layers', () => {
    expect(diffMediaType(undefined)).toEqual({ mediaType: MEDIA_TYPE_LAYER_GZIP, compressed: true });
    expect(diffMediaType('')).toEqual({ mediaType: MEDIA_TYPE_LAYER_GZIP, compressed: true });
    expect(diffMediaType(MEDIA_TYPE_LAYER)).toEqual({ mediaType: MEDIA_TYPE_LAYER, compressed: false });
  });

  it('refuses other media types as containerd 1.6 does', () => {
    let err: unknown;
    try {
      diffMediaType('application/vnd.oci.image.layer.v1.tar+zstd');
    } catch (e) {
      err = e;
    }
    expect(isNotImplemented(err)).toBe(true);
    expect((err as Error).message).toBe(
      'unsupported diff media type: application/vnd.oci.image.layer.v1.tar+zstd: not implemented',
    );
  });
});
