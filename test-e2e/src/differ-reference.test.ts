// The walking differ (packages/differ-walking) against Debian's containerd 1.6, started by
// the harness: the same image imported and mounted by `ctr` must give the same tree as the
// differ's apply, and `ctr snapshots diff` the same tar as its compare.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { MediaType } from '@containerd-ts/archive';
import {
  buildLayer,
  gzipLayer,
  type LayerEntry,
  sha256,
  snapshotTree,
  type TreeEntry,
  zstdLayer,
} from '@containerd-ts/archive/testing';
import type { ContentStore, Descriptor } from '@containerd-ts/content';
import contentPlugin from '@containerd-ts/content-local';
import { MEDIA_TYPE_LAYER } from '@containerd-ts/diff';
import metadataPlugin from '@containerd-ts/metadata-level';
import type { RequestContext } from '@containerd-ts/namespaces';
import { type Logger, PluginRegistry } from '@containerd-ts/plugin';
import nativePlugin from '@containerd-ts/snapshotter-native';
import type { Mount } from '@containerd-ts/snapshots';
import { MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import walkingPlugin, { type WalkingDiffer } from '@containerd-ts/differ-walking';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Reference, startReference } from './harness.js';

const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };
const ctx: RequestContext = { namespace: 'default' };
const NS = 'difftest';

let base: string;
let reference: Reference;
let refDir: string;
let sock: string;
let registry: PluginRegistry;
let differ: WalkingDiffer;
let store: ContentStore;

function ctr(snapshotter: string, ...args: string[]): string {
  // Some ctr commands read only the global --snapshotter (or its environment variable).
  return execFileSync('ctr', ['-a', sock, '-n', NS, ...args], {
    encoding: 'latin1',
    maxBuffer: 256 << 20,
    env: { ...process.env, CONTAINERD_SNAPSHOTTER: snapshotter },
  });
}

beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'differ-ref-'));
  reference = await startReference();
  refDir = reference.dir;
  sock = reference.socket;
  registry = new PluginRegistry({
    definitions: [contentPlugin, nativePlugin, metadataPlugin, walkingPlugin],
    daemon: { root: join(base, 'ours'), state: join(base, 'ours-state'), address: '/x', ttrpcAddress: '/x.ttrpc', version: 't', revision: 't' },
    log,
  });
  await registry.initAll();
  differ = registry.get('io.containerd.differ.v1') as WalkingDiffer;
  store = registry.get('io.containerd.metadata.v1').contentStore();
}, 60_000);

afterAll(async () => {
  await registry?.close();
  await reference?.stop();
  // Never remove a tree something is still mounted in.
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m.startsWith(base))
    .sort((a, b) => b.length - a.length);
  for (const m of mounted) umount2(m, MNT_DETACH);
  rmSync(base, { recursive: true, force: true });
}, 60_000);

