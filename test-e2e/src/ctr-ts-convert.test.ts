// Issue 11: `ctr-ts images convert` (packages/client's convertImage) against Debian's
// `ctr images convert`, on containerd-ts and on Debian's containerd. Each daemon gets two
// namespaces with the same images imported by ctr; ctr converts in one, ctr-ts in the
// other, step by step: the same digest printed (the converted documents are byte for byte
// what containerd's converter writes), the same errors, and Debian's ctr reads back the same
// images, content and labels. No lease or ingest is left.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDockerArchive, buildOciIndexArchive } from './docker-archive.js';
import { ctr, ctrTs, run, startDaemon, startReference } from './harness.js';
import { comparableOutput, outputText } from './ctr-sessions.js';
import { type Blob, type FixtureImage, fixtureImage } from './image-fixture.js';

/** What Debian's ctr reads back of a namespace after a synchronous GC (a tag removed with --sync). */
async function storedState(socket: string, ns: string): Promise<string> {
  expect((await ctr(socket, '-n', ns, 'images', 'tag', 'example.com/base/list:1', 'gc.invalid/trigger:1')).code).toBe(0);
  expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', 'gc.invalid/trigger:1')).code).toBe(0);
  const parts: string[] = [];
  for (const args of [['images', 'ls'], ['content', 'ls'], ['leases', 'ls'], ['content', 'active']]) {
    const r = await ctr(socket, '-n', ns, ...args);
    parts.push(`$ ctr ${args.join(' ')}\n${outputText(r)}`);
  }
  return comparableOutput(parts.join('\n'));
}

const sha256 = async (data: Buffer) => `sha256:${(await import('node:crypto')).createHash('sha256').update(data).digest('hex')}`;

async function blobOf(mediaType: string, data: Buffer): Promise<Blob> {
  return { mediaType, digest: await sha256(data), size: data.length, data };
}

/**
 * An OCI layout whose index.json names (`refName`) a Docker manifest list of the host's
 * platform and linux/s390x: Docker media types, gzip layers, annotations with characters
 * Go escapes, documents indented and with keys out of Go's order (a converter re-marshals
 * them). With `dropOther` the s390x manifest's blob is left out of the layout.
 */
