// A small OCI image archive (one uncompressed layer with one file) for `ctr images import`.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './harness.js';

export interface ImageArchive {
  /** The tar file to import. */
  file: string;
  /** Digest of the image manifest. */
  manifest: string;
  /** The layer's one file, and what it holds. */
  path: string;
  content: string;
}

/** Builds the archive in `dir`, naming the image `name` (`io.containerd.image.name`). */
export async function buildImageArchive(dir: string, name: string, content = 'hello from issue 4\n'): Promise<ImageArchive> {
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const put = async (data: Buffer) => {
    const hex = createHash('sha256').update(data).digest('hex');
    await writeFile(join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const src = join(dir, 'rootfs');
  await mkdir(join(src, 'etc'), { recursive: true });
  await writeFile(join(src, 'etc', 'hello'), content);
  const layerTar = join(dir, 'layer.tar');
  const tarred = await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '-cf', layerTar, '-C', src, 'etc']);
  if (tarred.code !== 0) throw new Error(tarred.stderr);
  const layer = await put(await readFile(layerTar));
  const config = await put(
    Buffer.from(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Cmd: ['/bin/sh'] },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  );
  const manifest = await put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
      }),
    ),
  );
  await writeFile(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': '1' },
        },
      ],
    }),
  );
  await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const file = join(dir, 'image.tar');
  const packed = await run('tar', ['-cf', file, '-C', layout, 'oci-layout', 'index.json', 'blobs']);
  if (packed.code !== 0) throw new Error(packed.stderr);
  return { file, manifest: manifest.digest, path: 'etc/hello', content };
}