const random = (n: number, seed: number) => {
  const out = Buffer.allocUnsafe(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};
const capSetuid = Buffer.from('0100000280000000000000000000000000000000', 'hex');

/** The layers of the test image (a few hundred files rather than 3,000, to stay quick). */
function baseLayer(): LayerEntry[] {
  const entries: LayerEntry[] = [
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/sh', data: '#!/bin/true\n', mode: 0o755 },
    { name: 'bin/ping', data: 'ping', mode: 0o755, xattrs: { 'security.capability': capSetuid } },
    { name: 'etc/', mode: 0o755 },
    { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
    { name: 'etc/os-release', data: 'ID=test\n' },
    { name: 'usr/', mode: 0o755 },
    { name: 'usr/share/', mode: 0o755 },
    { name: 'var/', mode: 0o755 },
    { name: 'var/lib/', mode: 0o755, mtime: 1_600_000_000n * 1_000_000_000n + 123_456_789n },
    { name: 'var/lib/doomed', data: 'deleted by the top layer' },
    { name: 'var/lib/doomed-dir/', mode: 0o755 },
    { name: 'var/lib/doomed-dir/f', data: 'f' },
    { name: 'var/lib/replaced/', mode: 0o700 },
    { name: 'var/lib/replaced/old', data: 'old content of a replaced directory' },
    { name: 'var/lib/opaque/', mode: 0o755 },
    { name: 'var/lib/opaque/hidden', data: 'hidden by an opaque marker' },
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    { name: 'usr/lib/', mode: 0o755 },
    { name: 'usr/lib/libc.so', data: 'libc' },
    { name: 'opt/', mode: 0o755 },
    { name: 'opt/compressible.txt', data: 'all work and no play '.repeat(100_000) },
    { name: 'opt/incompressible.bin', data: random(2 << 20, 11) },
  ];
  for (let d = 0; d < 10; d++) {
    entries.push({ name: `usr/share/pkg${d}/`, mode: 0o755 });
    for (let f = 0; f < 30; f++) {
      entries.push({ name: `usr/share/pkg${d}/f${f}`, data: random(((d * 30 + f) * 7919) % 9000, d * 100 + f), mode: f % 3 === 0 ? 0o755 : 0o644 });
    }
  }
  return entries;
}

function topLayer(): LayerEntry[] {
  return [
    { name: 'bin/', mode: 0o755 },
    { name: 'bin/su', data: 'setuid', mode: 0o4755 },
    { name: 'bin/sh-hard', type: 'link', linkname: 'bin/su', mode: 0o4755 },
    { name: 'bin/rel', type: 'symlink', linkname: '../etc/passwd' },
    { name: 'bin/abs', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'dev/', mode: 0o755 },
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'home/', mode: 0o755 },
    { name: 'home/user/', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'home/user/file', data: 'owned', uid: 1000, gid: 1000 },
    { name: 'home/user/tagged', data: 'x', xattrs: { 'user.origin': 'reference test' } },
    { name: 'run/', mode: 0o755 },
    { name: 'run/fifo', type: 'fifo', mode: 0o620 },
    { name: 'tmp/', mode: 0o1777 },
    { name: 'var/', mode: 0o755 },
    { name: 'var/lib/', mode: 0o755, mtime: 1_650_000_000n * 1_000_000_000n + 5n },
    { name: 'var/lib/.wh.doomed' },
    { name: 'var/lib/.wh.doomed-dir' },
    { name: 'var/lib/.wh.replaced' },
    { name: 'var/lib/replaced', data: 'a file now' },
    { name: 'var/lib/opaque/', mode: 0o755 },
    { name: 'var/lib/opaque/.wh..wh..opq' },
    { name: 'var/lib/opaque/visible', data: 'new' },
    { name: 'var/lib/hard-a', data: 'two names' },
    { name: 'var/lib/hard-b', type: 'link', linkname: 'var/lib/hard-a' },
    // Through the lower layer's `lib -> usr/lib` symlink: containerd resolves it only in
    // the directory being written (so overlay and native differ here, in both daemons).
    { name: 'lib/libextra.so', data: 'extra' },
    { name: 'opt/', mode: 0o755 },
    { name: 'opt/capped', data: 'cap', mode: 0o750, xattrs: { 'security.capability': capSetuid } },
    { name: `opt/${'long-directory-name-'.repeat(6)}/`, mode: 0o755 },
    { name: `opt/${'long-directory-name-'.repeat(6)}/with-a-long-file-name`, data: 'prefix and name' },
    { name: `opt/${'x'.repeat(170)}`, data: 'a name only PAX can hold' },
    { name: 'opt/naïve-ünïcode', data: 'utf-8 name' },
    { name: 'opt/big-id', data: 'id beyond octal', uid: 3_000_000, gid: 3_000_001 },
    // A parent the layer does not list: created with the lower's attributes.
    { name: 'usr/share/pkg3/added', data: 'implicit parent' },
  ];
}

/** Builds an OCI image archive of the layers, as `ctr images import` reads it. */
function ociArchive(layers: Array<{ tar: Buffer; blob: Buffer; mediaType: string }>): Buffer {
  const blobs = new Map<string, Buffer>();
  const add = (data: Buffer) => {
    const digest = sha256(data);
    blobs.set(digest.slice(7), data);
    return { digest, size: data.length };
  };
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.tar)) },
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...add(config) },
      layers: layers.map((l) => ({ mediaType: l.mediaType, ...add(l.blob) })),
    }),
  );
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        ...add(manifest),
        annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        platform: { architecture: 'amd64', os: 'linux' },
      },
    ],
  };
  return buildLayer([
    { name: 'oci-layout', data: JSON.stringify({ imageLayoutVersion: '1.0.0' }) },
    { name: 'index.json', data: JSON.stringify(index) },
    { name: 'blobs/', mode: 0o755 },
    { name: 'blobs/sha256/', mode: 0o755 },
    ...[...blobs].map(([hex, data]) => ({ name: `blobs/sha256/${hex}`, data })),
  ]);
}

