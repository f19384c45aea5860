import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { activeApplyWorkers, MediaType } from '@containerd-ts/archive';
import { buildLayer, gzipLayer, type LayerEntry, sha256, snapshotTree, zstdLayer } from '@containerd-ts/archive/testing';
import type { ContentStore, Descriptor } from '@containerd-ts/content';
import contentPlugin from '@containerd-ts/content-local';
import { MEDIA_TYPE_LAYER, MEDIA_TYPE_LAYER_GZIP, UNCOMPRESSED_LABEL } from '@containerd-ts/diff';
import { GrpcCode, isNotFound, isNotImplemented, toGrpcStatus } from '@containerd-ts/errdefs';
import metadataPlugin from '@containerd-ts/metadata-level';
import nativePlugin from '@containerd-ts/snapshotter-native';
import type { RequestContext } from '@containerd-ts/namespaces';
import { type Logger, PluginRegistry } from '@containerd-ts/plugin';
import type { Mount } from '@containerd-ts/snapshots';
import { lgetxattr, MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import walkingPlugin, { WalkingDiffer } from './index.js';

const log: Logger = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, child: () => log };
const ctx: RequestContext = { namespace: 'default' };

let root: string;
let registry: PluginRegistry;
let differ: WalkingDiffer;
let store: ContentStore;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'differ-walking-'));
  registry = new PluginRegistry({
    definitions: [contentPlugin, nativePlugin, metadataPlugin, walkingPlugin],
    daemon: { root, state: join(root, 'state'), address: '/x.sock', ttrpcAddress: '/x.sock.ttrpc', version: 't', revision: 't' },
    log,
  });
  await registry.initAll();
  differ = registry.get('io.containerd.differ.v1') as WalkingDiffer;
  store = registry.get('io.containerd.metadata.v1').contentStore();
});
afterAll(async () => {
  await registry.close();
  rmSync(root, { recursive: true, force: true });
});

