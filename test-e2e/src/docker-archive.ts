// Image archives built for the archive tests: `docker save` archives (Docker v1.2:
// manifest.json, repositories, one directory per layer with layer.tar, json and VERSION,
// the config as <hex>.json; a layer reached through a symlink as docker writes shared
// layers) with gzip or uncompressed layer tars, and OCI image layouts whose index has
// entries for two platforms.
import { createHash } from 'node:crypto';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { run } from './harness.js';
import type { FixtureImage } from './image-fixture.js';

const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

async function pack(dir: string, file: string, entries: string[]): Promise<void> {
  const packed = await run('tar', ['--sort=name', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '-cf', file, '-C', dir, ...entries]);
  if (packed.code !== 0) throw new Error(packed.stderr);
}

export interface DockerArchiveImage {
  image: FixtureImage;
  /** RepoTags as `docker save` writes them (short names); none: an untagged entry. */
  repoTags: string[];
  /** Layer tars as stored in the archive: gzip (the image's blobs) or uncompressed. */
  layers: 'gzip' | 'uncompressed';
}

/**
 * Writes a `docker save` archive of `images` to `<dir>/<name>.tar`. The second layer of
 * each image is stored under an alias directory whose layer.tar is a symlink to the real one.
 */
export async function buildDockerArchive(dir: string, name: string, images: DockerArchiveImage[]): Promise<string> {
  const root = join(dir, `${name}.d`);
  await mkdir(root, { recursive: true });
  const manifest: Array<{ Config: string; RepoTags: string[] | null; Layers: string[] }> = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const [n, entry] of images.entries()) {
    const config = `${hex(entry.image.config.data)}.json`;
    await writeFile(join(root, config), entry.image.config.data);
    const layers: string[] = [];
    let parent = '';
    for (const [i, layer] of entry.image.layers.entries()) {
      const data = entry.layers === 'gzip' ? layer.data : gunzipSync(layer.data);
      const id = hex(`${n}/${i}/${parent}/${layer.digest}/${entry.layers}`);
      await mkdir(join(root, id), { recursive: true });
      await writeFile(join(root, id, 'layer.tar'), data);
      await writeFile(join(root, id, 'VERSION'), '1.0');
      await writeFile(join(root, id, 'json'), JSON.stringify({ id, ...(parent ? { parent } : {}) }));
      if (i === 1) {
        const alias = hex(`alias/${id}`);
        await mkdir(join(root, alias), { recursive: true });
        await symlink(`../${id}/layer.tar`, join(root, alias, 'layer.tar'));
        layers.push(`${alias}/layer.tar`);
      } else layers.push(`${id}/layer.tar`);
      parent = id;
    }
    manifest.push({ Config: config, RepoTags: entry.repoTags.length > 0 ? entry.repoTags : null, Layers: layers });
    for (const tag of entry.repoTags) {
      const colon = tag.lastIndexOf(':');
      const repo = tag.slice(0, colon);
      repositories[repo] = { ...(repositories[repo] ?? {}), [tag.slice(colon + 1)]: parent };
    }
  }
  await writeFile(join(root, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(root, 'repositories'), JSON.stringify(repositories));
  const file = join(dir, `${name}.tar`);
  // Names without `./`, as docker writes them.
  await pack(root, file, (await readdir(root)).sort());
  return file;
}

export interface OciIndexArchive {
  file: string;
  /** Digest of the index (what --index-name names). */
  index: string;
}

/**
 * Writes an OCI image layout with an index of two entries: `host` for this machine's
 * platform and `other` for linux/s390x (its content all there too), named by an OCI ref
 * names only (`refName`, `refName-s390x`).
 */
export async function buildOciIndexArchive(dir: string, name: string, host: FixtureImage, other: FixtureImage, refName: string): Promise<OciIndexArchive> {
  const root = join(dir, `${name}.d`);
  const blobs = join(root, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const image of [host, other]) {
    for (const b of [image.manifest, image.config, ...image.layers]) await writeFile(join(blobs, b.digest.slice('sha256:'.length)), b.data);
  }
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const index = JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: other.manifest.mediaType,
        digest: other.manifest.digest,
        size: other.manifest.size,
        platform: { architecture: 's390x', os: 'linux' },
      },
      {
        mediaType: host.manifest.mediaType,
        digest: host.manifest.digest,
        size: host.manifest.size,
        annotations: { 'org.opencontainers.image.ref.name': refName },
        platform: { architecture: arch, os: 'linux' },
      },
    ],
  });
  await writeFile(join(root, 'index.json'), index);
  await writeFile(join(root, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const file = join(dir, `${name}.tar`);
  await pack(root, file, ['oci-layout', 'index.json', 'blobs']);
  return { file, index: `sha256:${hex(index)}` };
}