async function ingest(blob: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(blob);
  const exists = await store.info(ctx, digest).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const w = await store.writer(ctx, { ref: `ref-${digest}`, total: blob.length, expected: digest });
    await w.write(blob);
    await w.commit(blob.length, digest);
  }
  return { mediaType, digest, size: blob.length };
}

/** Directories no layer lists get the time of the unpack: leave their mtimes out. */
function comparable(tree: TreeEntry[], listed: Set<string>): TreeEntry[] {
  return tree.map((e) => (e.type === 'dir' && !listed.has(e.path) ? { ...e, mtimeNs: '-' } : e));
}

/**
 * Directories whose mtime both daemons set from the layers: listed by the top layer, or
 * listed by the base and left alone by the top (`usr/lib` is written through the `lib`
 * symlink in native mode).
 */
function listedDirs(baseEntries: LayerEntry[], topEntries: LayerEntry[]): Set<string> {
  const dirs = new Set<string>();
  const touched = new Set<string>(['/usr/lib']);
  for (const e of topEntries) {
    // Names as the differ resolves them: `..` stops at the root, `/` is the root.
    const parts = posix.normalize(`/${e.name}`).replace(/^\/+|\/$/g, '').split('/');
    for (let i = 1; i < parts.length; i++) touched.add(`/${parts.slice(0, i).join('/')}`);
  }
  for (const e of baseEntries) {
    const p = `/${e.name.slice(0, -1)}`;
    if (e.name.endsWith('/') && !touched.has(p)) dirs.add(p);
  }
  for (const e of topEntries) if (e.name.endsWith('/')) dirs.add(`/${e.name.slice(0, -1)}`);
  return dirs;
}

/** The `fs` directory of the reference's snapshot of `snapshotter` that contains `probe`. */
function snapshotDir(snapshotter: string, probe: string): string {
  const dir = join(refDir, 'root', `io.containerd.snapshotter.v1.${snapshotter}`, 'snapshots');
  const found = readdirSync(dir)
    .map((id) => (snapshotter === 'overlayfs' ? join(dir, id, 'fs') : join(dir, id)))
    .filter((d) => existsSync(join(d, probe)));
  if (found.length !== 1) throw new Error(`expected one ${snapshotter} snapshot holding ${probe}, found ${found.length}`);
  return found[0]!;
}

const chainId = (diffIds: string[]) =>
  diffIds.reduce((chain, id) => (chain === '' ? id : sha256(Buffer.from(`${chain} ${id}`))), '');