let counter = 0;
function freshDir(name: string): string {
  const dir = join(root, 'work', `${name}-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function ingest(blob: Buffer, mediaType: string): Promise<Descriptor> {
  const digest = sha256(blob);
  const exists = await store.info(ctx, digest).then(
    () => true,
    () => false,
  );
  if (!exists) {
    const w = await store.writer(ctx, { ref: `test-${digest}`, total: blob.length, expected: digest });
    await w.write(blob);
    await w.commit(blob.length, digest);
  }
  return { mediaType, digest, size: blob.length };
}

const bind = (dir: string): Mount[] => [{ type: 'bind', source: dir, options: ['rbind', 'rw'] }];

const lowerLayer: LayerEntry[] = [
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
  { name: 'etc/gone', data: 'to be deleted' },
  { name: 'srv/', mode: 0o750, uid: 33, gid: 33 },
  { name: 'srv/www/', mode: 0o755 },
  { name: 'srv/www/index.html', data: '<html>' },
  { name: 'opq/', mode: 0o755 },
  { name: 'opq/old', data: 'old' },
];
const upperLayer: LayerEntry[] = [
  { name: 'etc/', mode: 0o755 },
  { name: 'etc/.wh.gone' },
  { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/bash\n' },
  { name: 'srv/www/new.html', data: 'implicit parents' },
  { name: 'opq/', mode: 0o755 },
  { name: 'opq/.wh..wh..opq' },
  { name: 'opq/new', data: 'new' },
  { name: 'usr/bin/tool', data: 'tool', mode: 0o4755 },
];

describe('walking differ plugin', () => {
  it('registers io.containerd.differ.v1 walking on the metadata plugin', () => {
    const record = registry.list().find((r) => r.type === 'io.containerd.differ.v1');
    expect(record).toMatchObject({ id: 'walking', status: 'ok', requires: ['io.containerd.metadata.v1'] });
    expect(record?.meta.platforms.length).toBe(1);
    expect(differ).toBeInstanceOf(WalkingDiffer);
  });
});

describe('apply', () => {
  it('applies gzip, zstd and plain layers to a bind mount and returns the uncompressed descriptor', async () => {
    const tar = buildLayer(lowerLayer);
    for (const [blob, mediaType] of [
      [gzipLayer(tar), MediaType.ociLayerGzip],
      [zstdLayer(tar), MediaType.ociLayerZstd],
      [tar, MediaType.ociLayer],
      [gzipLayer(tar), MediaType.dockerLayerGzip],
    ] as const) {
      const dir = freshDir('bind');
      const desc = await ingest(blob, mediaType);
      const applied = await differ.apply(ctx, desc, bind(dir));
      expect(applied).toEqual({ mediaType: MEDIA_TYPE_LAYER, digest: sha256(tar), size: tar.length });
      expect(readFileSync(join(dir, 'etc/passwd'), 'utf8')).toContain('root');
    }
  });

  it('writes straight into an overlay upper dir with overlay whiteouts, no mount needed', async () => {
    const lower = freshDir('lower');
    await differ.apply(ctx, await ingest(gzipLayer(buildLayer(lowerLayer)), MediaType.ociLayerGzip), bind(lower));
    const upper = freshDir('upper');
    const work = freshDir('work');
    const overlay: Mount[] = [
      { type: 'overlay', source: 'overlay', options: ['index=off', `workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] },
    ];
    await differ.apply(ctx, await ingest(zstdLayer(buildLayer(upperLayer)), MediaType.ociLayerZstd), overlay);
    expect(lstatSync(join(upper, 'etc/gone')).isCharacterDevice()).toBe(true);
    expect(lgetxattr(join(upper, 'opq'), 'trusted.overlay.opaque')?.toString()).toBe('y');
    // srv/ came from the lower: the upper copy keeps its owner and mode.
    const srv = lstatSync(join(upper, 'srv'));
    expect([srv.uid, srv.gid, srv.mode & 0o7777]).toEqual([33, 33, 0o750]);

    const merged = freshDir('merged');
    mount('overlay', merged, 'overlay', 0, `lowerdir=${lower},upperdir=${upper},workdir=${work}`);
    try {
      const plain = freshDir('plain');
      await differ.apply(ctx, await ingest(buildLayer(lowerLayer), MediaType.ociLayer), bind(plain));
      await differ.apply(ctx, await ingest(buildLayer(upperLayer), MediaType.ociLayer), bind(plain));
      const snap = (dir: string) => snapshotTree(dir, { ignoreDirMtimes: true });
      expect(snap(merged)).toEqual(snap(plain));
    } finally {
      umount2(merged, MNT_DETACH);
    }
  });

  it('mounts other mounts on a temporary directory and cleans up after', async () => {
    const a = freshDir('a');
    const b = freshDir('b');
    // Two binds stacked on one target: only a real mount shows the second one.
    const mounts: Mount[] = [...bind(a), ...bind(b)];
    const tar = buildLayer(lowerLayer);
    const applied = await differ.apply(ctx, await ingest(gzipLayer(tar), MediaType.ociLayerGzip), mounts);
    expect(applied.digest).toBe(sha256(tar));
    expect(readdirSync(a)).toEqual([]);
    expect(readFileSync(join(b, 'srv/www/index.html'), 'utf8')).toBe('<html>');
    expect(readdirSync(join(root, 'tmpmounts'))).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(join(root, 'tmpmounts'));
  });

  it('fails on a corrupt blob without leaving anything running, then applies the next one', async () => {
    const gz = gzipLayer(buildLayer(lowerLayer));
    const corrupt = Buffer.concat([gz.subarray(0, 200), Buffer.alloc(500, 0x55), gz.subarray(700)]);
    const dir = freshDir('corrupt');
    await expect(differ.apply(ctx, await ingest(corrupt, MediaType.ociLayerGzip), bind(dir))).rejects.toThrow();
    const truncated = gz.subarray(0, gz.length - 30);
    await expect(differ.apply(ctx, await ingest(truncated, MediaType.ociLayerGzip), bind(freshDir('trunc')))).rejects.toThrow();
    const good = await differ.apply(ctx, await ingest(gz, MediaType.ociLayerGzip), bind(freshDir('good')));
    expect(good.digest).toBe(sha256(buildLayer(lowerLayer)));
  });

  it('fails with containerd messages for a missing blob or a media type that is not a layer', async () => {
    const missing = await differ.apply(ctx, { mediaType: MediaType.ociLayer, digest: sha256(Buffer.from('x')), size: 1 }, bind(freshDir('x'))).catch((e) => e);
    expect(isNotFound(missing)).toBe(true);
    expect(missing.message).toMatch(/^failed to get reader from content store: content digest sha256:[0-9a-f]{64}: not found$/);
    const config = await ingest(Buffer.from('{}'), 'application/vnd.oci.image.config.v1+json');
    await expect(differ.apply(ctx, config, bind(freshDir('x')))).rejects.toThrow(
      'failed to get stream processor for application/vnd.oci.image.config.v1+json: no processor for media-type',
    );
  });
});

