// remotes.PushContent for one image: every blob the root reaches uploaded (blobs the
// repository has skipped, blobs of another repository of the same registry mounted from
// it), then the manifests and indexes, children before parents, the root under the
// reference's tag. With ctr's push flags: one platform of an index (--platform), layers
// that must not be redistributed left out, a bound on concurrent blob uploads.
import { Readable } from 'node:stream';
import { strictPlatformMatcher } from './archive-import.js';
import type { CallContext, Connection } from './connection.js';
import { contentInfo, readContent, readContentStream } from './content.js';
import { type Descriptor, checkedChildrenOf, isIndexType, isManifestType, isNonDistributable } from './images.js';
import type { Platform } from './platforms.js';
import { hostname } from './reference.js';
import type { Registry } from './registry.js';

export type PushEvent =
  | { type: 'pushing'; desc: Descriptor }
  /** `exists`: the repository had it; `mounted`: taken from another repository of the registry. */
  | { type: 'pushed'; desc: Descriptor; how: 'exists' | 'mounted' | 'uploaded' };

export interface PushOptions {
  call?: CallContext;
  onEvent?: (e: PushEvent) => void;
  /**
   * ctr's `--platform` (one value): when the target is an index or manifest list, its first
   * entry whose platform is this one (platforms.NewMatcher: the same normalized OS,
   * architecture and variant) is pushed instead of it, under the tag, with what it refers
   * to; the other entries are not pushed. When no entry matches, or the target is a
   * manifest, the target is pushed whole. An entry that matches but whose manifest is not
   * in the store fails with `no matching manifest: …`.
   */
  platform?: Platform;
  /**
   * Leave out layers with a non-distributable media type
   * (`application/vnd.oci.image.layer.nondistributable.*`,
   * `application/vnd.docker.image.rootfs.foreign.*`), as ctr does unless given
   * `--allow-non-distributable-blobs`; the manifests that name them are pushed unchanged
   * (a registry serves such a layer from the manifest's `urls`). Default: pushed, as
   * containerd's client.Push does.
   */
  skipNonDistributable?: boolean;
  /**
   * At most this many blobs (configs and layers) upload at once (ctr's
   * `--max-concurrent-uploaded-layers`, containerd's WithMaxConcurrentUploadedLayers).
   * 0 or less, the default: no bound. Manifests go one after the other once every blob is up.
   */
  maxConcurrentUploadedLayers?: number;
}

/** Reads a manifest or index out of a content store. */
export type ReadDescriptor = (desc: Descriptor) => Promise<Buffer>;

/**
 * ctr's `--platform` rule (see PushOptions.platform): the index entry to push instead of
 * `target`, or `target` itself. An index that cannot be read or parsed keeps `target`, as ctr.
 */
export async function selectPlatformManifest(read: ReadDescriptor, target: Descriptor, platform: Platform): Promise<Descriptor> {
  if (!isManifestType(target.mediaType) && !isIndexType(target.mediaType)) return target;
  let entries: Descriptor[];
  try {
    entries = checkedChildrenOf(target, await read(target));
  } catch {
    return target;
  }
  const matches = strictPlatformMatcher(platform);
  for (const entry of entries) {
    if (entry.platform === undefined || entry.platform === null || !matches(entry.platform)) continue;
    try {
      checkedChildrenOf(entry, await read(entry));
    } catch (err) {
      throw new Error(`no matching manifest: ${(err as Error).message}`, { cause: err });
    }
    return entry;
  }
  return target;
}

export interface PushPlan {
  /** What goes under the tag (pushed last). */
  root: Descriptor;
  /** Configs and layers to upload, each once, in the order the walk met them. */
  blobs: Descriptor[];
  /** Manifests and indexes with their bytes, each after everything it refers to; the root last. */
  manifests: Array<{ desc: Descriptor; data: Buffer }>;
  /** Non-distributable layers left out (skipNonDistributable). */
  skipped: Descriptor[];
}

/**
 * What pushing `root` sends: a walk of the manifests and indexes it reaches (each read and
 * checked against its media type, `children: invalid desc …` as containerd), every child
 * once. An unknown media type is a blob without children, as in containerd.
 */
export async function planPush(read: ReadDescriptor, root: Descriptor, opts: Pick<PushOptions, 'skipNonDistributable'> = {}): Promise<PushPlan> {
  const plan: PushPlan = { root, blobs: [], manifests: [], skipped: [] };
  const seen = new Set<string>();
  // Depth first, a document appended after its children: a registry refuses a manifest
  // whose blobs, or an index whose manifests, it lacks.
  const walk = async (desc: Descriptor): Promise<void> => {
    if (seen.has(desc.digest)) return;
    seen.add(desc.digest);
    if (opts.skipNonDistributable && isNonDistributable(desc.mediaType)) {
      plan.skipped.push(desc);
      return;
    }
    if (!isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) {
      plan.blobs.push(desc);
      return;
    }
    const data = await read(desc);
    for (const child of checkedChildrenOf(desc, data)) await walk(child);
    plan.manifests.push({ desc, data });
  };
  await walk(root);
  return plan;
}

/**
 * Runs `task` on every item, at most `limit` at a time (no bound when `limit` <= 0), in
 * the items' order. After a failure no new task starts; it is thrown once the running ones end.
 */
export async function runBounded<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const width = limit > 0 ? Math.min(limit, items.length) : items.length;
  let next = 0;
  let failure: { err: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await task(item);
      } catch (err) {
        failure ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  if (failure !== undefined) throw failure.err;
}

/**
 * The descriptor of a manifest or index of the content store named by digest and media
 * type (ctr's `--manifest` and `--manifest-type`), its size read from the store.
 */
export async function contentDescriptor(conn: Connection, digest: string, mediaType: string, call: CallContext = {}): Promise<Descriptor> {
  const info = await contentInfo(conn, digest, call);
  return { mediaType, digest, size: Number(info.size) };
}

/** Pushes `target` (or its platform's manifest) and everything it refers to; the root goes under the reference's tag. */
export async function pushImage(conn: Connection, registry: Registry, target: Descriptor, opts: PushOptions = {}): Promise<void> {
  const call = opts.call ?? {};
  const tag = registry.spec.object.split('@')[0] ?? '';
  const read: ReadDescriptor = (desc) => readContent(conn, desc.digest, call);
  const root = opts.platform === undefined ? target : await selectPlatformManifest(read, target, opts.platform);
  const plan = await planPush(read, root, opts);
  await runBounded(plan.blobs, opts.maxConcurrentUploadedLayers ?? 0, async (desc) => {
    opts.onEvent?.({ type: 'pushing', desc });
    // A blob pulled from another repository of this registry is mounted from there (the
    // distribution source label names it), as containerd's pusher does.
    const info = await contentInfo(conn, desc.digest, call);
    const from = (info.labels[`containerd.io/distribution.source.${hostname(registry.host)}`] ?? '').split(',')[0] ?? '';
    const how = await registry.pushBlob(desc, () => Readable.from(readContentStream(conn, desc.digest, call)), from);
    opts.onEvent?.({ type: 'pushed', desc, how });
  });
  for (const [i, { desc, data }] of plan.manifests.entries()) {
    opts.onEvent?.({ type: 'pushing', desc });
    await registry.pushManifest(desc, data, i === plan.manifests.length - 1 ? tag : '');
    opts.onEvent?.({ type: 'pushed', desc, how: 'uploaded' });
  }
}
