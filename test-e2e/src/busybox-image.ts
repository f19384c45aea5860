// A runnable test image built here from Debian's busybox-static: one gzip layer with
// /bin/busybox, the applets the container tests run as symlinks to it, /etc/passwd and
// /etc/group (for `--user`), and the empty directories runc mounts over. Nothing is
// pulled from outside; tests push it to their loopback registry.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { type LayerEntry, buildLayer, gzipLayer } from '@containerd-ts/archive/testing';
import type { Blob, FixtureImage } from './image-fixture.js';

/** Where Debian's busybox-static installs the binary. */
export const BUSYBOX_PATH = '/bin/busybox';

export const BUSYBOX_APPLETS = [
  'sh',
  'echo',
  'sleep',
  'true',
  'false',
  'cat',
  'ls',
  'env',
  'pwd',
  'id',
  'ps',
  'touch',
  'mkdir',
  'rm',
  'head',
  'dd',
  'stat',
  'hostname',
  'ip',
  'wc',
  'grep',
  'tty',
  'stty',
  'kill',
] as const;

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const blob = (mediaType: string, data: Buffer): Blob => ({ mediaType, digest: sha256(data), size: data.length, data });

let cached: FixtureImage | undefined;

/** The busybox image (built once per process); throws when busybox-static is not installed. */
export function busyboxImage(): FixtureImage {
  if (cached) return cached;
  let busybox: Buffer;
  try {
    busybox = readFileSync(BUSYBOX_PATH);
  } catch (err) {
    throw new Error(`${BUSYBOX_PATH} is missing: install Debian's busybox-static (${(err as Error).message})`);
  }
  const entries: LayerEntry[] = [
    { name: 'bin', type: 'dir' },
    { name: 'bin/busybox', data: busybox, mode: 0o755 },
    ...BUSYBOX_APPLETS.map((a): LayerEntry => ({ name: `bin/${a}`, type: 'symlink', linkname: 'busybox' })),
    { name: 'dev', type: 'dir' },
    { name: 'etc', type: 'dir' },
    { name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\nusers:x:100:\n' },
    { name: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' },
    { name: 'proc', type: 'dir' },
    { name: 'root', type: 'dir', mode: 0o700 },
    { name: 'sys', type: 'dir' },
    { name: 'tmp', type: 'dir', mode: 0o1777 },
  ];
  const tar = buildLayer(entries);
  const layer = blob('application/vnd.oci.image.layer.v1.tar+gzip', gzipLayer(tar));
  const arch = process.arch === 'x64' ? 'amd64' : process.arch === 'arm64' ? 'arm64' : process.arch;
  const config = blob(
    'application/vnd.oci.image.config.v1+json',
    Buffer.from(
      JSON.stringify({
        architecture: arch,
        os: 'linux',
        created: '2023-11-14T22:13:20Z',
        config: { Env: ['PATH=/bin'], Cmd: ['/bin/sh'], WorkingDir: '/' },
        rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
        history: [{ created: '2023-11-14T22:13:20Z', created_by: 'busybox-static' }],
      }),
    ),
  );
  const manifest = blob(
    'application/vnd.oci.image.manifest.v1+json',
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
        layers: [{ mediaType: layer.mediaType, digest: layer.digest, size: layer.size }],
      }),
    ),
  );
  cached = { manifest, config, layers: [layer], unpackedSize: tar.length, entryCount: entries.length };
  return cached;
}
