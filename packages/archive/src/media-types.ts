// Layer media types and how each one is decompressed, as containerd's
// images.DiffCompression decides it.
import { notImplemented } from '@containerd-ts/errdefs';

export const MediaType = {
  /** OCI layer, uncompressed. Also what Apply reports for the layer it applied. */
  ociLayer: 'application/vnd.oci.image.layer.v1.tar',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  ociLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  ociLayerNonDistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  ociLayerNonDistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  ociLayerNonDistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
} as const;

/**
 * How a layer of this media type is to be read:
 * - `''`: a plain tar, read as is (no detection, as containerd);
 * - `'gzip'` / `'zstd'` / `'unknown'`: compressed, or possibly so; the stream is then
 *   decompressed by what its first bytes say (gzip, zstd or nothing).
 * An unrecognised media type is `not implemented`, with containerd's message.
 */
export function diffCompression(mediaType: string): '' | 'gzip' | 'zstd' | 'unknown' {
  const [base = '', ...rest] = mediaType === '' ? [''] : mediaType.split('+');
  const ext = rest.sort();
  switch (base) {
    case MediaType.dockerLayer:
    case MediaType.dockerLayerForeign:
      // Docker's plain layer type is used for compressed blobs too: let the magic decide.
      return ext.length > 0 ? '' : 'unknown';
    case MediaType.dockerLayerGzip:
    case MediaType.dockerLayerForeignGzip:
      return ext.length > 0 ? '' : 'gzip';
    case MediaType.ociLayer:
    case MediaType.ociLayerNonDistributable: {
      const last = ext[ext.length - 1];
      if (last === 'gzip' || last === 'zstd') return last;
      return '';
    }
    default:
      throw notImplemented(`unrecognised mediatype ${mediaType}`);
  }
}

/** True for the media types of image layers (OCI `…image.layer.…`, Docker rootfs diffs). */
export function isLayerType(mediaType: string): boolean {
  if (mediaType.startsWith('application/vnd.oci.image.layer.')) return true;
  const base = mediaType.split('+')[0];
  return (
    base === MediaType.dockerLayer ||
    base === MediaType.dockerLayerGzip ||
    base === MediaType.dockerLayerForeign ||
    base === MediaType.dockerLayerForeignGzip
  );
}

/** True for non-distributable (foreign) layer media types. */
export function isNonDistributable(mediaType: string): boolean {
  return (
    mediaType.startsWith('application/vnd.oci.image.layer.nondistributable.') ||
    mediaType.startsWith('application/vnd.docker.image.rootfs.foreign.')
  );
}