async function buildDockerListLayout(dir: string, name: string, image: FixtureImage, refName: string, dropOther = false): Promise<string> {
  const root = join(dir, `${name}.d`);
  const blobs = join(root, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const write = async (b: Blob) => writeFile(join(blobs, b.digest.slice('sha256:'.length)), b.data);
  const layers = image.layers.map((l) => ({ ...l, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' }));
  for (const l of layers) await write(l);
  const entries = [];
  for (const [architecture, os] of [[arch, 'linux'], ['s390x', 'linux']] as const) {
    const cfg = JSON.parse(image.config.data.toString()) as Record<string, unknown>;
    cfg.architecture = architecture;
    const config = await blobOf('application/vnd.docker.container.image.v1+json', Buffer.from(JSON.stringify(cfg)));
    await write(config);
    const manifestText = JSON.stringify(
      {
        layers: layers.map((l, i) => ({
          mediaType: l.mediaType,
          size: l.size,
          digest: l.digest,
          ...(i === 0 ? { annotations: { 'com.example.note': 'a <b> & c' } } : {}),
        })),
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        schemaVersion: 2,
      },
      null,
      3,
    );
    const manifest = await blobOf('application/vnd.docker.distribution.manifest.v2+json', Buffer.from(manifestText));
    if (!(dropOther && architecture === 's390x')) await write(manifest);
    entries.push({ mediaType: manifest.mediaType, digest: manifest.digest, size: manifest.size, platform: { architecture, os } });
  }
  const listText = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: entries }, null, 2);
  const list = await blobOf('application/vnd.docker.distribution.manifest.list.v2+json', Buffer.from(listText));
  await write(list);
  const index = { schemaVersion: 2, manifests: [{ mediaType: list.mediaType, digest: list.digest, size: list.size, annotations: { 'org.opencontainers.image.ref.name': refName } }] };
  await writeFile(join(root, 'index.json'), JSON.stringify(index));
  await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const file = join(dir, `${name}.tar`);
  const packed = await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', file, '-C', root, 'oci-layout', 'index.json', 'blobs']);
  if (packed.code !== 0) throw new Error(packed.stderr);
  return file;
}

describe('ctr-ts images convert, against ctr on containerd-ts and on containerd', () => {
  let work: string;
  const daemons: Array<{ name: string; socket: string }> = [];
  const stops: Array<() => Promise<void>> = [];
  const gzip = fixtureImage({ compression: 'gzip' });
  const zstd = fixtureImage({ compression: 'zstd' });
  const archives = { docker: '', list: '', partial: '', zstd: '' };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-convert-'));
    archives.docker = await buildDockerArchive(work, 'docker', [{ image: gzip, repoTags: ['example.com/base/docker:1'], layers: 'gzip' }]);
    archives.list = await buildDockerListLayout(work, 'list', gzip, 'example.com/base/list:1');
    archives.partial = await buildDockerListLayout(work, 'partial', gzip, 'example.com/base/partial:1', true);
    archives.zstd = (await buildOciIndexArchive(work, 'zstd', zstd, gzip, 'example.com/base/zstd:1')).file;
    const [ts, ref] = await Promise.all([startDaemon(), startReference()]);
    stops.push(ts.cleanup, ref.stop);
    daemons.push({ name: 'containerd-ts', socket: ts.socket }, { name: 'containerd', socket: ref.socket });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(stops.map((s) => s()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('converts as ctr does: --oci, --uncompress, --platform, --all-platforms, in place; the same digests, content and labels', async () => {
    for (const d of daemons) {
      const nsCtr = `convert-ctr-${process.pid}`;
      const nsTs = `convert-ts-${process.pid}`;
      for (const ns of [nsCtr, nsTs]) {
        for (const file of [archives.docker, archives.list, archives.zstd]) {
          const imported = await ctr(d.socket, '-n', ns, 'images', 'import', '--no-unpack', '--all-platforms', file);
          expect(imported.code, imported.stderr).toBe(0);
        }
      }
      const docker = 'example.com/base/docker:1';
      const list = 'example.com/base/list:1';
      const zstdIndex = 'example.com/base/zstd:1';
      const steps: string[][] = [
        ['--oci', '--uncompress', docker, 'example.com/c/oci-uncompressed:1'],
        ['--oci', docker, 'example.com/c/oci:1'],
        ['--uncompress', docker, 'example.com/c/uncompressed:1'],
        [docker, 'example.com/c/unchanged:1'],
        ['--uncompress', '--oci', list, 'example.com/c/list-host:1'],
        ['--all-platforms', '--oci', '--uncompress', list, 'example.com/c/list-all:1'],
        ['--platform', 'linux/s390x', list, 'example.com/c/list-s390x:1'],
        ['--platform', 'linux/s390x', '--platform', 'linux/amd64', '--oci', list, 'example.com/c/list-two:1'],
        [list, 'example.com/c/list-plain:1'],
        ['--all-platforms', list, 'example.com/c/list-annotations:1'],
        ['--uncompress', zstdIndex, 'example.com/c/zstd-uncompressed:1'],
        ['--oci', '--uncompress', zstdIndex, 'example.com/c/zstd-oci:1'],
        // An existing target is replaced; the same name is converted in place.
        ['--oci', docker, 'example.com/c/uncompressed:1'],
        ['--oci', '--uncompress', docker, docker],
      ];
      const digests = new Set<string>();
      for (const args of steps) {
        const what = `${d.name}: images convert ${args.join(' ')}`;
        const [theirs, ours] = await Promise.all([
          ctr(d.socket, '-n', nsCtr, 'images', 'convert', ...args),
          run(ctrTs, ['-a', d.socket, '-n', nsTs, 'images', 'convert', ...args], { timeoutMs: 120_000 }),
        ]);
        expect(theirs.code, `${what}: ${theirs.stderr}`).toBe(0);
        expect(theirs.stdout, what).toMatch(/^sha256:[0-9a-f]{64}\n$/);
        expect(outputText(ours), what).toBe(outputText(theirs));
        digests.add(theirs.stdout);
        const [a, b] = await Promise.all([storedState(d.socket, nsCtr), storedState(d.socket, nsTs)]);
        expect(b, `${what}: state`).toBe(a);
        expect(b).toContain('$ ctr leases ls\nID CREATED AT LABELS \n--stderr--\n--exit 0\n$ ctr content active\nREF\tSIZE\tAGE\t\n--stderr--\n--exit 0');
      }
      // Steps that change nothing print the source's digest; the others new ones.
      expect(digests.size, d.name).toBeGreaterThanOrEqual(10);
      const state = await storedState(d.socket, nsTs);
      expect(state).toMatch(/\nexample\.com\/c\/oci-uncompressed:1 +application\/vnd\.oci\.image\.manifest\.v1\+json /);
      expect(state).toMatch(/\nexample\.com\/c\/list-all:1 +application\/vnd\.oci\.image\.index\.v1\+json .* linux\/amd64,linux\/s390x /);
      expect(state).toMatch(/\nexample\.com\/c\/list-s390x:1 +application\/vnd\.docker\.distribution\.manifest\.list\.v2\+json .* linux\/s390x /);
      for (const ns of [nsCtr, nsTs]) {
        const removed = await ctr(d.socket, '-n', ns, 'images', 'ls', '-q');
        const names = removed.stdout.split('\n').filter((n) => n !== '');
        expect((await ctr(d.socket, '-n', ns, 'images', 'rm', '--sync', ...names)).code).toBe(0);
        expect((await ctr(d.socket, '-n', ns, 'content', 'ls', '-q')).stdout).toBe('');
        expect((await ctr(d.socket, 'namespaces', 'rm', ns)).code).toBe(0);
      }
    }
  }, 600_000);

  it('errors as ctr: missing arguments, an unknown image, a bad platform, content of a platform that is not there; nothing left', async () => {
    for (const d of daemons) {
      const nsCtr = `convert-err-ctr-${process.pid}`;
      const nsTs = `convert-err-ts-${process.pid}`;
      for (const ns of [nsCtr, nsTs]) {
        const imported = await ctr(d.socket, '-n', ns, 'images', 'import', '--no-unpack', archives.partial);
        expect(imported.code, imported.stderr).toBe(0);
      }
      const partial = 'example.com/base/partial:1';
      const steps: string[][] = [
        [],
        [partial],
        ['example.com/missing:1', 'example.com/c/x:1'],
        ['--platform', 'linux/a/b/c', partial, 'example.com/c/x:1'],
        ['--platform', 'linux/*', partial, 'example.com/c/x:1'],
        ['--all-platforms', '--oci', partial, 'example.com/c/x:1'],
      ];
      for (const args of steps) {
        const what = `${d.name}: images convert ${args.join(' ')}`;
        const [theirs, ours] = await Promise.all([
          ctr(d.socket, '-n', nsCtr, 'images', 'convert', ...args),
          run(ctrTs, ['-a', d.socket, '-n', nsTs, 'images', 'convert', ...args]),
        ]);
        expect(theirs.code, what).toBe(1);
        expect(comparableOutput(outputText(ours)), what).toBe(comparableOutput(outputText(theirs)));
        expect(ours.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);
      }
      for (const ns of [nsCtr, nsTs]) {
        expect((await ctr(d.socket, '-n', ns, 'leases', 'ls', '-q')).stdout).toBe('');
        expect((await ctr(d.socket, '-n', ns, 'content', 'active')).stdout).toBe('REF\tSIZE\tAGE\t\n');
        expect((await ctr(d.socket, '-n', ns, 'images', 'ls', '-q')).stdout).toBe(`${partial}\n`);
      }
    }
  }, 300_000);
});
