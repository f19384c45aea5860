// client.Import / images/archive.ImportIndex: an OCI image layout or a `docker save`
// archive (v1.1/v1.2: manifest.json, layer tars gzip or not) read from a tar stream. Every
// regular file is written to the content store as it passes (ref `tar-<name>`); for Docker
// archives a schema 2 manifest per image and an OCI index over them are written as
// containerd writes them (same JSON, so the same digests); then the index is walked for
// the wanted platforms, parents get their children's GC labels and the named manifests
// become image records. All under one lease, removed at the end.
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { ContentService } from '@containerd-ts/api/services/content';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { isNotFound } from '@containerd-ts/errdefs';
import tarStream from 'tar-stream';
import { ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, descriptorJSON, goJSON } from './archive-export.js';
import { normalizeDockerReference, ociReferenceName } from './archive-reference.js';
import type { CallContext, Connection } from './connection.js';
import { readContent, readContentStream, updateContentLabels, writeBlob } from './content.js';
import { type Descriptor, type ImageConfig, MediaType, childrenLabels, childrenOf, isIndexType, isManifestType } from './images.js';
import { withLease } from './lease.js';
import { type Platform, defaultPlatform, matchPlatform, normalizePlatform } from './platforms.js';
import type { ImageRecord } from './pull.js';

export interface ImportOptions {
  /** Turns an OCI ref name (`latest`) into an image name; '' drops it (ctr's --base-name). Default: kept as is. */
  refTranslator?: (ref: string) => string;
  /** Also names every manifest of the index by digest (ctr's --digests). */
  digestRef?: (digest: string) => string;
  /** No digest name for a manifest whose name this accepts (--skip-digest-for-named). */
  skipDigestRef?: (name: string) => boolean;
  /** An image record for the index itself (--index-name). */
  indexName?: string;
  /** Keep and label every platform's manifests (--all-platforms). */
  allPlatforms?: boolean;
  /** Which platforms' manifests are kept (default: this host's, as platforms.Default). */
  platform?: (p: Platform) => boolean;
  /** Gzip uncompressed layers of a Docker archive (--compress-blobs). */
  compress?: boolean;
}

/** platforms.OnlyStrict(p): the same normalized OS, architecture and variant. */
export function strictPlatformMatcher(want: Platform): (p: Platform) => boolean {
  const a = normalizePlatform(want);
  return (have) => {
    const b = normalizePlatform({ ...have, os: have.os ?? '' });
    return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
  };
}

/** A tar stream that ended inside an entry, in Go's words (io.ReadFull of the entry). */
function truncated(err: unknown): Error {
  const message = (err as Error).message;
  if (/^Unexpected end of data/.test(message)) return new Error('failed to read expected number of bytes: unexpected EOF', { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

/** The largest JSON file (oci-layout, manifest.json) read from an archive. */
const JSON_LIMIT = 20 << 20;

interface DockerManifest {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[] | null;
}

/** Go's encoding/json matches field names case-insensitively. */
function field(o: unknown, name: string): unknown {
  if (typeof o !== 'object' || o === null) return undefined;
  const key = Object.keys(o).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : (o as { [k: string]: unknown })[key];
}

function parseDockerManifests(data: Buffer, name: string): DockerManifest[] | null {
  let v: unknown;
  try {
    v = JSON.parse(data.toString());
  } catch (err) {
    throw new Error(`untar manifest ${JSON.stringify(name)}: ${(err as Error).message}`);
  }
  if (v === null) return null;
  if (!Array.isArray(v)) throw new Error(`untar manifest ${JSON.stringify(name)}: json: cannot unmarshal ${typeof v} into Go value of type []struct`);
  return v.map((m) => ({
    Config: String(field(m, 'Config') ?? ''),
    RepoTags: (field(m, 'RepoTags') as string[] | null | undefined) ?? null,
    Layers: (field(m, 'Layers') as string[] | null | undefined) ?? null,
  }));
}

/** A descriptor read back from the index JSON, in our shape. */
const asDescriptor = (d: Descriptor): Descriptor => ({ ...d, size: Number(d.size) });

/** The API's Descriptor message of a descriptor. */
const apiDescriptor = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: d.annotations ?? {} });

/** Writes JSON as containerd's writeManifest does: ref `manifest-<digest>`, digest checked on commit. */
async function writeJSON(conn: Connection, data: Buffer, mediaType: string, ctx: CallContext): Promise<Descriptor> {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  await writeBlob(conn, async () => Readable.from([data]), { ref: `manifest-${digest}`, expected: digest, size: data.length }, ctx);
  return { mediaType, digest, size: data.length };
}

/** The first bytes of a blob (or fewer, if it is shorter). */
async function head(conn: Connection, digest: string, n: number, ctx: CallContext): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const res of conn.serverStream(ContentService.read, { digest, offset: 0, size: n }, ctx)) chunks.push(Buffer.from(res.data));
  return Buffer.concat(chunks).subarray(0, n);
}

