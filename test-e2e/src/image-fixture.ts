// The fixture image of issue 4, built here byte for byte the same on every run: a base
// layer of many small files, a layer of large compressible and incompressible files, and
// a top layer that deletes and replaces things and adds every special kind of entry
// (hard links, relative and absolute symlinks, setuid, sticky, fifo, 1000:1000, user.*
// xattr). Layers are gzip (Docker schema 2 media types) or zstd (OCI media types).
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { type LayerEntry, type TreeEntry, buildLayer } from '@containerd-ts/archive/testing';
import { compress as zstdCompress } from 'zstd-napi';

export type Compression = 'gzip' | 'zstd';

export interface Blob {
  mediaType: string;
  digest: string;
  size: number;
  data: Buffer;
}

export interface FixtureImage {
  /** The manifest (the blob a tag points at). */
  manifest: Blob;
  config: Blob;
  layers: Blob[];
  /** Bytes of all layers uncompressed. */
  unpackedSize: number;
  /** Entries in all layers. */
  entryCount: number;
}

export interface FixtureOptions {
  compression: Compression;
  /**
   * `full` is the image the issue's benchmark names (~62 MB compressed, ~117 MB unpacked,
   * ~3,000 files); `small` has the same shape with fewer and smaller files, for tests.
   */
  scale?: 'full' | 'small';
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Deterministic pseudo-random numbers (xorshift32). */
function prng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Incompressible bytes, the same for the same seed (AES-CTR keystream). */
function randomBytes(size: number, seed: string): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

const WORDS = 'the quick brown fox jumps over lazy dog container layer snapshot overlay differ content lease image manifest digest'.split(' ');

/** Text-like, compressible bytes. */
function textBytes(size: number, seed: number): Buffer {
  const next = prng(seed);
  const parts: string[] = [];
  let length = 0;
  while (length < size) {
    const word = WORDS[next() % WORDS.length]!;
    const sep = next() % 12 === 0 ? '\n' : ' ';
    parts.push(word, sep);
    length += word.length + 1;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

const T0 = 1_700_000_000;

function baseLayer(scale: 'full' | 'small'): LayerEntry[] {
  const dirs = scale === 'full' ? 56 : 8;
  const perDir = scale === 'full' ? 52 : 12;
  const next = prng(7);
  const entries: LayerEntry[] = [
    { name: 'bin/', mtime: T0 },
    { name: 'etc/', mtime: T0 },
    { name: 'etc/hostname', data: 'fixture\n', mtime: T0 },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n', mtime: T0 },
    { name: 'usr/', mtime: T0 },
    { name: 'usr/share/', mtime: T0 },
    { name: 'var/', mtime: T0 },
    { name: 'var/lib/', mtime: T0 },
    { name: 'var/lib/old/', mtime: T0 },
    { name: 'var/lib/old/state', data: 'old state\n', mtime: T0 },
    { name: 'var/lib/old/more/', mtime: T0 },
    { name: 'var/lib/old/more/deep', data: 'deep\n', mtime: T0 },
    { name: 'opt/', mtime: T0 },
    { name: 'opt/replaced/', mode: 0o750, mtime: T0 },
    { name: 'opt/replaced/a', data: 'a from base\n', mtime: T0 },
    { name: 'opt/replaced/b', data: 'b from base\n', mtime: T0 },
    { name: 'opt/doomed', data: 'this file is deleted by the top layer\n', mtime: T0 },
    { name: 'opt/kept', data: 'kept\n', mtime: T0 },
  ];
  for (let d = 0; d < dirs; d++) {
    const dir = `usr/share/pkg${String(d).padStart(3, '0')}`;
    entries.push({ name: `${dir}/`, mtime: T0 + d });
    for (let f = 0; f < perDir; f++) {
      const size = 100 + (next() % (scale === 'full' ? 12_000 : 3_000));
      const data = f % 5 === 4 ? randomBytes(size, `${dir}/${f}`) : textBytes(size, d * 1000 + f + 1);
      entries.push({ name: `${dir}/file${f}.txt`, data, mode: f % 7 === 0 ? 0o755 : 0o644, mtime: T0 + f });
    }
  }
  return entries;
}

function largeLayer(scale: 'full' | 'small'): LayerEntry[] {
  const mib = 1024 * 1024;
  const compressible = scale === 'full' ? 48 * mib : 3 * mib;
  const incompressible = scale === 'full' ? 46 * mib : 2 * mib;
  return [
    { name: 'data/', mtime: T0 },
    { name: 'data/text.log', data: textBytes(compressible, 99), mtime: T0 + 1 },
    { name: 'data/random.bin', data: randomBytes(incompressible, 'large'), mtime: T0 + 2 },
    { name: 'data/empty', data: '', mtime: T0 + 3 },
  ];
}

function topLayer(): LayerEntry[] {
  const t = T0 + 86_400;
  return [
    // Deletes a file and a directory (whiteouts).
    { name: 'opt/.wh.doomed', mtime: t },
    { name: 'var/lib/.wh.old', mtime: t },
    // Replaces a directory: opaque, then new content.
    { name: 'opt/replaced/', mode: 0o700, uid: 1000, gid: 1000, mtime: t },
    { name: 'opt/replaced/.wh..wh..opq', mtime: t },
    { name: 'opt/replaced/c', data: 'c from top\n', mtime: t },
    // Replaces a file of the base with a new version.
    { name: 'etc/hostname', data: 'fixture-top\n', mtime: t },
    // Hard links (two names for one new file, and a link to a file of the same layer in another dir).
    { name: 'bin/tool', data: '#!/bin/sh\necho tool\n', mode: 0o755, mtime: t },
    { name: 'bin/tool-link', type: 'link', linkname: 'bin/tool', mtime: t },
    { name: 'etc/tool-link2', type: 'link', linkname: 'bin/tool', mtime: t },
    // Relative and absolute symlinks (one dangling).
    { name: 'bin/rel', type: 'symlink', linkname: '../etc/hostname', mtime: t },
    { name: 'bin/abs', type: 'symlink', linkname: '/etc/passwd', mtime: t },
    { name: 'bin/dangling', type: 'symlink', linkname: '/nowhere/at/all', mtime: t },
    // setuid/setgid file and a sticky directory.
    { name: 'bin/suid', data: 'setuid\n', mode: 0o4755, mtime: t },
    { name: 'bin/sgid', data: 'setgid\n', mode: 0o2755, mtime: t },
    { name: 'tmp/', mode: 0o1777, mtime: t },
    // A fifo.
    { name: 'run/', mtime: t },
    { name: 'run/fifo', type: 'fifo', mode: 0o600, mtime: t },
    // Owned by 1000:1000.
    { name: 'home/', mtime: t },
    { name: 'home/user/', mode: 0o700, uid: 1000, gid: 1000, mtime: t },
    { name: 'home/user/notes', data: 'mine\n', mode: 0o600, uid: 1000, gid: 1000, mtime: t },
    // A user.* xattr (and a sub-second mtime).
    { name: 'etc/tagged', data: 'tagged\n', xattrs: { 'user.fixture': 'yes', 'user.binary': Buffer.from([0, 1, 2, 255]) }, mtime: BigInt(t) * 1_000_000_000n + 123_456_789n },
  ];
}

const MEDIA = {
  gzip: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
  zstd: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+zstd',
  },
} as const;

const blob = (mediaType: string, data: Buffer): Blob => ({ mediaType, digest: sha256(data), size: data.length, data });

const cache = new Map<string, FixtureImage>();

/** Builds (once per process and options) the fixture image. */
export function fixtureImage(options: FixtureOptions): FixtureImage {
  const scale = options.scale ?? 'small';
  const key = `${options.compression}/${scale}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const media = MEDIA[options.compression];
  const layerEntries = [baseLayer(scale), largeLayer(scale), topLayer()];
  const tars = layerEntries.map((entries) => buildLayer(entries));
  const compress = (tar: Buffer) => (options.compression === 'gzip' ? gzipSync(tar) : zstdCompress(tar));
  const layers = tars.map((tar) => blob(media.layer, compress(tar)));
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  const config = blob(
    media.config,
    Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        created: '2023-11-14T22:13:20Z',
        config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/tool'] },
        rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
        history: layerEntries.map((_, i) => ({ created: '2023-11-14T22:13:20Z', created_by: `fixture layer ${i}` })),
      }),
    ),
  );
  const manifest = blob(
    media.manifest,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: media.manifest,
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      }),
    ),
  );
  const image: FixtureImage = {
    manifest,
    config,
    layers,
    unpackedSize: tars.reduce((n, t) => n + t.length, 0),
    entryCount: layerEntries.reduce((n, e) => n + e.length, 0),
  };
  cache.set(key, image);
  return image;
}

/** The image's layer digests uncompressed (its config's rootfs.diff_ids). */
export const diffIdsOf = (image: FixtureImage): string[] =>
  (JSON.parse(image.config.data.toString()) as { rootfs: { diff_ids: string[] } }).rootfs.diff_ids;

/** containerd's identity.ChainID of a layer stack: the name of the top unpacked snapshot. */
export function chainId(diffIds: readonly string[]): string {
  let chain = '';
  for (const diffId of diffIds) {
    chain = chain === '' ? diffId : `sha256:${createHash('sha256').update(`${chain} ${diffId}`).digest('hex')}`;
  }
  return chain;
}

/** Directory mtimes later than this were set by the unpack itself (the fixture's are 2023). */
const UNPACK_TIME_AFTER = BigInt(Date.UTC(2025, 0, 1)) * 1_000_000n;

/**
 * An unpacked tree made comparable between two unpacks: directories a layer changed without
 * listing them carry the time of the unpack, shown as `<unpack time>`.
 */
export function comparableTree(tree: readonly TreeEntry[]): TreeEntry[] {
  return tree.map((e) => (e.type === 'dir' && BigInt(e.mtimeNs) > UNPACK_TIME_AFTER ? { ...e, mtimeNs: '<unpack time>' } : e));
}
