// The checkpoint image the tasks service writes when a Checkpoint names no image path, as
// containerd's tasks service does: criu's directory as a tar (every file, as a diff from
// nothing) and the container's spec (its Any, protobuf-encoded), each written into the
// namespaced content store under the request's lease and described to the client, which
// then makes the checkpoint index and image from them.
import { Any as AnyCodec } from '@containerd-ts/api/types/any';
import type { Any } from '@containerd-ts/api';
import type { Descriptor as ApiDescriptor } from '@containerd-ts/api/types/descriptor';
import { diffTar } from '@containerd-ts/archive';
import type { ContentStore } from '@containerd-ts/content';
import { isAlreadyExists } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';

/** images.MediaTypeContainerd1Checkpoint: criu's files as a tar. */
export const CHECKPOINT_MEDIA_TYPE = 'application/vnd.containerd.container.criu.checkpoint.criu.tar';
/** images.MediaTypeContainerd1CheckpointConfig: the container's spec, a protobuf Any. */
export const CHECKPOINT_CONFIG_MEDIA_TYPE = 'application/vnd.containerd.container.checkpoint.config.v1+proto';

/**
 * containerd's writeContent: `data` written under `ref` and committed. A blob the
 * namespace has already (the same spec checkpointed again) is described as it is.
 */
async function writeContent(
  store: Pick<ContentStore, 'writer' | 'abort'>,
  ctx: RequestContext,
  mediaType: string,
  ref: string,
  data: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): Promise<ApiDescriptor> {
  const writer = await store.writer(ctx, { ref });
  let committed = false;
  try {
    let size = 0;
    for await (const chunk of data) {
      await writer.write(chunk);
      size += chunk.length;
    }
    const digest = writer.digest();
    try {
      await writer.commit(0, '');
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    committed = true;
    return { mediaType, digest, size, annotations: {} };
  } finally {
    await writer.close().catch(() => {});
    if (!committed) await store.abort(ctx, ref).catch(() => {});
  }
}

/** Writes criu's directory `dir` and the container's `spec` into the content store; their descriptors, in containerd's order. */
export async function writeCheckpointImage(
  store: Pick<ContentStore, 'writer' | 'abort'>,
  ctx: RequestContext,
  dir: string,
  spec: Any | undefined,
): Promise<ApiDescriptor[]> {
  const tar = await writeContent(store, ctx, CHECKPOINT_MEDIA_TYPE, dir, diffTar('', dir, ctx.signal ? { signal: ctx.signal } : {}));
  const specBytes = AnyCodec.encode(AnyCodec.fromPartial({ typeUrl: spec?.typeUrl ?? '', value: spec?.value ?? Buffer.alloc(0) })).finish();
  const config = await writeContent(store, ctx, CHECKPOINT_CONFIG_MEDIA_TYPE, `${dir}/spec`, [specBytes]);
  return [tar, config];
}