const isCompressed = (b: Buffer) =>
  (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) || (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd);

/** archive.resolveLayers: the layer descriptors of a Docker manifest, compressed copies reused. */
async function resolveLayers(conn: Connection, files: string[], blobs: Map<string, Descriptor>, compress: boolean, ctx: CallContext): Promise<Descriptor[]> {
  const layers: Descriptor[] = [];
  for (const f of files) {
    const desc = blobs.get(f);
    if (!desc) throw new Error(`failed to resolve layers: layer ${JSON.stringify(f)} not found`);
    layers.push({ ...desc });
  }
  if (layers.length === 0) return layers;
  // A compressed blob of the same layer already in the store (from an earlier import) is used instead.
  const filters = layers.map((l) => `labels."containerd.io/uncompressed"==${l.digest}`);
  for await (const res of conn.serverStream(ContentService.list, { filters }, ctx)) {
    for (const info of res.info) {
      const uncompressed = info.labels['containerd.io/uncompressed'];
      for (const l of layers) {
        if (l.digest !== uncompressed || l.mediaType !== '') continue;
        l.digest = info.digest;
        l.size = Number(info.size);
        l.mediaType = isCompressed(await head(conn, info.digest, 10, ctx)) ? MediaType.dockerLayerGzip : MediaType.dockerLayer;
      }
    }
  }
  for (const [i, l] of layers.entries()) {
    if (l.mediaType !== '') continue;
    if (isCompressed(await head(conn, l.digest, 10, ctx))) {
      l.mediaType = MediaType.dockerLayerGzip;
      continue;
    }
    if (!compress) {
      l.mediaType = MediaType.dockerLayer;
      continue;
    }
    const hex = l.digest.slice(l.digest.indexOf(':') + 1);
    const hash = createHash('sha256');
    let size = 0;
    const gzipped = Readable.from(readContentStream(conn, l.digest, ctx)).pipe(createGzip());
    await writeBlob(
      conn,
      async () =>
        (async function* () {
          for await (const chunk of gzipped as AsyncIterable<Buffer>) {
            hash.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        })(),
      { ref: `compress-blob-sha256-${hex}`, expected: '', size: 0, labels: { 'containerd.io/uncompressed': l.digest } },
      ctx,
    ).catch((err: unknown) => {
      throw new Error(`failed to resolve layers: ${(err as Error).message}`, { cause: err });
    });
    layers[i] = { mediaType: MediaType.dockerLayerGzip, digest: `sha256:${hash.digest('hex')}`, size };
  }
  return layers;
}

/** The platform of a Docker manifest's config (images.Platforms), in the OCI struct's field order. */
async function configPlatform(conn: Connection, config: Descriptor, ctx: CallContext): Promise<Platform> {
  let c: ImageConfig;
  try {
    c = JSON.parse((await readContent(conn, config.digest, ctx)).toString()) as ImageConfig;
  } catch (err) {
    throw new Error(`unable to resolve platform: ${(err as Error).message}`);
  }
  const p = normalizePlatform({ os: c.os ?? '', architecture: c.architecture ?? '' });
  return { architecture: p.architecture, os: p.os };
}

/** Reads the archive into the store; resolves with the index (given or written for a Docker archive). */
async function importIndex(conn: Connection, source: AsyncIterable<Uint8Array> | Readable, opts: ImportOptions, ctx: CallContext): Promise<Descriptor> {
  let layoutVersion = '';
  let dockerManifests: DockerManifest[] | null = null;
  const symlinks = new Map<string, string>();
  const blobs = new Map<string, Descriptor>();
  const extract = tarStream.extract();
  const input = source instanceof Readable ? source : Readable.from(source);
  input.on('error', (err) => extract.destroy(err));
  input.pipe(extract as unknown as NodeJS.WritableStream);
  try {
    for await (const entry of extract) {
      const hdr = entry.header;
      const it = (entry as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
      const drain = async (onChunk: (c: Buffer) => void = () => {}) => {
        for (;;) {
          const n = await it.next();
          if (n.done) return;
          onChunk(n.value);
        }
      };
      if (hdr.type === 'symlink') symlinks.set(hdr.name, posix.join(posix.dirname(hdr.name), hdr.linkname ?? ''));
      if (hdr.type !== 'file') {
        await drain();
        continue;
      }
      const name = posix.normalize(hdr.name).replace(/\/$/, '').replace(/^\.\//, '');
      if (name === 'oci-layout' || name === 'manifest.json') {
        const chunks: Buffer[] = [];
        let length = 0;
        await drain((c) => {
          if (length < JSON_LIMIT) chunks.push(c);
          length += c.length;
        });
        const data = Buffer.concat(chunks).subarray(0, JSON_LIMIT);
        if (name === 'oci-layout') {
          try {
            const v = field(JSON.parse(data.toString()), 'imageLayoutVersion');
            layoutVersion = typeof v === 'string' ? v : '';
          } catch (err) {
            throw new Error(`untar oci layout ${JSON.stringify(hdr.name)}: ${(err as Error).message}`);
          }
        } else dockerManifests = parseDockerManifests(data, hdr.name);
        continue;
      }
      // onUntarBlob: written as it passes, its digest taken on the way.
      const hash = createHash('sha256');
      const size = hdr.size ?? 0;
      // A tar cut short is not a download to resume: the writer gets the error again if it retries.
      let broken: Error | undefined;
      try {
        await writeBlob(
          conn,
          async (offset) => {
            if (broken) throw broken;
            return (async function* () {
              let skip = offset;
              for (;;) {
                let n: IteratorResult<Buffer>;
                try {
                  n = await it.next();
                } catch (err) {
                  broken = truncated(err);
                  throw broken;
                }
                if (n.done) return;
                hash.update(n.value);
                if (skip >= n.value.length) {
                  skip -= n.value.length;
                  continue;
                }
                yield skip > 0 ? n.value.subarray(skip) : n.value;
                skip = 0;
              }
            })();
          },
          { ref: `tar-${name}`, expected: '', size },
          ctx,
        );
      } catch (err) {
        throw new Error(`failed to ingest ${JSON.stringify(hdr.name)}: ${(err as Error).message}`, { cause: err });
      }
      // What the writer did not take (the store had the blob already) still counts for the digest.
      await drain((c) => hash.update(c));
      blobs.set(name, { mediaType: '', digest: `sha256:${hash.digest('hex')}`, size });
    }
  } catch (err) {
    input.unpipe(extract as unknown as NodeJS.WritableStream);
    input.destroy();
    const message = (err as Error).message;
    if (/^Invalid tar header/.test(message)) throw new Error('archive/tar: invalid tar header', { cause: err });
    if (/^Unexpected end of data/.test(message)) throw new Error('unexpected EOF', { cause: err });
    throw err;
  }

  if (layoutVersion !== '') {
    if (layoutVersion !== '1.0.0') throw new Error(`unsupported OCI version ${layoutVersion}`);
    const idx = blobs.get('index.json');
    if (!idx) throw new Error('missing index.json in OCI layout 1.0.0');
    return { ...idx, mediaType: MediaType.ociIndex };
  }
  const mfsts = dockerManifests as DockerManifest[] | null;
  if (mfsts === null) throw new Error('unrecognized image format');
  for (const [name, target] of symlinks) {
    const desc = blobs.get(target);
    if (!desc) throw new Error(`no target for symlink layer from ${JSON.stringify(name)} to ${JSON.stringify(target)}`);
    blobs.set(name, desc);
  }
  const manifests: Descriptor[] = [];
  for (const mfst of mfsts) {
    const found = blobs.get(mfst.Config);
    if (!found) throw new Error(`image config ${JSON.stringify(mfst.Config)} not found`);
    const config = { ...found, mediaType: MediaType.dockerConfig };
    const layers = await resolveLayers(conn, mfst.Layers ?? [], blobs, opts.compress === true, ctx);
    const manifest = { schemaVersion: 2, mediaType: MediaType.dockerManifest, config: descriptorJSON(config), layers: layers.map(descriptorJSON) };
    const desc = await writeJSON(conn, Buffer.from(goJSON(manifest)), MediaType.dockerManifest, ctx).catch((err: unknown) => {
      throw new Error(`write docker manifest: ${(err as Error).message}`);
    });
    desc.platform = await configPlatform(conn, config, ctx);
    if ((mfst.RepoTags ?? []).length === 0) manifests.push(desc);
    for (const ref of mfst.RepoTags ?? []) {
      let normalized: string;
      try {
        normalized = normalizeDockerReference(ref);
      } catch (err) {
        throw new Error(`normalize image ref ${JSON.stringify(ref)}: ${(err as Error).message}`);
      }
      manifests.push({ ...desc, annotations: { [ANNOTATION_IMAGE_NAME]: normalized, [ANNOTATION_REF_NAME]: ociReferenceName(normalized) } });
    }
  }
  const index = { schemaVersion: 2, manifests: manifests.length > 0 ? manifests.map(descriptorJSON) : null };
  return writeJSON(conn, Buffer.from(goJSON(index)), MediaType.ociIndex, ctx);
}

/**
 * Imports an image archive (a tar stream) into the daemon: blobs into the content store,
 * GC labels on parents, an image record per named manifest (target updated if the name
 * exists). Does not unpack (see unpackImage). Runs under `ctx.lease` or a lease of its own.
 */
export async function importArchive(
  conn: Connection,
  source: AsyncIterable<Uint8Array> | Readable,
  opts: ImportOptions = {},
  ctx: CallContext = {},
): Promise<ImageRecord[]> {
  return withLease(conn, ctx, async (ctx) => {
    const index = await importIndex(conn, source, opts, ctx);
    const images: ImageRecord[] = [];
    if (opts.indexName) images.push({ name: opts.indexName, target: index, labels: {} });
    const host = defaultPlatform();
    const wanted = opts.allPlatforms ? () => true : (opts.platform ?? ((p: Platform) => matchPlatform(host, p)));
    let empty = true;
    // images.WalkNotEmpty with FilterPlatforms and SetChildrenLabels.
    const walk = async (desc: Descriptor): Promise<void> => {
      let children: Descriptor[];
      if (desc.digest === index.digest) {
        const data = await readContent(conn, desc.digest, ctx);
        let idx: { manifests?: Descriptor[] | null };
        try {
          idx = JSON.parse(data.toString()) as typeof idx;
        } catch (err) {
          throw new Error(`invalid index ${desc.digest}: ${(err as Error).message}`);
        }
        children = (idx.manifests ?? []).map(asDescriptor);
        for (const m of children) {
          let name = m.annotations?.[ANNOTATION_IMAGE_NAME] ?? '';
          if (name === '') {
            name = m.annotations?.[ANNOTATION_REF_NAME] ?? '';
            if (name !== '' && opts.refTranslator) name = opts.refTranslator(name);
          }
          if (name !== '') images.push({ name, target: m, labels: {} });
          if (opts.skipDigestRef?.(name)) continue;
          const byDigest = opts.digestRef?.(m.digest) ?? '';
          if (byDigest !== '') images.push({ name: byDigest, target: m, labels: {} });
        }
      } else if (isManifestType(desc.mediaType) || isIndexType(desc.mediaType)) {
        children = childrenOf(desc, await readContent(conn, desc.digest, ctx)).map(asDescriptor);
      } else children = [];
      children = children.filter((c) => c.platform === undefined || wanted({ ...c.platform, os: c.platform.os ?? '' }));
      if (children.length > 0) {
        empty = false;
        await updateContentLabels(conn, desc.digest, childrenLabels(children), ctx);
      }
      for (const c of children) await walk(c);
    };
    await walk(index);
    if (empty) throw new Error('image might be filtered out');
    for (const img of images) {
      const image: Image = { name: img.name, labels: {}, target: apiDescriptor(img.target), createdAt: undefined, updatedAt: undefined };
      try {
        await conn.unary(ImagesService.update, { image, updateMask: ['target'] }, ctx);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await conn.unary(ImagesService.create, { image }, ctx);
      }
    }
    return images;
  });
}
