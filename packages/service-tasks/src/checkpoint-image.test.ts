// The checkpoint image a Checkpoint without an image path writes (criu's files as a tar, the
// spec as a protobuf Any), into a real content store under the request's lease, and read
// back as a restore reads it. (criu itself does not run on the test host: the shim's part is
// covered by the e2e tests, which compare its error with containerd's.)
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Any as AnyCodec } from '@containerd-ts/api/types/any';
import { MediaType, applyLayer } from '@containerd-ts/archive';
import { readBlob } from '@containerd-ts/content';
import { type ServiceEnv, type ServiceEnvWithGC, createServiceEnv, manualGC } from '@containerd-ts/service-testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CHECKPOINT_CONFIG_MEDIA_TYPE, CHECKPOINT_MEDIA_TYPE, writeCheckpointImage } from './checkpoint-image.js';

describe('writeCheckpointImage', () => {
  let env: ServiceEnvWithGC;
  let work: string;
  beforeEach(async () => {
    env = await createServiceEnv({ name: 'service-tasks-checkpoint', gc: manualGC, services: () => [] });
    work = await mkdtemp(join(tmpdir(), 'ctd-checkpoint'));
  });
  afterEach(async () => {
    await env.cleanup();
    await rm(work, { recursive: true, force: true });
  });

  it("stores criu's files as a tar and the spec as an Any, under the request's lease, and a restore gets the same files back", async () => {
    // What runc checkpoint leaves: criu's images and its log.
    await writeFile(join(work, 'inventory.img'), Buffer.from([0x54, 0x2f, 0x00, 0x01, 0xff]));
    await writeFile(join(work, 'pages-1.img'), Buffer.alloc(3 * 4096, 7));
    await mkdir(join(work, 'sub'));
    await writeFile(join(work, 'sub', 'core-1.img'), 'core\n');
    const spec = { typeUrl: 'types.containerd.io/opencontainers/runtime-spec/1/Spec', value: Buffer.from('{"ociVersion":"1.0.2"}') };
    const lease = (await env.db.leases.create({ namespace: 'default' }, { id: 'ckpt-lease' })).id;
    const ctx = { namespace: 'default', lease };

    const [tar, config] = await writeCheckpointImage(env.db.contentStore(), ctx, work, spec);
    expect(tar).toMatchObject({ mediaType: CHECKPOINT_MEDIA_TYPE, annotations: {} });
    expect(config).toMatchObject({ mediaType: CHECKPOINT_CONFIG_MEDIA_TYPE, annotations: {} });

    // The tar holds every file of the directory, and only them.
    const tarBytes = await readBlob(env.db.contentStore(), ctx, tar!);
    expect(tarBytes.length).toBe(tar!.size);
    const names = execFileSync('tar', ['-tf', '-'], { input: tarBytes }).toString().trim().split('\n').sort();
    expect(names).toEqual(['inventory.img', 'pages-1.img', 'sub/', 'sub/core-1.img']);
    // A restore unpacks it as the tasks service does (criu's tar as a layer): the same bytes.
    const restored = join(env.dir, 'restored');
    await mkdir(restored);
    const store = env.db.contentStore();
    const reader = await store.readerAt(ctx, tar!);
    try {
      await applyLayer(restored, reader.stream(), { mediaType: MediaType.ociLayer, worker: false });
    } finally {
      await reader.close();
    }
    for (const f of ['inventory.img', 'pages-1.img', 'sub/core-1.img']) {
      expect((await readFile(join(restored, f))).equals(await readFile(join(work, f))), f).toBe(true);
    }

    // The config is the spec's Any, as containerd marshals it.
    const decoded = AnyCodec.decode(await readBlob(store, ctx, config!));
    expect(decoded.typeUrl).toBe(spec.typeUrl);
    expect(Buffer.from(decoded.value).toString()).toBe('{"ociVersion":"1.0.2"}');

    // Both blobs belong to the lease: a collection keeps them while it lives, and takes them after.
    const digests = () => listDigests(env);
    await env.scheduler.scheduleAndWait();
    expect(await digests()).toEqual(expect.arrayContaining([tar!.digest, config!.digest]));
    await env.db.leases.delete({ namespace: 'default' }, lease);
    await env.scheduler.scheduleAndWait();
    expect(await digests()).not.toContain(tar!.digest);
    expect(await digests()).not.toContain(config!.digest);
  });

  it('checkpointing the same spec again describes the blob the namespace has', async () => {
    await writeFile(join(work, 'inventory.img'), 'one');
    const spec = { typeUrl: 'x', value: Buffer.from('same') };
    const ctx = { namespace: 'default' };
    const first = await writeCheckpointImage(env.db.contentStore(), ctx, work, spec);
    await writeFile(join(work, 'inventory.img'), 'two');
    const second = await writeCheckpointImage(env.db.contentStore(), ctx, work, spec);
    expect(second[1]).toEqual(first[1]);
    expect(second[0]!.digest).not.toBe(first[0]!.digest);
  });
});

async function listDigests(env: ServiceEnv): Promise<string[]> {
  const out: string[] = [];
  await env.db.contentStore().walk({ namespace: 'default' }, (info) => {
    out.push(info.digest);
  });
  return out;
}
