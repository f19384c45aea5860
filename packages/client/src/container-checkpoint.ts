// container.Checkpoint and Client.Restore as containerd's client runs them (`ctr containers
// checkpoint` / `ctr containers restore`). A container checkpoint is an OCI index, stored as
// an image under the caller's reference, whose annotations name the container's image,
// runtime and snapshotter and whose entries are what the options asked for: the runtime
// options (always, when the container has any), the image's target (`image`), the diff of the
// writable snapshot (`rw`) and the task's criu checkpoint with the spec (`task`, through the
// daemon). Restoring recreates the container from it: a snapshot of the image's rootfs, the
// checkpointed spec and runtime, the rw diff applied (`rw`), and a task created — from the
// criu checkpoint with `live` — and started.
import { Readable } from 'node:stream';
import { Any } from '@containerd-ts/api/types/any';
import { type Container, ContainersService } from '@containerd-ts/api/services/containers';
import { DiffService } from '@containerd-ts/api/services/diff';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { isAlreadyExists, isNotFound, notFound } from '@containerd-ts/errdefs';
import { runcCheckpointOptionsAny } from './checkpoint.js';
import { createDiff } from './diff.js';
import type { StdioPaths } from './cio.js';
import type { CallContext, Connection } from './connection.js';
import { getContainer, imageConfig } from './container.js';
import { readContent, writeBlob } from './content.js';
import { marshalIndex } from './go-json.js';
import { type Descriptor, MediaType, chainId, sha256 } from './images.js';

const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
import { withLease } from './lease.js';
import { type Platform, defaultPlatform, goArch } from './platforms.js';
import { Task } from './task.js';

/** Index annotations of a container checkpoint (container.go). */
export const CHECKPOINT_IMAGE_NAME_LABEL = 'org.opencontainers.image.ref.name';
export const CHECKPOINT_RUNTIME_NAME_LABEL = 'io.containerd.checkpoint.runtime';
export const CHECKPOINT_SNAPSHOTTER_NAME_LABEL = 'io.containerd.checkpoint.snapshotter';

/** containerd's checkpoint media types (images/mediatypes.go). */
export const CheckpointMediaType = {
  criu: 'application/vnd.containerd.container.criu.checkpoint.criu.tar',
  config: 'application/vnd.containerd.container.checkpoint.config.v1+proto',
  options: 'application/vnd.containerd.container.checkpoint.options.v1+proto',
  runtimeOptions: 'application/vnd.containerd.container.checkpoint.runtime.options+proto',
} as const;

export interface ContainerCheckpointOptions {
  /** Include the container image's target (WithCheckpointImage). */
  image?: boolean;
  /** Include the diff of the writable snapshot (WithCheckpointRW). */
  rw?: boolean;
  /** Checkpoint the task through the runtime (criu) and store the spec (WithCheckpointTask). */
  task?: boolean;
  /** Pause a running task for the duration and resume it after, as ctr does (default true). */
  pause?: boolean;
}

const osArchPlatform = (): Platform => ({ os: 'linux', architecture: goArch() });

/** writeContent of containerd's client: the blob under `ref`, an existing one is fine. */
async function writeContent(conn: Connection, mediaType: string, ref: string, data: Buffer, ctx: CallContext, labels: Record<string, string> = {}): Promise<Descriptor> {
  const digest = sha256(data);
  await writeBlob(conn, async () => Readable.from([data]), { ref, expected: digest, size: data.length, labels }, ctx).catch((err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  });
  return { mediaType, digest, size: data.length };
}

/** gogo proto Marshal of a types.Any (type_url = 1, value = 2). */
function marshalAny(a: { typeUrl: string; value: Uint8Array }): Buffer {
  return Buffer.from(Any.encode(Any.fromPartial({ typeUrl: a.typeUrl, value: a.value })).finish());
}

/**
 * Checkpoints container `id` into an image named `ref` (`ctr containers checkpoint`).
 * Resolves to the image record. The task, when there is one, is paused for the duration.
 * Errors are containerd's: a missing container, image or (with `task`) the runtime's
 * checkpoint failure; nothing is left behind on failure (the blobs are under a lease).
 */
