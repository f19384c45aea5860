// The parts of a push that decide what goes to the registry: ctr's --platform choice of an
// index entry, the walk (children before parents, each blob once, non-distributable layers
// left out) and the bound on concurrent uploads. Pushing to a real registry from a real
// daemon is covered by test-e2e's ctr-ts-push-flags test.
import { describe, expect, it } from 'vitest';
import { type Descriptor, MediaType, checkedChildrenOf, sha256 } from './images.js';
import { planPush, runBounded, selectPlatformManifest } from './push.js';

/** A set of documents and blobs by digest, read as a content store would give them. */
class Blobs {
  readonly data = new Map<string, Buffer>();
  readonly reads: string[] = [];
  add(mediaType: string, body: Buffer | object, extra: Partial<Descriptor> = {}): Descriptor {
    const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const digest = sha256(data);
    this.data.set(digest, data);
    return { mediaType, digest, size: data.length, ...extra };
  }
  read = async (desc: Descriptor): Promise<Buffer> => {
    this.reads.push(desc.digest);
    const data = this.data.get(desc.digest);
    if (data === undefined) throw new Error(`content digest ${desc.digest}: not found`);
    return data;
  };
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const FOREIGN_OCI = 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip';
const FOREIGN_DOCKER = 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip';

/** An OCI index of amd64, s390x and arm64/v8 images; amd64 has a non-distributable layer and shares its base layer with s390x. */
function multiPlatform() {
  const b = new Blobs();
  const base = b.add(LAYER, Buffer.from('base layer'));
  const image = (arch: string, layers: Descriptor[]) => {
    const config = b.add(MediaType.ociConfig, { architecture: arch, os: 'linux' });
    const manifest = b.add(MediaType.ociManifest, { schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers });
    return { config, layers, manifest };
  };
  const foreign = b.add(FOREIGN_OCI, Buffer.from('windows base'), { urls: ['https://example.invalid/base.tgz'] });
  const amd64 = image('amd64', [base, foreign]);
  const s390x = image('s390x', [base, b.add(LAYER, Buffer.from('s390x layer'))]);
  const arm64 = image('arm64', [b.add(LAYER, Buffer.from('arm64 layer'))]);
  const entries = [
    { ...amd64.manifest, platform: { os: 'linux', architecture: 'amd64' } },
    { ...s390x.manifest, platform: { os: 'linux', architecture: 's390x' } },
    { ...arm64.manifest, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
  ];
  const index = b.add(MediaType.ociIndex, { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: entries });
  return { b, base, foreign, amd64, s390x, arm64, entries, index };
}

describe('selectPlatformManifest (ctr push --platform)', () => {
  it('picks the index entry of the platform, normalized as platforms.NewMatcher does', async () => {
    const { b, index, entries } = multiPlatform();
    expect(await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 's390x' })).toEqual(entries[1]);
    // arm64 and arm64/v8 are the same platform; aarch64 is arm64.
    expect(await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 'arm64' })).toEqual(entries[2]);
    expect(await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 'aarch64', variant: 'v8' })).toEqual(entries[2]);
  });

  it('keeps the whole index when no entry matches, and a manifest as it is', async () => {
    const { b, index, amd64 } = multiPlatform();
    expect(await selectPlatformManifest(b.read, index, { os: 'windows', architecture: 'amd64' })).toBe(index);
    expect(await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(index);
    expect(await selectPlatformManifest(b.read, amd64.manifest, { os: 'linux', architecture: 'amd64' })).toBe(amd64.manifest);
  });

  it('keeps the target when the index cannot be read, fails when the matching manifest is missing', async () => {
    const { b, index, s390x } = multiPlatform();
    b.data.delete(s390x.manifest.digest);
    await expect(selectPlatformManifest(b.read, index, { os: 'linux', architecture: 's390x' })).rejects.toThrow(
      `no matching manifest: content digest ${s390x.manifest.digest}: not found`,
    );
    b.data.delete(index.digest);
    expect(await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 's390x' })).toBe(index);
  });
});

