// client.Export / images/archive.Export: images as an OCI image layout in a tar stream
// (oci-layout, index.json naming each image, every blob under blobs/<alg>/<hex>), with
// Docker's manifest.json beside it (one entry per manifest: config, layers, RepoTags) so
// that `docker load` reads it too. Entries are sorted by name and blobs are streamed out
// of the daemon's content store and checked against their digest on the way.
import { createHash } from 'node:crypto';
import type { Writable } from 'node:stream';
import { ImagesService } from '@containerd-ts/api/services/images';
import { invalidArgument, notFound } from '@containerd-ts/errdefs';
import { familiarizeReference, ociReferenceName } from './archive-reference.js';
import { type ArchiveHeader, TRAILER, encodeHeader, padding } from './archive-tar.js';
import { type CallContext, type Connection, errorOf } from './connection.js';
import { readContent, readContentStream } from './content.js';
import { type Descriptor, type Index, type Manifest, childrenOf, isIndexType, isManifestType, isNonDistributable } from './images.js';
import { type Platform, defaultPlatform, normalizePlatform } from './platforms.js';

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface ExportOptions {
  /** Image names to export (looked up in the image store). */
  images?: string[];
  /** Manifests or indexes to export as they are (their annotations name them, if at all). */
  manifests?: Descriptor[];
  /**
   * Platforms kept from an index, best first (platforms.Ordered); default: this host's
   * (platforms.DefaultStrict). The first one that an index has is named in manifest.json.
   */
  platforms?: Platform[];
  /** Every manifest of an index is exported (their content must be in the store). */
  allPlatforms?: boolean;
  /** No Docker manifest.json for indexes (ctr's --skip-manifest-json). */
  skipDockerManifest?: boolean;
  /** Non-distributable layers (Windows base layers) are left out (--skip-non-distributable). */
  skipNonDistributable?: boolean;
}

interface TarRecord {
  header: ArchiveHeader;
  /** Writes the entry's body; resolves with the bytes written. */
  body?: (write: (chunk: Buffer) => Promise<void>) => Promise<number>;
}

/** digest.Validate for what the exporter names files after. */
function validateDigest(digest: string): [string, string] {
  const m = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(digest);
  if (!m) throw invalidArgument(`invalid checksum digest format`);
  const [, alg, hex] = m as unknown as [string, string, string];
  const lengths: { [alg: string]: number } = { sha256: 64, sha384: 96, sha512: 128 };
  if (lengths[alg] === undefined) throw new Error('unsupported digest algorithm');
  if (hex.length !== lengths[alg] || !/^[a-f0-9]+$/.test(hex)) throw invalidArgument('invalid checksum digest length');
  return [alg, hex];
}

/** platforms.Only without fallbacks: the same normalized OS, architecture and variant. */
const strictMatch = (want: Platform, have: Platform) => {
  const a = normalizePlatform(want);
  const b = normalizePlatform({ ...have, os: have.os ?? '' });
  return a.os === b.os && a.architecture === b.architecture && (a.variant ?? '') === (b.variant ?? '');
};

