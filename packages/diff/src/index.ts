// The differ contract, as containerd's diff package: an Applier unpacks a layer blob into
// mounts, a Comparer writes the layer tar of the changes between two mounts to the content
// store. The walking differ implements both; services depend on these interfaces only.
import type { Descriptor } from '@containerd-ts/content';
import { notImplemented } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import type {} from '@containerd-ts/plugin';
import type { Mount } from '@containerd-ts/snapshots';

export type { Descriptor } from '@containerd-ts/content';
export type { Mount } from '@containerd-ts/snapshots';

/** Label on a compressed diff blob naming the digest of its uncompressed tar (the diff ID). */
export const UNCOMPRESSED_LABEL = 'containerd.io/uncompressed';

export const MEDIA_TYPE_LAYER = 'application/vnd.oci.image.layer.v1.tar';
export const MEDIA_TYPE_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** An opaque payload for a stream processor (protobuf Any), keyed by processor ID. */
export interface Payload {
  typeUrl: string;
  value: Uint8Array;
}

/** containerd's diff.ApplyConfig. */
export interface ApplyOptions {
  /** Payloads for stream processors that handle the layer's media type. */
  payloads?: Record<string, Payload>;
}

/** containerd's diff.Config. */
export interface DiffOptions {
  /** Media type of the diff; `…layer.v1.tar+gzip` when empty. */
  mediaType?: string;
  /** Content store ingest ref; a unique one when empty. */
  reference?: string;
  /** Labels of the committed blob. */
  labels?: Record<string, string>;
}

/** Applies a layer to mounts (containerd's diff.Applier). */
export interface Applier {
  /**
   * Reads the blob of `desc` from the content store and applies it to `mounts`. Returns
   * the descriptor of the uncompressed layer that was applied (its digest is the diff ID).
   */
  apply(ctx: RequestContext, desc: Descriptor, mounts: readonly Mount[], options?: ApplyOptions): Promise<Descriptor>;
}

/** Computes a layer from two mounts (containerd's diff.Comparer). */
export interface Comparer {
  /**
   * Writes the changes from `lower` to `upper` as a layer blob into the content store and
   * returns its descriptor (the `containerd.io/uncompressed` label set when compressed).
   */
  compare(ctx: RequestContext, lower: readonly Mount[], upper: readonly Mount[], options?: DiffOptions): Promise<Descriptor>;
}

/** What an `io.containerd.differ.v1` plugin provides. */
export interface Differ extends Applier, Comparer {}

/**
 * The media type a diff is written with and whether it is gzip-compressed, as containerd's
 * walking differ decides: gzip by default; only plain and gzip OCI layers are supported.
 */
export function diffMediaType(mediaType: string | undefined): { mediaType: string; compressed: boolean } {
  const mt = mediaType || MEDIA_TYPE_LAYER_GZIP;
  switch (mt) {
    case MEDIA_TYPE_LAYER:
      return { mediaType: mt, compressed: false };
    case MEDIA_TYPE_LAYER_GZIP:
      return { mediaType: mt, compressed: true };
    default:
      throw notImplemented(`unsupported diff media type: ${mt}`);
  }
}

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.differ.v1': Differ;
  }
}