describe('the walking differ against Debian containerd 1.6', () => {
  for (const [snapshotter, compression] of [
    ['overlayfs', 'gzip'],
    ['native', 'zstd'],
  ] as const) {
    it(`unpacks the same tree as ctr images import + mount (${snapshotter}, ${compression})`, async () => {
      const layers = [baseLayer(), topLayer()].map((entries) => {
        const tar = buildLayer(entries);
        return compression === 'gzip'
          ? { tar, blob: gzipLayer(tar), mediaType: MediaType.ociLayerGzip }
          : { tar, blob: zstdLayer(tar), mediaType: MediaType.ociLayerZstd };
      });
      const archive = join(base, `image-${snapshotter}.tar`);
      writeFileSync(archive, ociArchive(layers));
      const name = `docker.io/library/difftest-${snapshotter}`;
      ctr(snapshotter, 'images', 'import', '--base-name', name, archive);
      let reference: TreeEntry[];
      if (snapshotter === 'overlayfs') {
        const refMount = join(base, 'ref-mount');
        mkdirSync(refMount);
        // ctr 1.6's `images mount` always uses the default snapshotter (overlayfs).
        ctr(snapshotter, 'images', 'mount', `${name}:latest`, refMount);
        try {
          reference = snapshotTree(refMount);
        } finally {
          ctr(snapshotter, 'images', 'unmount', '--rm', refMount);
        }
      } else {
        // A committed native snapshot is a plain directory: the top one holds bin/su.
        reference = snapshotTree(snapshotDir('native', 'bin/su'));
      }

      // The same layers through this differ, as the matching snapshotter lays them out.
      const work = join(base, `ours-${snapshotter}`);
      const l1 = join(work, 'l1');
      const l2 = join(work, 'l2');
      const wd = join(work, 'work');
      const merged = join(work, 'merged');
      for (const d of [l1, l2, wd, merged]) mkdirSync(d, { recursive: true });
      const bind = (dir: string): Mount[] => [{ type: 'bind', source: dir, options: ['rbind', 'rw'] }];
      const descs = [];
      for (const l of layers) descs.push(await ingest(l.blob, l.mediaType));
      const applied = [await differ.apply(ctx, descs[0]!, bind(l1))];
      let ours: TreeEntry[];
      if (snapshotter === 'overlayfs') {
        const overlay: Mount[] = [
          { type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${wd}`, `upperdir=${l2}`, `lowerdir=${l1}`] },
        ];
        applied.push(await differ.apply(ctx, descs[1]!, overlay));
        mount('overlay', merged, 'overlay', 0, `lowerdir=${l2}:${l1}`);
        try {
          ours = snapshotTree(merged);
        } finally {
          umount2(merged, MNT_DETACH);
        }
      } else {
        applied.push(await differ.apply(ctx, descs[1]!, bind(l1)));
        ours = snapshotTree(l1);
      }
      expect(applied.map((d) => d.digest)).toEqual(layers.map((l) => sha256(l.tar)));
      expect(applied.every((d) => d.mediaType === MEDIA_TYPE_LAYER)).toBe(true);

      // A native snapshot starts as a copy of its parent, whose directory times the copy
      // sets; only those the top layer lists are the differ's doing.
      const listed = snapshotter === 'native' ? listedDirs([], topLayer()) : listedDirs(baseLayer(), topLayer());
      const a = comparable(ours, listed);
      const b = comparable(reference, listed);
      expect(a.map((e) => e.path)).toEqual(b.map((e) => e.path));
      for (let i = 0; i < a.length; i++) expect(a[i], a[i]!.path).toEqual(b[i]);
      // The cases of the issue are really in there.
      const byPath = new Map(a.map((e) => [e.path, e]));
      expect(byPath.get('/bin/su')?.mode).toBe(0o4755);
      expect(byPath.get('/tmp')?.mode).toBe(0o1777);
      expect(byPath.get('/run/fifo')?.type).toBe('fifo');
      expect(byPath.get('/home/user/file')).toMatchObject({ uid: 1000, gid: 1000 });
      expect(byPath.get('/var/lib/replaced')?.type).toBe('file');
      expect(byPath.has('/var/lib/doomed')).toBe(false);
      expect(byPath.get('/var/lib/hard-b')?.hardlinks).toEqual(['/var/lib/hard-a']);
    }, 120_000);
  }

  it('confines an escaping layer exactly as containerd does', async () => {
    const sentinel = join(base, 'outside');
    mkdirSync(sentinel, { recursive: true });
    writeFileSync(join(sentinel, 'keep'), 'outside');
    const escaping: LayerEntry[] = [
      { name: '../../etc/x', data: 'dotdot' },
      { name: '/abs/path', data: 'absolute' },
      { name: 'rootlink', type: 'symlink', linkname: '/' },
      { name: 'rootlink/through-root', data: 'via a link to /' },
      { name: 'up', type: 'symlink', linkname: '../../../../../..' },
      { name: 'up/tmp/through-up', data: 'via a link going up' },
      { name: 'out', type: 'symlink', linkname: sentinel },
      { name: 'out/keep', data: 'overwrite attempt' },
      { name: 'target', data: 'link target' },
      { name: 'hard', type: 'link', linkname: '../../../target' },
      { name: 'hard2', type: 'link', linkname: 'rootlink/through-root' },
    ];
    const layers = [baseLayer(), escaping].map((entries) => {
      const tar = buildLayer(entries);
      return { tar, blob: gzipLayer(tar), mediaType: MediaType.ociLayerGzip };
    });
    const archive = join(base, 'image-escape.tar');
    writeFileSync(archive, ociArchive(layers));
    const name = 'docker.io/library/difftest-escape';
    ctr('overlayfs', 'images', 'import', '--base-name', name, archive);
    const refMount = join(base, 'ref-mount-escape');
    mkdirSync(refMount);
    ctr('overlayfs', 'images', 'mount', `${name}:latest`, refMount);
    let reference: TreeEntry[];
    try {
      reference = snapshotTree(refMount);
    } finally {
      ctr('overlayfs', 'images', 'unmount', '--rm', refMount);
    }

    const work = join(base, 'ours-escape');
    const [l1, l2, wd, merged] = ['l1', 'l2', 'work', 'merged'].map((d) => join(work, d)) as [string, string, string, string];
    for (const d of [l1, l2, wd, merged]) mkdirSync(d, { recursive: true });
    await differ.apply(ctx, await ingest(layers[0]!.blob, layers[0]!.mediaType), [{ type: 'bind', source: l1, options: ['rbind', 'rw'] }]);
    await differ.apply(ctx, await ingest(layers[1]!.blob, layers[1]!.mediaType), [
      { type: 'overlay', source: 'overlay', options: [`workdir=${wd}`, `upperdir=${l2}`, `lowerdir=${l1}`] },
    ]);
    mount('overlay', merged, 'overlay', 0, `lowerdir=${l2}:${l1}`);
    let ours: TreeEntry[];
    try {
      ours = snapshotTree(merged);
    } finally {
      umount2(merged, MNT_DETACH);
    }
    const listed = listedDirs(baseLayer(), escaping);
    expect(comparable(ours, listed)).toEqual(comparable(reference, listed));
    expect(readFileSync(join(sentinel, 'keep'), 'utf8')).toBe('outside');
    for (const p of ['/etc/x', '/abs', '/through-root', '/tmp/through-up']) expect(existsSync(p)).toBe(false);
    expect(ours.find((e) => e.path === '/etc/x')?.content).toBe(createHash('sha256').update('dotdot').digest('hex'));
  }, 120_000);

  it('writes the same diff tar as ctr snapshots diff (whiteout times aside)', async () => {
    // Snapshots of the overlayfs import above: compare the top one with its parent.
    const tars = [baseLayer(), topLayer()].map((e) => buildLayer(e));
    const chain = chainId(tars.map((t) => sha256(t)));
    const reference = Buffer.from(ctr('overlayfs', 'snapshots', 'diff', '--media-type', MEDIA_TYPE_LAYER, chain), 'latin1');

    // The overlayfs snapshots of the import above: only the base holds usr/share/pkg0 (the
    // top holds whiteouts of base files, so those would not tell them apart).
    const lowerDir = snapshotDir('overlayfs', 'usr/share/pkg0');
    const upperDir = snapshotDir('overlayfs', 'bin/su');
    const lower: Mount = { type: 'bind', source: lowerDir, options: ['ro', 'rbind'] };
    const upper: Mount = { type: 'overlay', source: 'overlay', options: ['index=off', `lowerdir=${upperDir}:${lowerDir}`] };
    const desc = await differ.compare(ctx, [lower], [upper], { mediaType: MEDIA_TYPE_LAYER });
    const ra = await store.readerAt(ctx, desc);
    const ours = await ra.readAt(0, ra.size);
    await ra.close();
    expect(ours.length).toBe(reference.length);
    expect(maskWhiteoutTimes(ours).equals(maskWhiteoutTimes(reference))).toBe(true);
    // Not trivially equal: the diff holds the top layer's changes.
    expect(ours.indexOf('var/lib/.wh.doomed')).toBeGreaterThan(0);
  }, 60_000);
});

/** A copy of a tar with the mtime and checksum of whiteout headers zeroed. */
function maskWhiteoutTimes(tar: Buffer): Buffer {
  const out = Buffer.from(tar);
  let off = 0;
  while (off + 512 <= out.length) {
    const block = out.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    const name = block.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = Number.parseInt(block.subarray(124, 136).toString('latin1').replace(/\0.*$/s, '') || '0', 8);
    const type = String.fromCharCode(block[156]!);
    if (name.split('/').pop()?.startsWith('.wh.')) {
      block.fill(0, 136, 156);
    }
    off += 512 + (type === '1' || type === '2' || type === '5' ? 0 : Math.ceil(size / 512) * 512);
  }
  return out;
}