export async function checkpointContainer(conn: Connection, id: string, ref: string, opts: ContainerCheckpointOptions = {}, ctx: CallContext = {}): Promise<Image> {
  const c = await getContainer(conn, id, ctx);
  let paused = false;
  if (opts.pause ?? true) {
    const exists = await conn.unary(TasksService.get, { containerId: id, execId: '' }, ctx).then(
      () => true,
      (err: unknown) => {
        if (isNotFound(err)) return false;
        throw err;
      },
    );
    if (exists) {
      await conn.unary(TasksService.pause, { containerId: id }, ctx);
      paused = true;
    }
  }
  try {
    if (!c.image) throw notFound('container not created from an image');
    const { image: img } = await conn.unary(ImagesService.get, { name: c.image }, ctx).catch((err: unknown) => {
      throw Object.assign(new Error(`failed to get image ${c.image} for container: ${(err as Error).message}`), { cause: err });
    });
    return await withLease(conn, ctx, async (ctx) => {
      const manifests: Descriptor[] = [];
      const annotations: Record<string, string> = {
        [CHECKPOINT_IMAGE_NAME_LABEL]: img?.name ?? c.image,
        [CHECKPOINT_RUNTIME_NAME_LABEL]: c.runtime?.name ?? '',
        [CHECKPOINT_SNAPSHOTTER_NAME_LABEL]: c.snapshotter,
      };
      const step = async (f: () => Promise<void>) => {
        try {
          await f();
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
        }
      };
      // WithCheckpointRuntime
      await step(async () => {
        const o = c.runtime?.options;
        if (!o) return;
        const d = await writeContent(conn, CheckpointMediaType.runtimeOptions, `${id}-runtime-options`, marshalAny(o), ctx);
        manifests.push({ ...d, platform: osArchPlatform() });
      });
      if (opts.image) {
        await step(async () => {
          const { image } = await conn.unary(ImagesService.get, { name: c.image }, ctx);
          const t = image?.target;
          manifests.push({ mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: t?.size ?? 0, annotations: t?.annotations });
        });
      }
      if (opts.rw) {
        await step(async () => {
          manifests.push({ ...(await createDiff(conn, c.snapshotter, c.snapshotKey, { ref: `checkpoint-rw-${c.snapshotKey}` }, ctx)), platform: osArchPlatform() });
        });
      }
      if (opts.task) {
        await step(async () => {
          // container.Checkpoint's options: file locks kept, everything else at its zero value
          const options = runcCheckpointOptionsAny({ fileLocks: true });
          const res = await conn.unary(TasksService.checkpoint, { containerId: id, parentCheckpoint: '', options }, ctx);
          for (const d of res.descriptors) {
            manifests.push({ mediaType: d.mediaType, digest: d.digest, size: d.size, platform: defaultPlatform(), annotations: d.annotations });
          }
          const d = await writeContent(conn, CheckpointMediaType.options, `${id}-checkpoint-options`, marshalAny(options), ctx);
          manifests.push({ ...d, platform: osArchPlatform() });
        });
      }
      // writeIndex: json.Marshal of the index, a GC reference label per entry.
      const data = Buffer.from(marshalIndex({ schemaVersion: 2, manifests, annotations } as Parameters<typeof marshalIndex>[0]));
      const labels = Object.fromEntries(manifests.map((m, i) => [`containerd.io/gc.ref.content.${i}`, m.digest]));
      const desc = await writeContent(conn, MediaType.ociIndex, `${id}index`, data, ctx, labels);
      const record: Image = { name: ref, labels: {}, target: { ...desc, annotations: {} }, createdAt: undefined, updatedAt: undefined };
      return (await conn.unary(ImagesService.create, { image: record }, ctx)).image ?? record;
    });
  } finally {
    if (paused) await conn.unary(TasksService.resume, { containerId: id }, ctx).catch(() => {});
  }
}

interface CheckpointIndex {
  manifests?: Array<Descriptor & { platform?: Platform }>;
  annotations?: Record<string, string>;
}

export interface ContainerRestoreOptions {
  /** Apply the checkpoint's rw layer to the new snapshot (WithRestoreRW). */
  rw?: boolean;
  /** Create the task from the checkpoint's criu image (WithTaskCheckpoint). */
  live?: boolean;
  /** The platform whose rootfs the snapshot is prepared from (default: this host's). */
  platform?: Platform;
}

const byMediaType = (index: CheckpointIndex, mt: string) => {
  const d = (index.manifests ?? []).find((m) => m.mediaType === mt);
  if (!d) throw new Error('media type not found');
  return d;
};

