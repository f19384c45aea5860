// remotes.PushContent for one image: every blob the target reaches (children before their
// parents), blobs the registry has skipped, the root manifest or index put under the
// reference's tag.
import { Readable } from 'node:stream';
import { isAlreadyExists } from '@containerd-ts/errdefs';
import type { CallContext, Connection } from './connection.js';
import { readContent, readContentStream } from './content.js';
import { type Descriptor, childrenOf, isIndexType, isManifestType } from './images.js';
import type { Registry } from './registry.js';

export type PushEvent = { type: 'pushing'; desc: Descriptor } | { type: 'pushed'; desc: Descriptor; existed: boolean };

export interface PushOptions {
  call?: CallContext;
  onEvent?: (e: PushEvent) => void;
}

/** Pushes `target` and everything it refers to; the root goes under the reference's tag. */
export async function pushImage(conn: Connection, registry: Registry, target: Descriptor, opts: PushOptions = {}): Promise<void> {
  const call = opts.call ?? {};
  const tag = registry.spec.object.split('@')[0] ?? '';
  const pushed = new Set<string>();
  const push = async (desc: Descriptor, root: boolean): Promise<void> => {
    if (pushed.has(desc.digest)) return;
    pushed.add(desc.digest);
    const isManifest = isManifestType(desc.mediaType) || isIndexType(desc.mediaType);
    let data: Buffer | undefined;
    if (isManifest) {
      data = await readContent(conn, desc.digest, call);
      // Children first: a registry refuses a manifest whose blobs it lacks.
      await Promise.all(childrenOf(desc, data).map((c) => push(c, false)));
    }
    opts.onEvent?.({ type: 'pushing', desc });
    if (data !== undefined) {
      await registry.pushManifest(desc, data, root ? tag : '');
      opts.onEvent?.({ type: 'pushed', desc, existed: false });
      return;
    }
    try {
      await registry.pushBlob(desc, () => Readable.from(readContentStream(conn, desc.digest, call)));
      opts.onEvent?.({ type: 'pushed', desc, existed: false });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      opts.onEvent?.({ type: 'pushed', desc, existed: true });
    }
  };
  await push(target, true);
}
