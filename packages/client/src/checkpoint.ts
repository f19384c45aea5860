// task.Checkpoint as containerd's client runs it (`ctr tasks checkpoint`): under a lease,
// the runtime's checkpoint options, the task paused for the duration (unless it already
// was), the daemon's Checkpoint (criu through the shim), then — unless the images went to
// an `imagePath` — an OCI index of the checkpoint's blobs, the container's image and the
// diff of its writable snapshot, stored as an image labelled `containerd.io/checkpoint`.
import { Readable } from 'node:stream';
import type { Any } from '@containerd-ts/api';
import { CheckpointOptions as RuncCheckpointOptions } from '@containerd-ts/api/runtime/runc-options';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { TasksService } from '@containerd-ts/api/services/tasks';
import type { CallContext, Connection } from './connection.js';
import { getContainer } from './container.js';
import { writeBlob } from './content.js';
import { createDiff } from './diff.js';
import { marshalIndex } from './go-json.js';
import { type Descriptor, MediaType, sha256 } from './images.js';
import { withLease } from './lease.js';
import { goArch } from './platforms.js';
import { Task } from './task.js';

export interface CheckpointOptions {
  /** Stop the container after the checkpoint. */
  exit?: boolean;
  /** Where criu writes its images (then no checkpoint image is made). */
  imagePath?: string;
  /** Where criu writes its work files and logs. */
  workPath?: string;
  /** The checkpoint image's name (default `containerd.io/checkpoint/<id>:<date>`). */
  name?: string;
}

const RUNC_RUNTIMES = ['io.containerd.runc.v1', 'io.containerd.runc.v2'];

/** `01-02-2006-15:04:05` in local time (checkpointDateFormat). */
function checkpointDate(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getMonth() + 1)}-${p(d.getDate())}-${d.getFullYear()}-${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The checkpoint options Any of a runc runtime (containerd.runc.v1.CheckpointOptions). */
export function checkpointOptionsAny(runtime: string, opts: CheckpointOptions): Any | undefined {
  if (!RUNC_RUNTIMES.includes(runtime)) return undefined;
  return runcCheckpointOptionsAny({ exit: opts.exit ?? false, imagePath: opts.imagePath ?? '', workPath: opts.workPath ?? '' });
}

/** A containerd.runc.v1.CheckpointOptions as an Any (fields not given keep their zero values). */
export function runcCheckpointOptionsAny(fields: Partial<RuncCheckpointOptions>): Any {
  const msg = RuncCheckpointOptions.fromPartial(fields);
  return { typeUrl: 'containerd.runc.v1.CheckpointOptions', value: Buffer.from(RuncCheckpointOptions.encode(msg).finish()) };
}

/**
 * Checkpoints the task of container `id`. Resolves to the checkpoint image record, or
 * undefined when the images went to `opts.imagePath`. Errors are the daemon's (with criu
 * missing: the shim's `criu` failure).
 */
export async function checkpointTask(conn: Connection, id: string, opts: CheckpointOptions = {}, ctx: CallContext = {}): Promise<Image | undefined> {
  return withLease(conn, ctx, async (ctx) => {
    const c = await getContainer(conn, id, ctx);
    const runtime = c.runtime?.name ?? '';
    const options = checkpointOptionsAny(runtime, opts);
    const name = opts.name ?? `containerd.io/checkpoint/${id}:${checkpointDate()}`;
    const task = await Task.load(conn, id, ctx);
    const { status } = await task.status();
    const pause = status !== 'paused';
    if (pause) await task.pause();
    try {
      const res = await conn.unary(TasksService.checkpoint, { containerId: id, parentCheckpoint: '', options }, ctx);
      if (options && opts.imagePath) return undefined;
      const platform = { os: 'linux', architecture: goArch() };
      const manifests: Descriptor[] = res.descriptors.map((d) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, platform, annotations: d.annotations }));
      const annotations: Record<string, string> = {};
      if (c.image) {
        const { image } = await conn.unary(ImagesService.get, { name: c.image }, ctx);
        const t = image?.target;
        manifests.push({ mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: t?.size ?? 0, annotations: t?.annotations });
        annotations['image.name'] = c.image;
      }
      if (c.snapshotKey) manifests.push({ ...(await createDiff(conn, c.snapshotter, c.snapshotKey, { ref: `checkpoint-rw-${c.snapshotKey}` }, ctx)), platform });
      // writeIndex: json.Encoder's line (v1.Index has no media type here) and a GC label per entry.
      const data = Buffer.from(`${marshalIndex({ schemaVersion: 2, manifests, annotations } as Parameters<typeof marshalIndex>[0])}\n`);
      const digest = sha256(data);
      const labels = Object.fromEntries(manifests.map((m, i) => [`containerd.io/gc.ref.content.${i}`, m.digest]));
      await writeBlob(conn, async () => Readable.from([data]), { ref: id, expected: digest, size: data.length, labels }, ctx);
      const record: Image = {
        name,
        labels: { 'containerd.io/checkpoint': 'true' },
        target: { mediaType: MediaType.ociIndex, digest, size: data.length, annotations: {} },
        createdAt: undefined,
        updatedAt: undefined,
      };
      return (await conn.unary(ImagesService.create, { image: record }, ctx)).image ?? record;
    } finally {
      if (pause) await task.resume().catch(() => {});
    }
  });
}

