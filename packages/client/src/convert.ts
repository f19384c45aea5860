// Image conversion as containerd's images/converter with its default index converter
// (what `ctr images convert` runs): Docker media types to OCI (`docker2oci`), gzip layers
// to plain tar (`uncompress`, gzip and zstd), an index narrowed to some platforms. Every rewritten
// manifest, index and config is marshalled as Go's encoding/json writes it, so the new
// image has the digest containerd's converter gives it.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { decompressStream } from '@containerd-ts/archive';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import type { CallContext, Connection } from './connection.js';
import { contentInfo, readContent, readContentStream, updateContentLabels, writeBlob } from './content.js';
import { GoMap, type GoDescriptor, RawJSON, goMarshal, marshalIndex, marshalManifest, rawMembers } from './go-json.js';
import { type Descriptor, type Index, type Manifest, MediaType, isIndexType, isLayerType, isManifestType, sha256 } from './images.js';
import { withLease } from './lease.js';
import type { Platform } from './platforms.js';

export interface ConvertOptions {
  /** Layers compressed with gzip become plain tar layers (uncompress.LayerConvertFunc). */
  uncompress?: boolean;
  /** Docker media types become OCI media types (converter.WithDockerToOCI). */
  docker2oci?: boolean;
  /**
   * The platforms an index keeps (converter.WithPlatform); entries of other platforms are
   * dropped. Undefined keeps every entry (platforms.All), as `--all-platforms`.
   */
  platform?: (p: Platform) => boolean;
}

const LABEL_UNCOMPRESSED = 'containerd.io/uncompressed';
const GC_CONTENT = 'containerd.io/gc.ref.content';

const uncompressedTypes: readonly string[] = [
  MediaType.dockerLayer,
  MediaType.dockerLayerForeign,
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
];

/** converter.ConvertDockerMediaTypeToOCI. */
export function dockerMediaTypeToOCI(mt: string): string {
  const map: Record<string, string> = {
    [MediaType.dockerManifestList]: MediaType.ociIndex,
    [MediaType.dockerManifest]: MediaType.ociManifest,
    [MediaType.dockerLayerGzip]: 'application/vnd.oci.image.layer.v1.tar+gzip',
    [MediaType.dockerLayerForeignGzip]: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
    [MediaType.dockerLayer]: 'application/vnd.oci.image.layer.v1.tar',
    [MediaType.dockerLayerForeign]: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
    [MediaType.dockerConfig]: MediaType.ociConfig,
  };
  return map[mt] ?? mt;
}

/** uncompress's media type of a layer once uncompressed. */
export function uncompressedMediaType(mt: string): string {
  switch (mt) {
    case MediaType.dockerLayerGzip:
      return MediaType.dockerLayer;
    case MediaType.dockerLayerForeignGzip:
      return MediaType.dockerLayerForeign;
    case 'application/vnd.oci.image.layer.v1.tar+gzip':
    case 'application/vnd.oci.image.layer.v1.tar+zstd':
      return 'application/vnd.oci.image.layer.v1.tar';
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip':
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
      return 'application/vnd.oci.image.layer.nondistributable.v1.tar';
    default:
      return mt;
  }
}

const isDockerType = (mt: string) => mt.startsWith('application/vnd.docker.');
const isConfigType = (mt: string) => mt === MediaType.dockerConfig || mt === MediaType.ociConfig;

/** converter.ClearGCLabels: drops the content GC references to `digest`. */
export function clearGCLabels(labels: Record<string, string>, digest: string): void {
  for (const [k, v] of Object.entries(labels)) if (v === digest && k.startsWith(GC_CONTENT)) delete labels[k];
}

/** compression.DecompressStream of a blob: gzip and zstd are inflated, anything else passes through. */
async function* decompressedBlob(conn: Connection, digest: string, ctx: CallContext): AsyncGenerator<Buffer> {
  const { stream } = await decompressStream(readContentStream(conn, digest, ctx));
  yield* stream as AsyncIterable<Buffer>;
}

/** A converter run: one per image, as containerd's defaultConverter (it keeps the map of changed diff IDs). */
class Converter {
  private readonly diffIds = new Map<string, string>();

  constructor(
    private readonly conn: Connection,
    private readonly opts: ConvertOptions,
    private readonly ctx: CallContext,
  ) {}

