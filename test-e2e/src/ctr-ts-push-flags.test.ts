// Issue 11: the flags of `ctr images push` beyond the registry ones — --platform,
// --allow-non-distributable-blobs, --max-concurrent-uploaded-layers, --manifest and
// --manifest-type. On containerd-ts and on Debian's containerd, Debian's ctr and ctr-ts push
// the same multi-platform image (one layer of it non-distributable) to repositories of their
// own on a loopback docker-registry; the registry is read back (tags, manifests, blobs) and
// must hold the same for both. Uploads go through a proxy that counts the blob uploads in
// flight. Bad values fail with ctr's line and exit code.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { buildLayer } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, ctr, ctrTs, retryCtrPushFlake, run, startDaemon, startReference } from './harness.js';
import { type Blob, fixtureImage } from './image-fixture.js';
import { type Registry, startRegistry } from './registry.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const ACCEPT = [OCI_INDEX, OCI_MANIFEST, 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

const blobOf = (mediaType: string, data: Buffer): Blob => ({ mediaType, digest: `sha256:${createHash('sha256').update(data).digest('hex')}`, size: data.length, data });
const ref = (b: Blob, extra: Record<string, unknown> = {}) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size, ...extra });

interface TestImage {
  archive: string;
  index: Blob;
  /** Per platform: its manifest, config and layers. */
  host: { manifest: Blob; blobs: Blob[] };
  s390x: { manifest: Blob; blobs: Blob[] };
  arm: { manifest: Blob; blobs: Blob[] };
  /** The host image's non-distributable layer (with `urls`). */
  foreign: Blob;
  all: Blob[];
}

/**
 * An OCI layout named example.com/push/multi:1: an index of this host's platform (the gzip
 * fixture plus a non-distributable layer), linux/s390x (the zstd fixture) and linux/arm/v7
 * (one small layer).
 */