/**
 * Client.Restore with ctr's options (WithRestoreImage, WithRestoreSpec, WithRestoreRuntime
 * and, with `rw`, WithRestoreRW): creates container `id` from the checkpoint image `ref`
 * (which must exist in the namespace). Resolves to the container record.
 */
export async function restoreContainer(conn: Connection, id: string, ref: string, opts: ContainerRestoreOptions = {}, ctx: CallContext = {}): Promise<Container> {
  const { image: checkpoint } = await conn.unary(ImagesService.get, { name: ref }, ctx);
  const target = checkpoint?.target;
  const index = JSON.parse((await readContent(conn, target?.digest ?? '', ctx)).toString()) as CheckpointIndex;
  return withLease(conn, ctx, async (ctx) => {
    const annotations = index.annotations ?? {};
    // WithRestoreImage
    const name = annotations[CHECKPOINT_IMAGE_NAME_LABEL];
    if (!name) throw new Error('image name not found in index');
    if (!(CHECKPOINT_SNAPSHOTTER_NAME_LABEL in annotations)) throw new Error('snapshotter not found in index');
    const snapshotter = annotations[CHECKPOINT_SNAPSHOTTER_NAME_LABEL] ?? '';
    const { image } = await conn.unary(ImagesService.get, { name }, ctx);
    const t = image?.target;
    const cfg = await imageConfig(conn, { mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: t?.size ?? 0 }, opts.platform ?? defaultPlatform(), ctx);
    await conn.unary(SnapshotsService.prepare, { snapshotter, key: id, parent: chainId(cfg.diffIds), labels: {} }, ctx);
    // WithRestoreSpec
    const specDesc = byMediaType(index, CheckpointMediaType.config);
    const specData = await readContent(conn, specDesc.digest, ctx).catch((err: unknown) => {
      throw new Error(`unable to read checkpoint config: ${(err as Error).message}`);
    });
    const spec = Any.decode(specData);
    // WithRestoreRuntime
    if (!(CHECKPOINT_RUNTIME_NAME_LABEL in annotations)) throw new Error('runtime not found in index');
    const runtimeName = annotations[CHECKPOINT_RUNTIME_NAME_LABEL] ?? '';
    const optsDesc = (index.manifests ?? []).find((m) => m.mediaType === CheckpointMediaType.runtimeOptions);
    let runtimeOptions = Any.fromPartial({});
    if (optsDesc) {
      const data = await readContent(conn, optsDesc.digest, ctx).catch((err: unknown) => {
        throw new Error(`unable to read checkpoint runtime: ${(err as Error).message}`);
      });
      runtimeOptions = Any.decode(data);
    }
    // WithRestoreRW
    if (opts.rw) {
      const rw = byMediaType(index, OCI_LAYER_GZIP);
      const { mounts } = await conn.unary(SnapshotsService.mounts, { snapshotter, key: id }, ctx);
      await conn.unary(DiffService.apply, { diff: { mediaType: rw.mediaType, digest: rw.digest, size: rw.size, annotations: rw.annotations ?? {} }, mounts, payloads: {} }, ctx);
    }
    const container: Container = {
      id,
      labels: {},
      image: image?.name ?? name,
      runtime: { name: runtimeName, options: runtimeOptions },
      spec,
      snapshotter,
      snapshotKey: id,
      createdAt: undefined,
      updatedAt: undefined,
      extensions: {},
    };
    return (await conn.unary(ContainersService.create, { container }, ctx)).container ?? container;
  });
}

/**
 * The task of a restored container (`ctr containers restore`'s NewTask and Start): with
 * `live`, created from the checkpoint image's criu entry (`checkpoint not found in index`
 * when it has none). Resolves to the started task.
 */
export async function startRestoredTask(conn: Connection, id: string, ref: string, io: StdioPaths, opts: { live?: boolean } = {}, ctx: CallContext = {}): Promise<Task> {
  let checkpoint: Descriptor | undefined;
  if (opts.live) {
    const { image } = await conn.unary(ImagesService.get, { name: ref }, ctx);
    const digest = image?.target?.digest ?? '';
    const index = JSON.parse((await readContent(conn, digest, ctx)).toString()) as CheckpointIndex;
    checkpoint = (index.manifests ?? []).find((m) => m.mediaType === CheckpointMediaType.criu);
    if (!checkpoint) throw new Error(`checkpoint not found in index ${digest}`);
  }
  const task = await Task.create(conn, id, io, ctx, undefined, checkpoint);
  await task.start();
  return task;
}