  /** The converted descriptor, or undefined when `desc` stays as it is. */
  async convert(desc: GoDescriptor): Promise<GoDescriptor | undefined> {
    let out: GoDescriptor | undefined;
    if (isLayerType(desc.mediaType)) out = this.opts.uncompress ? await this.uncompressLayer(desc) : undefined;
    else if (isManifestType(desc.mediaType)) out = await this.convertManifest(desc);
    else if (isIndexType(desc.mediaType)) out = await this.convertIndex(desc);
    else if (isConfigType(desc.mediaType)) out = await this.convertConfig(desc);
    if (isDockerType(desc.mediaType)) {
      if (this.opts.docker2oci) {
        out = { ...(out ?? desc) };
        out.mediaType = dockerMediaTypeToOCI(out.mediaType);
      } else if (Object.keys((out ?? desc).annotations ?? {}).length > 0) {
        // containerd drops annotations of Docker descriptors (Docker's schema has none).
        out = { ...(out ?? desc), annotations: undefined };
      }
    }
    return out;
  }

  private async readJSON(desc: Descriptor): Promise<{ labels: Record<string, string>; text: string }> {
    const info = await contentInfo(this.conn, desc.digest, this.ctx);
    const text = (await readContent(this.conn, desc.digest, this.ctx)).toString();
    return { labels: { ...info.labels }, text };
  }

  /** converter's writeJSON: the document stored under `converter-write-json-<digest>` with the labels. */
  private async writeJSON(text: string, old: GoDescriptor, labels: Record<string, string>): Promise<GoDescriptor> {
    const data = Buffer.from(text);
    const digest = sha256(data);
    await writeBlob(
      this.conn,
      async () => Readable.from([data]),
      { ref: `converter-write-json-${digest}`, expected: digest, size: data.length, labels },
      this.ctx,
    );
    return { ...old, digest, size: data.length };
  }

  /** images.GetDiffID: a plain layer's digest, else its `uncompressed` label, else computed (and labelled). */
  private async diffId(desc: Descriptor): Promise<string> {
    if (uncompressedTypes.includes(desc.mediaType)) return desc.digest;
    const info = await contentInfo(this.conn, desc.digest, this.ctx);
    const label = info.labels[LABEL_UNCOMPRESSED];
    if (label !== undefined) return label;
    const hash = createHash('sha256');
    for await (const chunk of decompressedBlob(this.conn, desc.digest, this.ctx)) hash.update(chunk);
    const digest = `sha256:${hash.digest('hex')}`;
    await updateContentLabels(this.conn, desc.digest, { [LABEL_UNCOMPRESSED]: digest }, this.ctx);
    return digest;
  }

  /** uncompress.LayerConvertFunc: the layer inflated into `convert-uncompress-from-<digest>`. */
  private async uncompressLayer(desc: GoDescriptor): Promise<GoDescriptor | undefined> {
    if (uncompressedTypes.includes(desc.mediaType)) return undefined;
    const info = await contentInfo(this.conn, desc.digest, this.ctx);
    const labels = { ...info.labels };
    delete labels[LABEL_UNCOMPRESSED];
    let digest = '';
    let size = 0;
    // Each (re)opening inflates from the start and hashes everything; the writer gets the
    // bytes from the offset the daemon already has.
    const open = async (offset: number) => {
      const conn = this.conn;
      const ctx = this.ctx;
      return (async function* () {
        const hash = createHash('sha256');
        let n = 0;
        for await (const chunk of decompressedBlob(conn, desc.digest, ctx)) {
          hash.update(chunk);
          const start = n;
          n += chunk.length;
          if (n <= offset) continue;
          yield start >= offset ? chunk : chunk.subarray(offset - start);
        }
        digest = `sha256:${hash.digest('hex')}`;
        size = n;
      })();
    };
    await writeBlob(this.conn, open, { ref: `convert-uncompress-from-${desc.digest}`, expected: '', size: 0, labels }, this.ctx);
    return { ...desc, digest, size, mediaType: uncompressedMediaType(desc.mediaType) };
  }

  private async convertManifest(desc: GoDescriptor): Promise<GoDescriptor | undefined> {
    const { labels, text } = await this.readJSON(desc);
    const manifest = JSON.parse(text) as Manifest & { layers: GoDescriptor[] | null };
    let modified = false;
    if (manifest.mediaType && isDockerType(manifest.mediaType) && this.opts.docker2oci) {
      manifest.mediaType = dockerMediaTypeToOCI(manifest.mediaType);
      modified = true;
    }
    const layers = manifest.layers ?? [];
    const oldDiffIds: string[] = [];
    for (const l of layers) oldDiffIds.push(await this.diffId(l));
    await Promise.all(
      layers.map(async (l, i) => {
        const converted = await this.convert(l);
        if (converted === undefined) return;
        clearGCLabels(labels, l.digest);
        labels[`${GC_CONTENT}.l.${i}`] = converted.digest;
        layers[i] = converted;
        modified = true;
        const newDiffId = await this.diffId(converted);
        if (newDiffId !== oldDiffIds[i]) this.diffIds.set(oldDiffIds[i]!, newDiffId);
      }),
    );
    const config = await this.convert(manifest.config);
    if (config !== undefined) {
      clearGCLabels(labels, manifest.config.digest);
      labels[`${GC_CONTENT}.config`] = config.digest;
      manifest.config = config;
      modified = true;
    }
    return modified ? this.writeJSON(marshalManifest(manifest), desc, labels) : undefined;
  }

