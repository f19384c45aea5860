// RemoteDiff against a walking differ served over a real unix socket: Apply and Diff
// calls, with the layer blobs in the proxy's content store (reached with RemoteContentStore).
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLayer, gzipLayer, sha256, snapshotTree } from '@containerd-ts/archive/testing';
import { writeBlob } from '@containerd-ts/content';
import { LocalContentStore, MemoryLabelStore } from '@containerd-ts/content-local';
import { MEDIA_TYPE_LAYER_GZIP, type Mount, UNCOMPRESSED_LABEL } from '@containerd-ts/diff';
import { WalkingDiffer } from '@containerd-ts/differ-walking';
import { isNotFound } from '@containerd-ts/errdefs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyConnection } from './connection.js';
import { RemoteContentStore } from './content.js';
import { RemoteDiff } from './diff.js';
import { contentProxyService, diffProxyService } from './server.js';
import { type TestServer, quietLog, testServer } from './testing/server.js';

const ctx = { namespace: 'default' };
let dir: string;
let server: TestServer;
let conn: ProxyConnection;
let differ: RemoteDiff;
let content: RemoteContentStore;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxy-diff-'));
  const local = await LocalContentStore.open(join(dir, 'content'), { labelStore: new MemoryLabelStore() });
  const walking = new WalkingDiffer(local, { tempMountRoot: join(dir, 'tmpmounts'), log: quietLog });
  server = testServer(join(dir, 'proxy.sock'), () => [diffProxyService(walking), contentProxyService(local)]);
  await server.start();
  conn = new ProxyConnection({ name: 'prox', address: server.socket });
  differ = new RemoteDiff(conn);
  content = new RemoteContentStore(conn);
});
afterAll(async () => {
  conn.close();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

const bind = (source: string): Mount[] => [{ type: 'bind', source, options: ['rbind', 'rw'] }];

describe('RemoteDiff', () => {
  it('applies a layer from the proxy content store and computes one back', async () => {
    const tar = buildLayer([
      { name: 'etc/', mode: 0o755 },
      { name: 'etc/hostname', data: 'proxied\n' },
      { name: 'usr/bin/tool', data: 'tool', mode: 0o4755 },
    ]);
    const blob = gzipLayer(tar);
    const desc = { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: sha256(blob), size: blob.length };
    await writeBlob(content, ctx, 'layer-1', [blob], desc);

    const target = join(dir, 'applied');
    await mkdir(target);
    const applied = await differ.apply(ctx, desc, bind(target));
    expect(applied.digest).toBe(sha256(tar));
    expect(await readFile(join(target, 'etc/hostname'), 'utf8')).toBe('proxied\n');
    expect((await stat(join(target, 'usr/bin/tool'))).mode & 0o7777).toBe(0o4755);

    const empty = join(dir, 'empty');
    await mkdir(empty);
    const diff = await differ.compare(ctx, bind(empty), bind(target), { labels: { 'test.label': 'x' } });
    expect(diff.mediaType).toBe(MEDIA_TYPE_LAYER_GZIP);
    const info = await content.info(ctx, diff.digest);
    expect(info.size).toBe(diff.size);
    expect(info.labels).toMatchObject({ 'test.label': 'x', [UNCOMPRESSED_LABEL]: expect.stringMatching(/^sha256:/) });

    // The computed layer applied elsewhere gives the same tree.
    const again = join(dir, 'again');
    await mkdir(again);
    await differ.apply(ctx, diff, bind(again));
    expect(snapshotTree(again, { ignoreDirMtimes: true })).toEqual(snapshotTree(target, { ignoreDirMtimes: true }));
  });

  it('returns the proxy errors with their class', async () => {
    const missing = { mediaType: MEDIA_TYPE_LAYER_GZIP, digest: `sha256:${'0'.repeat(64)}`, size: 1 };
    const err = await differ.apply(ctx, missing, bind(dir)).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
  });
});
