// remotes.PushContent for one image: every blob the target reaches (children before their
// parents), blobs the repository has skipped, blobs of another repository of the same
// registry mounted from it, the root manifest or index put under the reference's tag.
import { Readable } from 'node:stream';
import type { CallContext, Connection } from './connection.js';
import { contentInfo, readContent, readContentStream } from './content.js';
import { type Descriptor, childrenOf, isIndexType, isManifestType } from './images.js';
import { hostname } from './reference.js';
import type { Registry } from './registry.js';

export type PushEvent =
  | { type: 'pushing'; desc: Descriptor }
  /** `exists`: the repository had it; `mounted`: taken from another repository of the registry. */
  | { type: 'pushed'; desc: Descriptor; how: 'exists' | 'mounted' | 'uploaded' };

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
      opts.onEvent?.({ type: 'pushed', desc, how: 'uploaded' });
      return;
    }
    // A blob pulled from another repository of this registry is mounted from there (the
    // distribution source label names it), as containerd's pusher does.
    const info = await contentInfo(conn, desc.digest, call);
    const from = (info.labels[`containerd.io/distribution.source.${hostname(registry.host)}`] ?? '').split(',')[0] ?? '';
    const how = await registry.pushBlob(desc, () => Readable.from(readContentStream(conn, desc.digest, call)), from);
    opts.onEvent?.({ type: 'pushed', desc, how });
  };
  await push(target, true);
}