describe('apply in the apply worker', () => {
  it('reports an error raised in the worker as containerd does (message, Unknown)', async () => {
    const bad = await ingest(buildLayer([{ name: 'a/.wh..' }]), MediaType.ociLayer);
    const err = await differ.apply(ctx, bad, bind(freshDir('bad'))).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(toGrpcStatus(err)).toEqual({ code: GrpcCode.UNKNOWN, details: 'invalid whiteout name: .wh..: invalid archive' });
    const below = await ingest(buildLayer([{ name: 'f', data: 'x' }, { name: 'f/g', data: 'y' }]), MediaType.ociLayer);
    const dir = freshDir('below');
    const err2 = (await differ.apply(ctx, below, bind(dir)).catch((e: Error) => e)) as NodeJS.ErrnoException;
    expect(toGrpcStatus(err2)).toEqual({ code: GrpcCode.UNKNOWN, details: `mkparent ${dir}/f: not a directory` });
    expect(err2.code).toBe('ENOTDIR');
  });

  it('stops a cancelled apply mid-layer with the reason of the request, writing nothing after it', async () => {
    const many = Array.from({ length: 4000 }, (_, i) => ({ name: `d${i % 40}/f${i}`, data: `file ${i}`.repeat(50) }));
    const desc = await ingest(gzipLayer(buildLayer(many)), MediaType.ociLayerGzip);
    const dir = freshDir('cancel');
    const controller = new AbortController();
    const reason = new Error('client cancelled the call');
    const applying = differ.apply({ ...ctx, signal: controller.signal }, desc, bind(dir)).then(
      () => 'resolved',
      (e: unknown) => e,
    );
    // Cancel once the worker has written some of the layer.
    const deadline = Date.now() + 20_000;
    while (readdirSync(dir).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    controller.abort(reason);
    expect(await applying).toBe(reason);
    expect(activeApplyWorkers()).toBe(0);
    const after = snapshotTree(dir);
    expect(after.filter((e) => e.type === 'file').length).toBeLessThan(4000);
    await new Promise((r) => setTimeout(r, 200));
    expect(snapshotTree(dir)).toEqual(after);
  }, 60_000);

  it('runs many applies at once, each to the tree and diff ID of its layer', async () => {
    const layers = Array.from({ length: 10 }, (_, k) => buildLayer([...lowerLayer, { name: `own/${k}`, data: `layer ${k}` }]));
    const descs = await Promise.all(layers.map((tar, k) => ingest(k % 2 ? zstdLayer(tar) : gzipLayer(tar), k % 2 ? MediaType.ociLayerZstd : MediaType.ociLayerGzip)));
    const dirs = layers.map(() => freshDir('many'));
    const applied = await Promise.all(descs.map((desc, k) => differ.apply(ctx, desc, bind(dirs[k]!))));
    for (const [k, dir] of dirs.entries()) {
      expect(applied[k]).toEqual({ mediaType: MEDIA_TYPE_LAYER, digest: sha256(layers[k]!), size: layers[k]!.length });
      expect(readFileSync(join(dir, 'own', String(k)), 'utf8')).toBe(`layer ${k}`);
      expect(snapshotTree(dir).filter((e) => !e.path.startsWith('/own'))).toEqual(snapshotTree(dirs[0]!).filter((e) => !e.path.startsWith('/own')));
    }
  });
});

describe('compare', () => {
  async function overlayPair() {
    const lower = freshDir('lower');
    await differ.apply(ctx, await ingest(buildLayer(lowerLayer), MediaType.ociLayer), bind(lower));
    const upper = freshDir('upper');
    const work = freshDir('work');
    const overlay: Mount[] = [{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] }];
    await differ.apply(ctx, await ingest(buildLayer(upperLayer), MediaType.ociLayer), overlay);
    return { lower, overlay };
  }

  it('writes a gzip diff labelled with its uncompressed digest; applying it reproduces the upper', async () => {
    const { lower, overlay } = await overlayPair();
    const desc = await differ.compare(ctx, bind(lower), overlay);
    expect(desc.mediaType).toBe(MEDIA_TYPE_LAYER_GZIP);
    const info = await store.info(ctx, desc.digest);
    expect(info.size).toBe(desc.size);
    const ra = await store.readerAt(ctx, desc);
    const blob = await ra.readAt(0, ra.size);
    await ra.close();
    const tar = gunzipSync(blob);
    expect(info.labels[UNCOMPRESSED_LABEL]).toBe(sha256(tar));
    expect(`sha256:${createHash('sha256').update(blob).digest('hex')}`).toBe(desc.digest);

    // The upper mount was taken read-only and unmounted again.
    expect(readdirSync(join(root, 'tmpmounts'))).toEqual([]);

    const replay = freshDir('replay');
    await differ.apply(ctx, await ingest(buildLayer(lowerLayer), MediaType.ociLayer), bind(replay));
    await differ.apply(ctx, desc, bind(replay));
    const merged = freshDir('merged');
    const opts = overlay[0]!.options.join(',');
    mount('overlay', merged, 'overlay', 0, opts);
    try {
      const snap = (dir: string) => snapshotTree(dir, { ignoreDirMtimes: true }).map((e) => ({ ...e, mtimeNs: e.mtimeNs.slice(0, -9) }));
      expect(snap(replay)).toEqual(snap(merged));
    } finally {
      umount2(merged, MNT_DETACH);
    }
  });

  it('writes plain tars on request, reuses a reference, and refuses other media types', async () => {
    const { lower, overlay } = await overlayPair();
    const plain = await differ.compare(ctx, bind(lower), overlay, { mediaType: MEDIA_TYPE_LAYER, reference: 'diff-ref', labels: { a: 'b' } });
    expect(plain.mediaType).toBe(MEDIA_TYPE_LAYER);
    const info = await store.info(ctx, plain.digest);
    expect(info.labels).toEqual({ a: 'b' });
    // The same diff again, into the same ref: truncated and committed; the blob exists already.
    const again = await differ.compare(ctx, bind(lower), overlay, { mediaType: MEDIA_TYPE_LAYER, reference: 'diff-ref' });
    expect(again).toEqual(plain);
    const err = await differ.compare(ctx, bind(lower), overlay, { mediaType: MediaType.ociLayerZstd }).catch((e) => e);
    expect(isNotImplemented(err)).toBe(true);
    // An empty lower (no parent): everything in upper is added.
    const all = await differ.compare(ctx, [], bind(lower), { mediaType: MEDIA_TYPE_LAYER });
    const replay = freshDir('replay');
    await differ.apply(ctx, all, bind(replay));
    expect(snapshotTree(replay, { ignoreDirMtimes: true }).map((e) => e.path)).toEqual(
      snapshotTree(lower, { ignoreDirMtimes: true }).map((e) => e.path),
    );
  });
});