  private async convertIndex(desc: GoDescriptor): Promise<GoDescriptor | undefined> {
    const { labels, text } = await this.readJSON(desc);
    const index = JSON.parse(text) as Index;
    let modified = false;
    if (index.mediaType && isDockerType(index.mediaType) && this.opts.docker2oci) {
      index.mediaType = dockerMediaTypeToOCI(index.mediaType);
      modified = true;
    }
    const manifests: (GoDescriptor | undefined)[] = [...(index.manifests ?? [])];
    await Promise.all(
      (index.manifests ?? []).map(async (m, i) => {
        if (m.platform && this.opts.platform && !this.opts.platform(m.platform)) {
          clearGCLabels(labels, m.digest);
          manifests[i] = undefined;
          modified = true;
          return;
        }
        const converted = await this.convert(m);
        if (converted === undefined) return;
        clearGCLabels(labels, m.digest);
        labels[`${GC_CONTENT}.m.${i}`] = converted.digest;
        manifests[i] = converted;
        modified = true;
      }),
    );
    if (!modified) return undefined;
    const kept = manifests.filter((m): m is GoDescriptor => m !== undefined);
    // Go's nil slice: an index left with no entry has `"manifests":null`.
    return this.writeJSON(marshalIndex({ ...index, manifests: kept.length > 0 ? kept : (null as unknown as Descriptor[]) }), desc, labels);
  }

  /** The config's rootfs.diff_ids follow layers whose diff ID changed; the rest of the document is kept as it was. */
  private async convertConfig(desc: GoDescriptor): Promise<GoDescriptor | undefined> {
    const { labels, text } = await this.readJSON(desc);
    const members = rawMembers(text);
    const rootfs = (JSON.parse(text) as { rootfs?: { type?: string; diff_ids?: string[] | null } }).rootfs;
    if (rootfs?.type !== 'layers') return undefined;
    let changed = false;
    const diffIds = rootfs.diff_ids?.map((d) => {
      const n = this.diffIds.get(d);
      if (n === undefined || n === d) return d;
      changed = true;
      return n;
    });
    if (!changed) return undefined;
    const cfg = new GoMap([...members].map(([k, v]) => [k, new RawJSON(v)] as [string, unknown]));
    cfg.entries.set('rootfs', new RawJSON(goMarshal({ type: rootfs.type, diff_ids: diffIds ?? null })));
    // clearDockerV1DummyID: `Image` out of config and container_config (re-marshalled as maps).
    for (const key of ['config', 'container_config']) {
      const raw = members.get(key);
      if (raw === undefined || raw.trim() === 'null') continue;
      const fields = rawMembers(raw);
      fields.delete('Image');
      cfg.entries.set(key, new GoMap([...fields].map(([k, v]) => [k, new RawJSON(v)] as [string, unknown])));
    }
    return this.writeJSON(goMarshal(cfg), desc, labels);
  }
}

/**
 * converter.Convert: converts the image `srcRef` and stores the result as `dstRef` (an
 * existing `dstRef` is replaced; the same name is updated in place), under a lease for the
 * duration of the flow. Resolves to the new image record; its target is the source's when
 * nothing had to change.
 */
export async function convertImage(conn: Connection, srcRef: string, dstRef: string, opts: ConvertOptions = {}, ctx: CallContext = {}): Promise<Image> {
  return withLease(conn, ctx, async (ctx) => {
    const src = (await conn.unary(ImagesService.get, { name: srcRef }, ctx)).image;
    if (!src?.target) throw new Error(`image "${srcRef}": not found`);
    const converter = new Converter(conn, opts, ctx);
    const target = (await converter.convert(src.target)) ?? src.target;
    const image: Image = {
      name: dstRef,
      labels: src.labels,
      target: { mediaType: target.mediaType, digest: target.digest, size: target.size, annotations: target.annotations ?? {} },
      createdAt: undefined,
      updatedAt: undefined,
    };
    if (dstRef !== srcRef) {
      await conn.unary(ImagesService.delete, { name: dstRef, sync: false }, ctx).catch(() => undefined);
      return (await conn.unary(ImagesService.create, { image }, ctx)).image ?? image;
    }
    return (await conn.unary(ImagesService.update, { image, updateMask: [] }, ctx)).image ?? image;
  });
}