describe('planPush', () => {
  it('pushes every platform of an index: each blob once, documents after what they name, the index last', async () => {
    const { b, index, base, foreign, amd64, s390x, arm64 } = multiPlatform();
    const plan = await planPush(b.read, index);
    expect(plan.root).toBe(index);
    expect(plan.blobs.map((d) => d.digest)).toEqual(
      [amd64.config, base, foreign, s390x.config, s390x.layers[1]!, arm64.config, arm64.layers[0]!].map((d) => d.digest),
    );
    expect(plan.manifests.map((m) => m.desc.digest)).toEqual([amd64.manifest, s390x.manifest, arm64.manifest, index].map((d) => d.digest));
    expect(plan.manifests.at(-1)!.data.equals(b.data.get(index.digest)!)).toBe(true);
    expect(plan.skipped).toEqual([]);
  });

  it('with a platform chosen, sends only that manifest and its blobs', async () => {
    const { b, index, s390x } = multiPlatform();
    const root = await selectPlatformManifest(b.read, index, { os: 'linux', architecture: 's390x' });
    const plan = await planPush(b.read, root);
    expect(plan.blobs.map((d) => d.digest)).toEqual([s390x.config, ...s390x.layers].map((d) => d.digest));
    expect(plan.manifests.map((m) => m.desc.digest)).toEqual([s390x.manifest.digest]);
  });

  it('leaves out non-distributable layers (OCI and Docker foreign) when asked, the manifest unchanged', async () => {
    const { b, index, foreign, amd64 } = multiPlatform();
    const plan = await planPush(b.read, index, { skipNonDistributable: true });
    expect(plan.skipped).toEqual([foreign]);
    expect(plan.blobs.map((d) => d.digest)).not.toContain(foreign.digest);
    expect(plan.manifests[0]!.data.equals(b.data.get(amd64.manifest.digest)!)).toBe(true);
    // A Docker foreign layer too; an ordinary layer is kept.
    const d = new Blobs();
    const config = d.add(MediaType.dockerConfig, { os: 'windows', architecture: 'amd64' });
    const layers = [d.add(FOREIGN_DOCKER, Buffer.from('f'), { urls: ['https://example.invalid/f'] }), d.add(MediaType.dockerLayerGzip, Buffer.from('l'))];
    const manifest = d.add(MediaType.dockerManifest, { schemaVersion: 2, mediaType: MediaType.dockerManifest, config, layers });
    const docker = await planPush(d.read, manifest, { skipNonDistributable: true });
    expect(docker.skipped.map((x) => x.digest)).toEqual([layers[0]!.digest]);
    expect(docker.blobs.map((x) => x.digest)).toEqual([config.digest, layers[1]!.digest]);
    expect((await planPush(d.read, manifest)).blobs).toHaveLength(3);
  });

  it('puts a manifest two indexes share before both', async () => {
    const { b, amd64, s390x } = multiPlatform();
    const inner = b.add(MediaType.ociIndex, { schemaVersion: 2, manifests: [amd64.manifest] });
    const outer = b.add(MediaType.ociIndex, { schemaVersion: 2, manifests: [inner, s390x.manifest, amd64.manifest] });
    const order = (await planPush(b.read, outer)).manifests.map((m) => m.desc.digest);
    expect(order).toEqual([amd64.manifest.digest, inner.digest, s390x.manifest.digest, outer.digest]);
  });

  it('fails as containerd when the media type given does not fit the document', async () => {
    const { b, index, amd64 } = multiPlatform();
    const asManifest = { ...index, mediaType: MediaType.ociManifest };
    await expect(planPush(b.read, asManifest)).rejects.toThrow(
      `children: invalid desc ${index.digest}: media-type: expected manifest but found index (${MediaType.ociManifest})`,
    );
    const asIndex = { ...amd64.manifest, mediaType: MediaType.dockerManifestList };
    await expect(planPush(b.read, asIndex)).rejects.toThrow(
      `children: invalid desc ${amd64.manifest.digest}: media-type: expected index but found manifest (${MediaType.dockerManifestList})`,
    );
    // A manifest of the other family is read as one (containerd assumes OCI for both).
    expect(checkedChildrenOf({ ...amd64.manifest, mediaType: MediaType.dockerManifest }, b.data.get(amd64.manifest.digest)!)).toHaveLength(3);
  });

  it('fails on a document that is not there', async () => {
    const { b, index, arm64 } = multiPlatform();
    b.data.delete(arm64.manifest.digest);
    await expect(planPush(b.read, index)).rejects.toThrow(`content digest ${arm64.manifest.digest}: not found`);
  });
});

describe('runBounded', () => {
  /** Runs 10 tasks of a few ms each; the most that ran at once, and the order they started. */
  async function observe(limit: number) {
    let running = 0;
    let most = 0;
    const started: number[] = [];
    await runBounded([...Array(10).keys()], limit, async (i) => {
      started.push(i);
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 5 + (i % 3) * 3));
      running--;
    });
    return { most, started };
  }

  it('runs at most `limit` tasks at once, in order', async () => {
    for (const limit of [1, 2, 3]) {
      const { most, started } = await observe(limit);
      expect(most, `limit ${limit}`).toBe(limit);
      expect(started).toEqual([...Array(10).keys()]);
    }
  });

  it('has no bound for 0 or less', async () => {
    expect((await observe(0)).most).toBe(10);
    expect((await observe(-1)).most).toBe(10);
  });

  it('starts nothing after a failure and throws it once the running tasks end', async () => {
    const started: number[] = [];
    let finished = 0;
    const run = runBounded([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      await new Promise((r) => setTimeout(r, i === 1 ? 1 : 20));
      if (i === 1) throw new Error('upload of 1 failed');
      finished++;
    });
    await expect(run).rejects.toThrow('upload of 1 failed');
    expect(started).toEqual([0, 1]);
    expect(finished).toBe(1);
  });
});