/** Go's encoding/json of a descriptor, fields in the order of the OCI structs. */
export function descriptorJSON(d: Descriptor): Record<string, unknown> {
  const out: { [k: string]: unknown } = {};
  if (d.mediaType) out.mediaType = d.mediaType;
  out.digest = d.digest;
  out.size = d.size;
  if (d.urls && d.urls.length > 0) out.urls = d.urls;
  if (d.annotations && Object.keys(d.annotations).length > 0) {
    out.annotations = Object.fromEntries(Object.entries(d.annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  if (d.platform) {
    const p: { [k: string]: unknown } = { architecture: d.platform.architecture, os: d.platform.os };
    if (d.platform.osVersion) p['os.version'] = d.platform.osVersion;
    if (d.platform.osFeatures && d.platform.osFeatures.length > 0) p['os.features'] = d.platform.osFeatures;
    if (d.platform.variant) p.variant = d.platform.variant;
    out.platform = p;
  }
  return out;
}

/** Go's json.Marshal escapes <, > and & in strings. */
export const goJSON = (v: unknown) => JSON.stringify(v).replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);

const fileRecord = (name: string, mode: number, data: Buffer): TarRecord => ({
  header: { name, type: 'file', mode, size: data.length },
  body: async (write) => {
    await write(data);
    return data.length;
  },
});

/**
 * Writes the archive of `opts.images` / `opts.manifests` to `out` (not ended). Every
 * image and blob is looked up before the first byte is written; a blob that turns out
 * missing or corrupt while it is copied fails the export with the archive cut short.
 */
export async function exportImages(conn: Connection, out: Writable, opts: ExportOptions, ctx: CallContext = {}): Promise<void> {
  const manifests: Descriptor[] = [...(opts.manifests ?? [])];
  for (const name of opts.images ?? []) {
    const res = await conn.unary(ImagesService.get, { name }, ctx);
    const t = res.image?.target;
    if (!t) throw notFound(`image ${JSON.stringify(name)}`);
    manifests.push({
      mediaType: t.mediaType,
      digest: t.digest,
      size: Number(t.size),
      annotations: { ...(t.annotations ?? {}), [ANNOTATION_IMAGE_NAME]: name, [ANNOTATION_REF_NAME]: ociReferenceName(name) },
    });
  }
  const wanted = opts.platforms && opts.platforms.length > 0 ? opts.platforms : [defaultPlatform()];
  const rank = (p: Platform) => {
    const i = wanted.findIndex((w) => strictMatch(w, p));
    return i < 0 ? wanted.length : i;
  };
  const matches = (p: Platform) => rank(p) < wanted.length;

  const records: TarRecord[] = [
    fileRecord('oci-layout', 0o444, Buffer.from(goJSON({ imageLayoutVersion: '1.0.0' }))),
    fileRecord('index.json', 0o644, Buffer.from(goJSON({ schemaVersion: 2, manifests: manifests.map(descriptorJSON) }))),
  ];
  const algorithms = new Set<string>();
  const blob = (desc: Descriptor): TarRecord | undefined => {
    if (opts.skipNonDistributable && isNonDistributable(desc.mediaType)) return undefined;
    const [alg, hex] = validateDigest(desc.digest);
    return {
      header: { name: `blobs/${alg}/${hex}`, type: 'file', mode: 0o444, size: desc.size },
      body: async (write) => {
        const hash = createHash(alg);
        let n = 0;
        try {
          for await (const chunk of readContentStream(conn, desc.digest, ctx)) {
            hash.update(chunk);
            n += chunk.length;
            if (n > desc.size) break;
            await write(chunk);
          }
        } catch (err) {
          throw new Error(`failed to get reader: ${errorOf(err).message}`, { cause: err });
        }
        const got = `${alg}:${hash.digest('hex')}`;
        if (n === desc.size && got !== desc.digest) throw new Error(`unexpected digest ${got} copied`);
        return n;
      },
    };
  };
  /** images.Walk with ChildrenHandler: the descriptor and all it reaches. */
  const walk = async (desc: Descriptor): Promise<void> => {
    const [alg] = validateDigest(desc.digest);
    const r = blob(desc);
    if (r) records.push(r);
    algorithms.add(alg);
    if (!isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) return;
    for (const child of childrenOf(desc, await readContent(conn, desc.digest, ctx))) await walk(child);
  };

  /** manifest.json entries by manifest digest, in the order they were found. */
  const dockerManifests = new Map<string, { manifest: Descriptor; names: string[] }>();
  const resolvedIndex = new Map<string, string>();
  for (const desc of manifests) {
    if (isManifestType(desc.mediaType)) {
      let entry = dockerManifests.get(desc.digest);
      if (!entry) {
        await walk(desc);
        entry = { manifest: desc, names: [] };
        dockerManifests.set(desc.digest, entry);
      }
      const name = desc.annotations?.[ANNOTATION_IMAGE_NAME] ?? '';
      if (name !== '' && !opts.skipDockerManifest) entry.names.push(name);
    } else if (isIndexType(desc.mediaType)) {
      let d = resolvedIndex.get(desc.digest);
      if (d === undefined) {
        d = '';
        validateDigest(desc.digest);
        const r = blob(desc);
        if (r) records.push(r);
        const index = JSON.parse((await readContent(conn, desc.digest, ctx)).toString()) as Index;
        const kept: Descriptor[] = [];
        for (const m of index.manifests ?? []) {
          if (m.platform === undefined || matches(m.platform)) kept.push(m);
          else if (!opts.allPlatforms) continue;
          await walk(m);
        }
        if (!opts.skipDockerManifest) {
          if (kept.length === 0) throw notFound('no manifest found for platform');
          // Stable: entries without a platform last, then by the order of the wanted platforms.
          const best = [...kept].sort((a, b) => (a.platform === undefined ? (b.platform === undefined ? 0 : 1) : b.platform === undefined ? -1 : rank(a.platform) - rank(b.platform)))[0]!;
          d = best.digest;
          dockerManifests.set(d, { manifest: best, names: [] });
        }
        resolvedIndex.set(desc.digest, d);
      }
      const name = desc.annotations?.[ANNOTATION_IMAGE_NAME] ?? '';
      if (d !== '' && name !== '') dockerManifests.get(d)!.names.push(name);
    } else {
      throw invalidArgument('only manifests may be exported');
    }
  }

  if (dockerManifests.size > 0) {
    const entries = [];
    for (const { manifest, names } of dockerManifests.values()) {
      const m = JSON.parse((await readContent(conn, manifest.digest, ctx)).toString()) as Manifest;
      let configAlg: string;
      let configHex: string;
      try {
        [configAlg, configHex] = validateDigest(m.config?.digest ?? '');
      } catch (err) {
        throw new Error(`unable to create manifests file: invalid manifest ${JSON.stringify(manifest.digest)}: ${(err as Error).message}`);
      }
      entries.push({
        Config: `blobs/${configAlg}/${configHex}`,
        RepoTags: names.length > 0 ? names.map((n) => familiarizeReference(n)) : null,
        Layers: (m.layers ?? []).length > 0 ? m.layers.map((l) => `blobs/${l.digest.replace(':', '/')}`) : null,
      });
    }
    records.push(fileRecord('manifest.json', 0o644, Buffer.from(goJSON(entries))));
  }
  if (algorithms.size > 0) {
    records.push({ header: { name: 'blobs/', type: 'directory', mode: 0o755, size: 0 } });
    for (const alg of algorithms) records.push({ header: { name: `blobs/${alg}/`, type: 'directory', mode: 0o755, size: 0 } });
  }

  const write = (chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => {
      if (out.write(chunk)) resolve();
      else {
        const onDrain = () => {
          out.off('error', onError);
          resolve();
        };
        const onError = (err: Error) => {
          out.off('drain', onDrain);
          reject(err);
        };
        out.once('drain', onDrain);
        out.once('error', onError);
      }
    });
  const sorted = records.sort((a, b) => (a.header.name < b.header.name ? -1 : a.header.name > b.header.name ? 1 : 0));
  let last = '';
  for (const r of sorted) {
    if (r.header.name === last) continue;
    last = r.header.name;
    await write(encodeHeader(r.header));
    if (r.body) {
      const n = await r.body(write);
      if (n !== r.header.size) throw new Error(`unexpected copy size for ${r.header.name}`);
      await write(padding(n));
    }
  }
  await write(TRAILER);
}
