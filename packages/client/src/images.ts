// Image media types and the pure parts of containerd's images package: children of a
// manifest or index, the GC reference labels a parent gets for them, ref keys of ingests,
// and chain IDs of a layer stack.
import { createHash } from 'node:crypto';
import type { Platform } from './platforms.js';

export const MediaType = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1Manifest: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar',
  dockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  dockerLayerForeign: 'application/vnd.docker.image.rootfs.foreign.diff.tar',
  dockerLayerForeignGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  checkpoint: 'application/vnd.containerd.container.criu.checkpoint.criu.tar',
  checkpointConfig: 'application/vnd.containerd.container.checkpoint.config.v1+proto',
} as const;

/** An OCI descriptor (the fields containerd reads). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
  urls?: string[];
}

export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Index {
  schemaVersion?: number;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageConfig {
  os?: string;
  architecture?: string;
  variant?: string;
  rootfs?: { type?: string; diff_ids?: string[] };
}

export const isManifestType = (mt: string) => mt === MediaType.dockerManifest || mt === MediaType.ociManifest;
export const isIndexType = (mt: string) => mt === MediaType.dockerManifestList || mt === MediaType.ociIndex;

/** images.IsLayerType. */
export function isLayerType(mt: string): boolean {
  if (mt.startsWith('application/vnd.oci.image.layer.')) return true;
  const base = mt.split('+')[0]!;
  return [MediaType.dockerLayer, MediaType.dockerLayerGzip, MediaType.dockerLayerForeign, MediaType.dockerLayerForeignGzip].includes(
    base as typeof MediaType.dockerLayer,
  );
}

/** images.IsKnownConfig. */
export const isKnownConfig = (mt: string) =>
  mt === MediaType.dockerConfig || mt === MediaType.ociConfig || mt === MediaType.checkpoint || mt === MediaType.checkpointConfig;

/** remotes.MakeRefKey: the ingest ref of a descriptor (`manifest-sha256:…`, `layer-…`, …). */
export function makeRefKey(desc: Descriptor): string {
  const name = desc.annotations?.['org.opencontainers.image.ref.name'];
  const key = name === undefined ? desc.digest : `${name}@${desc.digest}`;
  const mt = desc.mediaType;
  if (isManifestType(mt)) return `manifest-${key}`;
  if (isIndexType(mt)) return `index-${key}`;
  if (isLayerType(mt)) return `layer-${key}`;
  if (isKnownConfig(mt)) return `config-${key}`;
  return `unknown-${key}`;
}

/** images.ChildGCLabels: the label key prefix a parent uses for a child. */
export function childGCLabel(desc: Descriptor): string {
  const mt = desc.mediaType;
  if (isKnownConfig(mt)) return 'containerd.io/gc.ref.content.config';
  if (isManifestType(mt)) return 'containerd.io/gc.ref.content.m.';
  if (isLayerType(mt)) return 'containerd.io/gc.ref.content.l.';
  return 'containerd.io/gc.ref.content.';
}

/** images.SetChildrenMappedLabels: the labels a parent gets for its children. */
export function childrenLabels(children: readonly Descriptor[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const seen = new Map<string, number>();
  for (const ch of children) {
    let key = childGCLabel(ch);
    const idx = seen.get(key) ?? 0;
    seen.set(key, idx + 1);
    if (idx > 0 || key.endsWith('.')) key = `${key}${idx}`;
    labels[key] = ch.digest;
  }
  return labels;
}

/** images.IsNonDistributable: a layer its author forbids registries to serve (a Windows base layer). */
export const isNonDistributable = (mt: string) =>
  mt.startsWith('application/vnd.oci.image.layer.nondistributable.') || mt.startsWith('application/vnd.docker.image.rootfs.foreign.');

/**
 * images' validateMediaType: a document named a manifest must not look like an index and
 * the reverse (the media type a caller gives may be wrong); containerd's words.
 */
export function validateMediaType(data: Buffer, mt: string): void {
  const doc = JSON.parse(data.toString()) as { mediaType?: unknown; config?: unknown; layers?: unknown; manifests?: unknown; fsLayers?: unknown };
  // Go's json.RawMessage of `null` is empty: only a present, non-null member counts.
  const has = (v: unknown) => v !== undefined && v !== null;
  if (has(doc.fsLayers)) throw new Error('media-type: schema 1 not supported');
  if (isManifestType(mt) && (has(doc.manifests) || isIndexType(String(doc.mediaType ?? '')))) {
    throw new Error(`media-type: expected manifest but found index (${mt})`);
  }
  if (isIndexType(mt) && (has(doc.config) || has(doc.layers) || isManifestType(String(doc.mediaType ?? '')))) {
    throw new Error(`media-type: expected index but found manifest (${mt})`);
  }
}

/** images.Children with its check of the document against the media type (`children: invalid desc …`). */
export function checkedChildrenOf(desc: Descriptor, data: Buffer): Descriptor[] {
  if (!isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) return [];
  try {
    validateMediaType(data, desc.mediaType);
  } catch (err) {
    if (err instanceof SyntaxError) throw err;
    throw new Error(`children: invalid desc ${desc.digest}: ${(err as Error).message}`);
  }
  return childrenOf(desc, data);
}

/** images.Children: the descriptors a manifest or index refers to. */
export function childrenOf(desc: Descriptor, data: Buffer): Descriptor[] {
  if (isManifestType(desc.mediaType)) {
    const m = JSON.parse(data.toString()) as Manifest;
    return [m.config, ...(m.layers ?? [])];
  }
  if (isIndexType(desc.mediaType)) return (JSON.parse(data.toString()) as Index).manifests ?? [];
  return [];
}

export const sha256 = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** identity.ChainID of diff IDs. */
export function chainId(diffIds: readonly string[]): string {
  let chain = diffIds[0] ?? '';
  for (const d of diffIds.slice(1)) chain = sha256(`${chain} ${d}`);
  return chain;
}

/** docker's appendDistributionSourceLabel: the sorted set of repositories, comma-separated. */
export function appendDistributionSource(origin: string, repo: string): string {
  const repos = new Set(origin === '' ? [] : origin.split(','));
  repos.add(repo);
  return [...repos].sort().join(',');
}