async function buildImage(dir: string): Promise<TestImage> {
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const gzip = fixtureImage({ compression: 'gzip' });
  const zstd = fixtureImage({ compression: 'zstd' });
  const foreignTar = buildLayer([{ name: 'Files/', type: 'dir' }, { name: 'Files/base.dll', data: 'not to be redistributed\n'.repeat(500) }]);
  const foreign = blobOf('application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', gzipSync(foreignTar));
  const image = (base: Blob, layers: Blob[], platform: { architecture: string; variant?: string }, extraDiffIds: string[] = [], urls = new Map<string, string[]>()) => {
    const cfg = JSON.parse(base.data.toString()) as { architecture: string; variant?: string; rootfs: { diff_ids: string[] } };
    cfg.architecture = platform.architecture;
    if (platform.variant) cfg.variant = platform.variant;
    cfg.rootfs.diff_ids = [...cfg.rootfs.diff_ids, ...extraDiffIds];
    const config = blobOf('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify(cfg)));
    const manifest = blobOf(
      OCI_MANIFEST,
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: ref(config),
          layers: layers.map((l) => ref(l, urls.has(l.digest) ? { urls: urls.get(l.digest) } : {})),
        }),
      ),
    );
    return { manifest, blobs: [config, ...layers] };
  };
  const hostLayers = gzip.layers.map((l) => ({ ...l, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' }));
  const host = image(gzip.config, [...hostLayers, foreign], { architecture: arch }, [`sha256:${createHash('sha256').update(foreignTar).digest('hex')}`], new Map([[foreign.digest, ['https://example.invalid/base.tar.gz']]]));
  const s390x = image(zstd.config, zstd.layers, { architecture: 's390x' });
  const armTar = buildLayer([{ name: 'arm', data: 'arm v7\n' }]);
  const armLayer = blobOf('application/vnd.oci.image.layer.v1.tar+gzip', gzipSync(armTar));
  const armConfig = blobOf('application/vnd.oci.image.config.v1+json', Buffer.from(JSON.stringify({ architecture: 'arm', variant: 'v7', os: 'linux', rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(armTar).digest('hex')}`] } })));
  const armManifest = blobOf(OCI_MANIFEST, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: ref(armConfig), layers: [ref(armLayer)] })));
  const arm = { manifest: armManifest, blobs: [armConfig, armLayer] };
  const index = blobOf(
    OCI_INDEX,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          ref(host.manifest, { platform: { architecture: arch, os: 'linux' } }),
          ref(s390x.manifest, { platform: { architecture: 's390x', os: 'linux' } }),
          ref(arm.manifest, { platform: { architecture: 'arm', os: 'linux', variant: 'v7' } }),
        ],
      }),
    ),
  );
  const all = [...new Map([index, host.manifest, ...host.blobs, s390x.manifest, ...s390x.blobs, arm.manifest, ...arm.blobs].map((b) => [b.digest, b])).values()];
  const root = join(dir, 'layout');
  await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
  for (const b of all) await writeFile(join(root, 'blobs', 'sha256', b.digest.slice('sha256:'.length)), b.data);
  await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(root, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [ref(index, { annotations: { 'io.containerd.image.name': 'example.com/push/multi:1' } })] }));
  const archive = join(dir, 'multi.tar');
  const packed = await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', archive, '-C', root, 'oci-layout', 'index.json', 'blobs']);
  if (packed.code !== 0) throw new Error(packed.stderr);
  return { archive, index, host, s390x, arm, foreign, all };
}

/**
 * A proxy in front of the registry that holds each blob upload (the PUT with the data)
 * `delayMs` before passing it on, and counts how many were in flight at most.
 */
async function uploadCountingProxy(registry: Registry, delayMs: number) {
  const [regHost, regPort] = registry.host.split(':') as [string, string];
  let inFlight = 0;
  let most = 0;
  const server: Server = createServer((req, res) => {
    const upload = req.method === 'PUT' && /\/blobs\/uploads\//.test(req.url ?? '');
    const forward = () => {
      const up = httpRequest({ host: regHost, port: Number(regPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (!upload) return forward();
    inFlight++;
    most = Math.max(most, inFlight);
    res.on('close', () => inFlight--);
    setTimeout(forward, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host: `127.0.0.1:${port}`,
    /** The most uploads in flight since the last call. */
    takeMost: () => {
      const m = most;
      most = 0;
      return m;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** What the registry holds in a repository, of the image's manifests and blobs: tags, what `1` is, and which digests it has. */
async function repositoryState(registry: Registry, repo: string, image: TestImage) {
  const base = `http://${registry.host}/v2/${repo}`;
  const tags = await fetch(`${base}/tags/list`);
  const tagged = await fetch(`${base}/manifests/1`, { headers: { accept: ACCEPT } });
  const body = Buffer.from(await tagged.arrayBuffer());
  const has: string[] = [];
  for (const b of image.all) {
    const kind = b.mediaType === OCI_MANIFEST || b.mediaType === OCI_INDEX ? 'manifests' : 'blobs';
    const head = await fetch(`${base}/${kind}/${b.digest}`, { method: 'HEAD', headers: { accept: ACCEPT } });
    if (head.status === 200) has.push(b.digest);
    else expect(head.status, `${repo} ${kind}/${b.digest}`).toBe(404);
  }
  return {
    tags: tags.status === 200 ? ((await tags.json()) as { tags: string[] }).tags : [],
    tag1: tagged.status === 200 ? { digest: tagged.headers.get('docker-content-digest'), type: tagged.headers.get('content-type'), body: blobOf('', body).digest } : tagged.status,
    has: has.sort(),
  };
}

const digestsOf = (...blobs: Blob[]) => [...new Set(blobs.map((b) => b.digest))].sort();
const lastLine = (r: RunResult) => r.stderr.trim().split('\n').at(-1) ?? '';

describe('ctr-ts images push flags, against ctr on containerd-ts and on containerd', () => {
  let work: string;
  let registry: Registry;
  let proxy: Awaited<ReturnType<typeof uploadCountingProxy>>;
  let image: TestImage;
  const daemons: Array<{ name: string; short: string; socket: string }> = [];
  const stops: Array<() => Promise<void>> = [];
  const ns = `push-flags-${process.pid}`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-push-flags-'));
    image = await buildImage(work);
    registry = await startRegistry({ manifestUrlsAllow: ['^https?://'] });
    stops.push(registry.stop);
    proxy = await uploadCountingProxy(registry, 150);
    stops.push(proxy.close);
    const [ts, refd] = await Promise.all([startDaemon(), startReference()]);
    stops.push(ts.cleanup, refd.stop);
    daemons.push({ name: 'containerd-ts', short: 'ts', socket: ts.socket }, { name: 'containerd', short: 'cd', socket: refd.socket });
    for (const d of daemons) {
      const imported = await ctr(d.socket, '-n', ns, 'images', 'import', '--all-platforms', '--no-unpack', image.archive);
      expect(imported.code, imported.stderr).toBe(0);
    }
  }, 180_000);

  afterAll(async () => {
    for (const stop of stops.reverse()) await stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Pushes with ctr and ctr-ts (`args` before the remote) to `<daemon>-<client>-<name>` through `host`; both must succeed. */
  async function pushBoth(d: { short: string; socket: string }, name: string, args: string[], host = registry.host, ctrArgs = args) {
    const repos = { ctr: `${d.short}-ctr-${name}`, ts: `${d.short}-ts-${name}` };
    const pushCtr = () => ctr(d.socket, '-n', ns, 'images', 'push', '--plain-http', ...ctrArgs, `${host}/${repos.ctr}:1`, 'example.com/push/multi:1');
    // ctr's push flake was seen here right after the case that makes ctr panic (twice in a
    // row once in CI): ctr is only the reference, so its push is run again.
    const theirs = await retryCtrPushFlake(`${d.short} push ${ctrArgs.join(' ')}`, pushCtr);
    const mostCtr = proxy.takeMost();
    const ours = await run(ctrTs, ['-a', d.socket, '-n', ns, 'images', 'push', '--plain-http', ...args, `${host}/${repos.ts}:1`, 'example.com/push/multi:1']);
    const mostTs = proxy.takeMost();
    const what = `${d.short} push ${args.join(' ')}`;
    expect(theirs.code, `${what}: ctr: ${theirs.stderr}`).toBe(0);
    expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
    const [a, b] = await Promise.all([repositoryState(registry, repos.ctr, image), repositoryState(registry, repos.ts, image)]);
    expect(b, what).toEqual(a);
    return { state: b, mostCtr, mostTs, stdout: ours.stdout };
  }

  it('without flags and with --allow-non-distributable-blobs: every platform, the non-distributable layer only when allowed', async () => {
    const everything = image.all.filter((b) => b !== image.foreign);
    for (const d of daemons) {
      const plain = await pushBoth(d, 'plain', []);
      expect(plain.state).toEqual({ tags: ['1'], tag1: { digest: image.index.digest, type: OCI_INDEX, body: image.index.digest }, has: digestsOf(...everything) });
      expect(plain.stdout).not.toContain(image.foreign.digest);
      const allowed = await pushBoth(d, 'allowed', ['--allow-non-distributable-blobs']);
      expect(allowed.state).toEqual({ tags: ['1'], tag1: { digest: image.index.digest, type: OCI_INDEX, body: image.index.digest }, has: digestsOf(...image.all) });
      expect(allowed.stdout).toMatch(new RegExp(`\\nlayer-${image.foreign.digest}: +done `));
      const blob = await fetch(`http://${registry.host}/v2/${d.short}-ts-allowed/blobs/${image.foreign.digest}`);
      expect(Buffer.from(await blob.arrayBuffer()).equals(image.foreign.data)).toBe(true);
    }
  }, 300_000);

  it('--platform: one value pushes that platform’s manifest under the tag; several, or none matching, push the whole index', async () => {
    const whole = { tags: ['1'], tag1: { digest: image.index.digest, type: OCI_INDEX, body: image.index.digest }, has: digestsOf(...image.all.filter((b) => b !== image.foreign)) };
    for (const d of daemons) {
      const s390x = await pushBoth(d, 's390x', ['--platform', 'linux/s390x']);
      expect(s390x.state).toEqual({ tags: ['1'], tag1: { digest: image.s390x.manifest.digest, type: OCI_MANIFEST, body: image.s390x.manifest.digest }, has: digestsOf(image.s390x.manifest, ...image.s390x.blobs) });
      // linux/arm is linux/arm/v7 once normalized.
      const arm = await pushBoth(d, 'arm', ['--platform', 'linux/arm']);
      expect(arm.state).toEqual({ tags: ['1'], tag1: { digest: image.arm.manifest.digest, type: OCI_MANIFEST, body: image.arm.manifest.digest }, has: digestsOf(image.arm.manifest, ...image.arm.blobs) });
      // The host's manifest, without its non-distributable layer.
      const host = await pushBoth(d, 'host', ['--platform', `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`]);
      expect(host.state.tag1).toEqual({ digest: image.host.manifest.digest, type: OCI_MANIFEST, body: image.host.manifest.digest });
      expect(host.state.has).toEqual(digestsOf(image.host.manifest, ...image.host.blobs.filter((b) => b !== image.foreign)));
      expect((await pushBoth(d, 'two', ['--platform', 'linux/s390x', '--platform', 'linux/arm'])).state).toEqual(whole);
      expect((await pushBoth(d, 'windows', ['--platform', 'windows/amd64'])).state).toEqual(whole);
    }
  }, 300_000);

  it('--max-concurrent-uploaded-layers bounds the blob uploads in flight as in ctr', async () => {
    for (const d of daemons) {
      const unbounded = await pushBoth(d, 'unbounded', [], proxy.host);
      // Config and layers of three platforms: many at once without a bound.
      expect(unbounded.mostCtr, d.name).toBeGreaterThan(2);
      expect(unbounded.mostTs, d.name).toBeGreaterThan(2);
      for (const n of [1, 2]) {
        const bounded = await pushBoth(d, `bound${n}`, ['--max-concurrent-uploaded-layers', String(n)], proxy.host);
        expect(bounded.state, d.name).toEqual(unbounded.state);
        expect({ ctr: bounded.mostCtr, ctrTs: bounded.mostTs }, `${d.name} --max-concurrent-uploaded-layers ${n}`).toEqual({ ctr: n, ctrTs: n });
      }
    }
  }, 300_000);

  it('--manifest and --manifest-type push that document from the content store', async () => {
    for (const d of daemons) {
      // ctr 1.6.20 sends a descriptor of size 0 for --manifest and panics once the manifest
      // is found (remotes/docker pushWriter.Commit); ctr-ts takes the size from the store.
      // What ctr-ts pushes is compared with what ctr pushes of the same document otherwise.
      const panics = await ctr(d.socket, '-n', ns, 'images', 'push', '--plain-http', '--manifest', image.s390x.manifest.digest, `${registry.host}/${d.short}-ctr-panic:1`);
      expect(panics.code, `${d.name}: ${panics.stderr}`).toBe(2);
      expect(panics.stderr).toContain('panic: runtime error: invalid memory address or nil pointer dereference');
      const manifest = await pushBoth(d, 'manifest', ['--manifest', image.s390x.manifest.digest], registry.host, ['--platform', 'linux/s390x']);
      expect(manifest.state.tag1).toEqual({ digest: image.s390x.manifest.digest, type: OCI_MANIFEST, body: image.s390x.manifest.digest });
      // The index under its own media type: the whole image, as ctr pushes the image itself.
      const index = await pushBoth(d, 'index', ['--manifest', image.index.digest, '--manifest-type', OCI_INDEX], registry.host, []);
      expect(index.state.tag1).toEqual({ digest: image.index.digest, type: OCI_INDEX, body: image.index.digest });
      // --manifest wins over the image argument and --platform, as in ctr.
      const over = await run(ctrTs, ['-a', d.socket, '-n', ns, 'images', 'push', '--plain-http', '--manifest', image.arm.manifest.digest, '--platform', 'linux/s390x', `${registry.host}/${d.short}-ts-over:1`, 'example.com/missing:1']);
      expect(over.code, over.stderr).toBe(0);
      expect((await repositoryState(registry, `${d.short}-ts-over`, image)).tag1).toEqual({ digest: image.arm.manifest.digest, type: OCI_MANIFEST, body: image.arm.manifest.digest });
    }
  }, 300_000);

  it('bad values fail with ctr’s line and exit code, pushing nothing', async () => {
    const cases: string[][] = [
      ['--platform', 'linux/a/b/c'],
      ['--platform', 'linux/*'],
      ['--platform', ''],
      ['--manifest', 'nope'],
      ['--manifest', 'sha256:abc'],
      ['--manifest', `sha256:${'1'.repeat(64)}`],
      // The index read as an OCI manifest (the default --manifest-type).
      ['--manifest', image.index.digest],
      ['--max-concurrent-uploaded-layers', 'many'],
    ];
    for (const d of daemons) {
      for (const [i, args] of cases.entries()) {
        const what = `${d.name}: push ${args.join(' ')}`;
        const [theirs, ours] = await Promise.all([
          ctr(d.socket, '-n', ns, 'images', 'push', '--plain-http', ...args, `${registry.host}/${d.short}-ctr-bad${i}:1`, 'example.com/push/multi:1'),
          run(ctrTs, ['-a', d.socket, '-n', ns, 'images', 'push', '--plain-http', ...args, `${registry.host}/${d.short}-ts-bad${i}:1`, 'example.com/push/multi:1']),
        ]);
        expect(theirs.code, `${what}: ${theirs.stderr}`).toBe(1);
        expect(ours.code, what).toBe(1);
        expect(lastLine(ours).replace(/^ctr-ts: /, 'ctr: '), what).toBe(lastLine(theirs));
        if (args[0] !== '--max-concurrent-uploaded-layers') {
          expect(ours.stderr.trim().split('\n'), what).toHaveLength(1);
          expect(ours.stdout, what).toBe('');
        }
        for (const repo of [`${d.short}-ctr-bad${i}`, `${d.short}-ts-bad${i}`]) {
          expect((await repositoryState(registry, repo, image)).has, `${what}: ${repo}`).toEqual([]);
        }
      }
      // An image that is not there, with or without a bad --platform: the image first, as ctr.
      for (const args of [[], ['--platform', 'linux/a/b/c']]) {
        const [theirs, ours] = await Promise.all([
          ctr(d.socket, '-n', ns, 'images', 'push', '--plain-http', ...args, `${registry.host}/x:1`, 'example.com/missing:1'),
          run(ctrTs, ['-a', d.socket, '-n', ns, 'images', 'push', '--plain-http', ...args, `${registry.host}/x:1`, 'example.com/missing:1']),
        ]);
        expect(theirs.code).toBe(1);
        expect(ours.code).toBe(1);
        expect(lastLine(ours).replace(/^ctr-ts: /, 'ctr: ')).toBe(lastLine(theirs));
        expect(lastLine(theirs)).toBe('ctr: unable to resolve image to manifest: image "example.com/missing:1": not found');
      }
    }
    // The help is ctr's, word for word.
    const [a, b] = await Promise.all([ctr(daemons[0]!.socket, 'images', 'push', '--help'), run(ctrTs, ['images', 'push', '--help'])]);
    expect(b.stdout.replaceAll('ctr-ts', 'ctr')).toBe(a.stdout);
    expect(a.stdout).toContain('--max-concurrent-uploaded-layers value  Set the max concurrent uploaded layers for each push (default: 0)');
  }, 300_000);
});
