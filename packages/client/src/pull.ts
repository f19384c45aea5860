// Pull as containerd's client does it for ctr: resolve the reference, fetch the manifest
// (or index, narrowed to the wanted platform), its config and layers into the daemon's
// content store with the labels containerd sets (`containerd.io/distribution.source.*`,
// `containerd.io/gc.ref.content.*`), create or update the image record, then unpack the
// layers into a snapshotter through the Diff and Snapshots services (chain-ID keys,
// `containerd.io/uncompressed` on layers, `containerd.io/gc.ref.snapshot.<sn>` on the
// config), all under one lease.
import { DiffService } from '@containerd-ts/api/services/diff';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import type { Mount } from '@containerd-ts/api/types/mount';
import { isAlreadyExists, isNotFound, notFound } from '@containerd-ts/errdefs';
import type { CallContext, Connection } from './connection.js';
import { contentInfo, readContent, updateContentLabels, writeBlob } from './content.js';
import {
  type Descriptor,
  type ImageConfig,
  type Manifest,
  appendDistributionSource,
  chainId,
  childrenLabels,
  childrenOf,
  MediaType,
  isIndexType,
  isManifestType,
  makeRefKey as refKey,
} from './images.js';
import { uniquePart, withLease } from './lease.js';
import { type Platform, defaultPlatform, matchPlatform, normalizePlatform } from './platforms.js';
import { hostname } from './reference.js';
import { Registry, type RegistryOptions } from './registry.js';

export type PullEvent =
  | { type: 'resolved'; name: string; target: Descriptor }
  /** A descriptor the pull will fetch (or find in the store). */
  | { type: 'job'; desc: Descriptor }
  | { type: 'progress'; desc: Descriptor; offset: number }
  /** Fetched (`existed` false) or found in the store already (`existed` true). */
  | { type: 'fetched'; desc: Descriptor; existed: boolean }
  /** The fetch is complete and the image record exists. */
  | { type: 'created'; image: ImageRecord }
  /** A layer is being applied (it and the layers below it are stored). */
  | { type: 'unpacking'; layer: Descriptor; chainId: string }
  | { type: 'unpacked'; layer: Descriptor; chainId: string; applied: boolean };

export interface FetchOptions {
  plainHttp?: boolean;
  /** Hosts directory, credentials and TLS for the registry (see RegistryOptions). */
  registry?: Omit<RegistryOptions, 'plainHttp' | 'signal'>;
  /** The platform to fetch (default: this host's). */
  platform?: Platform;
  /** Labels of the image record. */
  labels?: Record<string, string>;
  /** Fetch every platform's manifest, config and layers (ctr's --all-platforms). */
  allPlatforms?: boolean;
  /**
   * Fetch every platform's manifest and config, but layers only for `platform` (ctr's
   * --all-metadata: remotes.FilterManifestByPlatformHandler, no limit on the manifests).
   */
  allMetadata?: boolean;
  /**
   * client.Fetch's matcher (ctr's `content fetch`): children whose platform is any of these,
   * compared exactly, and every matching manifest of an index (no limit to the best one).
   * An empty list matches no platform (ctr's --metadata-only). Supersedes `platform`.
   */
  anyOf?: Platform[];
  /** Concurrent blob downloads (0: unbounded, as ctr's default). */
  maxConcurrentDownloads?: number;
  onEvent?: (e: PullEvent) => void;
}

export interface UnpackOptions {
  snapshotter?: string;
  platform?: Platform;
  onEvent?: (e: PullEvent) => void;
  /** Resolves once a blob is in the store (a pipelined pull unpacks while it fetches). */
  waitFor?: (digest: string) => Promise<void>;
}

export interface ImageRecord {
  name: string;
  target: Descriptor;
  labels: Record<string, string>;
}

/** A small semaphore for bounded concurrency. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.max > 0 && this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await f();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Bytes of a blob stored before the next blob of its manifest starts downloading. A layer
 * smaller than this downloads alone (it arrives sooner and its unpack, the pull's critical
 * path, starts sooner); larger ones share the bandwidth with the next once they have it.
 */
export const HEAD_START = 8 << 20;

/** The descriptor as the API's Descriptor message. */
const apiDescriptor = (d: Descriptor) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations: d.annotations ?? {} });

/**
 * client.Fetch: resolves `ref`, fetches what the wanted platform needs into the content
 * store, and creates (or updates) the image record. Runs under `ctx.lease` if it has one.
 */
export async function fetchImage(conn: Connection, ref: string, opts: FetchOptions = {}, ctx: CallContext = {}): Promise<ImageRecord> {
  let registry: Registry;
  let target: Descriptor;
  try {
    registry = new Registry(ref, { ...opts.registry, plainHttp: opts.plainHttp, signal: ctx.signal });
    target = await registry.resolve();
  } catch (err) {
    throw new Error(`failed to resolve reference ${JSON.stringify(ref)}: ${(err as Error).message}`, { cause: err });
  }
  const name = ref;
  opts.onEvent?.({ type: 'resolved', name, target });
  const platform = opts.platform ?? defaultPlatform();
  const anyOf = opts.anyOf?.map(normalizePlatform);
  /** Whether a descriptor's platform is wanted: platforms.Any's exact match, or platforms.Only's. */
  const wanted = (p: Platform): boolean => {
    if (!anyOf) return matchPlatform(platform, p);
    const n = normalizePlatform(p);
    return anyOf.some((a) => a.os === n.os && a.architecture === n.architecture && (a.variant ?? '') === (n.variant ?? ''));
  };
  const limiter = new Limiter(opts.maxConcurrentDownloads ?? 0);
  const sourceKey = `containerd.io/distribution.source.${hostname(registry.host)}`;
  const repo = registry.repository;

  // A blob two parents share (one config for two manifests) is fetched once.
  const handling = new Map<string, Promise<void>>();
  /** Per blob: resolves once it has HEAD_START bytes stored, or has ended (fetched, found, failed). */
  const headStarts = new Map<string, { promise: Promise<void>; release: () => void }>();
  const headStartOf = (digest: string) => {
    let h = headStarts.get(digest);
    if (!h) {
      let release!: () => void;
      const promise = new Promise<void>((r) => (release = r));
      h = { promise, release };
      headStarts.set(digest, h);
    }
    return h;
  };
  const handle = (desc: Descriptor, after?: Promise<void>): Promise<void> => {
    let p = handling.get(desc.digest);
    if (!p) {
      p = handleOnce(desc, after);
      handling.set(desc.digest, p);
    }
    return p;
  };
  const handleOnce = async (desc: Descriptor, after?: Promise<void>): Promise<void> => {
    opts.onEvent?.({ type: 'job', desc });
    const headStart = headStartOf(desc.digest);
    let wrote: boolean;
    try {
      // A blob waits for the head start of the one before it in its manifest (see HEAD_START).
      await after;
      // remotes.FetchHandler: fetch unless the store has it.
      wrote = await limiter.run(() =>
        writeBlob(
          conn,
          (offset) => registry.fetch(desc, offset),
          {
            ref: refKey(desc),
            expected: desc.digest,
            size: desc.size,
            onProgress: (offset) => {
              if (offset >= HEAD_START) headStart.release();
              opts.onEvent?.({ type: 'progress', desc, offset });
            },
          },
          ctx,
        ),
      );
    } finally {
      headStart.release();
    }
    opts.onEvent?.({ type: 'fetched', desc, existed: !wrote });
    // images.ChildrenHandler, filtered to the platform, with the children's GC labels.
    const all = isManifestType(desc.mediaType) || isIndexType(desc.mediaType) ? childrenOf(desc, await readContent(conn, desc.digest, ctx)) : [];
    let children = all;
    let noMatch = false;
    if (opts.allMetadata && !opts.allPlatforms) {
      // A manifest the index gives another platform: its config only.
      if (isManifestType(desc.mediaType) && desc.platform && !wanted({ ...desc.platform, os: desc.platform.os ?? '' })) {
        children = children.filter((c) => c.mediaType === MediaType.dockerConfig || c.mediaType === MediaType.ociConfig);
      }
    } else if (!opts.allPlatforms) children = children.filter((c) => c.platform === undefined || wanted({ ...c.platform, os: c.platform.os ?? '' }));
    if (isIndexType(desc.mediaType) && !opts.allPlatforms && !opts.allMetadata && !anyOf) {
      // images.LimitManifests(…, 1): the best-matching manifest only.
      const manifests = children.filter((c) => isManifestType(c.mediaType) || isIndexType(c.mediaType));
      children = children.filter((c) => !manifests.includes(c) || c === manifests[0]);
      noMatch = manifests.length === 0 && children.length === 0;
    }
    // The blob's labels are set while its children download (all under the pull's lease, so
    // nothing is collected meanwhile): the same labels in the end, a few round trips sooner.
    const labelling = (async () => {
      // containerd labels every child (SetChildrenMappedLabels runs inside FilterPlatforms).
      if (all.length > 0) await updateContentLabels(conn, desc.digest, childrenLabels(all), ctx);
      if (noMatch) return;
      // docker.AppendDistributionSourceLabel.
      const info = await contentInfo(conn, desc.digest, ctx);
      await updateContentLabels(conn, desc.digest, { [sourceKey]: appendDistributionSource(info.labels[sourceKey] ?? '', repo) }, ctx);
    })();
    if (noMatch) {
      await labelling;
      throw new Error(`no match for platform in manifest ${desc.digest}: not found`);
    }
    // Manifests and indexes are handled at once; a manifest's config and layers each start
    // once the one before has its head start, so the bottom layer, which the unpack needs
    // first, does not share the bandwidth with the ones above it from its first byte.
    let previous: Descriptor | undefined;
    const handled = children.map((c) => {
      if (isManifestType(c.mediaType) || isIndexType(c.mediaType)) return handle(c);
      const after = previous ? headStartOf(previous.digest).promise : undefined;
      previous = c;
      return handle(c, after);
    });
    await Promise.all([labelling, ...handled]);
  };
  await handle(target);

  const image: Image = { name, labels: opts.labels ?? {}, target: apiDescriptor(target), createdAt: undefined, updatedAt: undefined };
  try {
    await conn.unary(ImagesService.create, { image }, ctx);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    await conn.unary(ImagesService.update, { image, updateMask: undefined }, ctx);
  }
  const record = { name, target, labels: opts.labels ?? {} };
  opts.onEvent?.({ type: 'created', image: record });
  return record;
}

/** The manifest of `platform` under `target` (an index is narrowed to it), read from the store. */
export async function resolveManifest(
  conn: Connection,
  target: Descriptor,
  platform: Platform,
  ctx: CallContext = {},
  waitFor: (digest: string) => Promise<void> = async () => {},
): Promise<{ desc: Descriptor; manifest: Manifest }> {
  await waitFor(target.digest);
  if (isManifestType(target.mediaType)) {
    return { desc: target, manifest: JSON.parse((await readContent(conn, target.digest, ctx)).toString()) as Manifest };
  }
  if (isIndexType(target.mediaType)) {
    const children = childrenOf(target, await readContent(conn, target.digest, ctx));
    for (const child of children) {
      if (child.platform !== undefined && !matchPlatform(platform, child.platform)) continue;
      if (!isManifestType(child.mediaType) && !isIndexType(child.mediaType)) continue;
      try {
        return await resolveManifest(conn, child, platform, ctx, waitFor);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    throw new Error(`manifest ${target.digest}: not found`);
  }
  throw new Error(`unexpected media type ${target.mediaType} for ${target.digest}: not found`);
}


/**
 * Image.Unpack: applies each layer of the platform's manifest on top of the previous ones
 * in `snapshotter` (committed under its chain ID; layers whose chain ID exists are
 * skipped), then labels the config with the top snapshot. Returns the chain ID.
 */
export async function unpackImage(conn: Connection, target: Descriptor, opts: UnpackOptions = {}, ctx: CallContext = {}): Promise<string> {
  return withLease(conn, ctx, async (ctx) => {
    const snapshotter = opts.snapshotter || 'overlayfs';
    const waitFor = opts.waitFor ?? (async () => {});
    const { manifest } = await resolveManifest(conn, target, opts.platform ?? defaultPlatform(), ctx, waitFor);
    await waitFor(manifest.config.digest);
    const config = JSON.parse((await readContent(conn, manifest.config.digest, ctx)).toString()) as ImageConfig;
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length) throw new Error('mismatched image rootfs and manifest layers');
    const chain: string[] = [];
    for (const [i, layer] of manifest.layers.entries()) {
      const diffId = diffIds[i]!;
      const parent = chainId(chain);
      const id = chainId([...chain, diffId]);
      let applied = false;
      await waitFor(layer.digest);
      opts.onEvent?.({ type: 'unpacking', layer, chainId: id });
      try {
        await conn.unary(SnapshotsService.stat, { snapshotter, key: id }, ctx);
      } catch (err) {
        if (!isNotFound(err)) throw new Error(`failed to stat snapshot ${id}: ${(err as Error).message}`, { cause: err });
        applied = await applyLayer(conn, snapshotter, layer, diffId, parent, id, ctx);
      }
      if (applied) await updateContentLabels(conn, layer.digest, { 'containerd.io/uncompressed': diffId }, ctx);
      opts.onEvent?.({ type: 'unpacked', layer, chainId: id, applied });
      chain.push(diffId);
    }
    const top = chainId(chain);
    await updateContentLabels(conn, manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${snapshotter}`]: top }, ctx);
    return top;
  });
}

/** rootfs.applyLayers for one layer: prepare, apply, check the diff ID, commit. False when another unpack committed it first. */
async function applyLayer(conn: Connection, snapshotter: string, layer: Descriptor, diffId: string, parent: string, id: string, ctx: CallContext): Promise<boolean> {
  let key = '';
  let mounts: Mount[];
  for (;;) {
    key = `extract-${uniquePart()} ${id}`;
    try {
      mounts = (await conn.unary(SnapshotsService.prepare, { snapshotter, key, parent, labels: {} }, ctx)).mounts;
      break;
    } catch (err) {
      if (isAlreadyExists(err)) continue;
      throw new Error(`failed to prepare extraction snapshot ${JSON.stringify(key)}: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    const res = await conn.unary(DiffService.apply, { diff: apiDescriptor(layer), mounts, payloads: {} }, ctx);
    if (res.applied?.digest !== diffId) throw new Error(`wrong diff id calculated on extraction ${JSON.stringify(res.applied?.digest ?? '')}`);
    try {
      await conn.unary(SnapshotsService.commit, { snapshotter, name: id, key, labels: {} }, ctx);
    } catch (err) {
      if (isAlreadyExists(err)) {
        await conn.unary(SnapshotsService.remove, { snapshotter, key }, ctx).catch(() => {});
        return false;
      }
      throw new Error(`failed to commit snapshot ${key}: ${(err as Error).message}`, { cause: err });
    }
    return true;
  } catch (err) {
    await conn.unary(SnapshotsService.remove, { snapshotter, key }, ctx).catch(() => {});
    if (err instanceof Error && /^(wrong diff id|failed to commit)/.test(err.message)) throw err;
    throw new Error(`failed to extract layer ${diffId}: ${(err as Error).message}`, { cause: err });
  }
}

/** Resolves or rejects once per digest: what the fetch has stored so far. */
class Arrivals {
  private readonly waiting = new Map<string, { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void }>();
  private settled: Error | 'done' | undefined;

  private entry(digest: string) {
    let e = this.waiting.get(digest);
    if (!e) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      // Nobody may wait for this one: its rejection is not an unhandled one.
      promise.catch(() => {});
      e = { promise, resolve, reject };
      this.waiting.set(digest, e);
    }
    return e;
  }

  arrived(digest: string): void {
    this.entry(digest).resolve();
  }

  wait(digest: string): Promise<void> {
    const e = this.entry(digest);
    if (this.settled instanceof Error) e.reject(this.settled);
    else if (this.settled === 'done') e.reject(notFound(`content digest ${digest}`));
    return e.promise;
  }

  /** The fetch ended: whatever has not arrived never will. */
  end(err?: Error): void {
    this.settled = err ?? 'done';
    for (const [digest, e] of this.waiting) e.reject(err ?? notFound(`content digest ${digest}`));
  }
}

/**
 * ctr images pull: fetch and unpack under one lease. Unpacking is pipelined behind the
 * fetch: each layer is applied as soon as it and the layers below it are in the store.
 */
export async function pullImage(
  conn: Connection,
  ref: string,
  opts: FetchOptions & UnpackOptions & { unpack?: boolean } = {},
  ctx: CallContext = {},
): Promise<ImageRecord & { chainId?: string }> {
  return withLease(conn, ctx, async (ctx) => {
    if (opts.unpack === false) return fetchImage(conn, ref, opts, ctx);
    const arrivals = new Arrivals();
    let onResolved: (target: Descriptor) => void = () => {};
    const resolved = new Promise<Descriptor>((resolve) => {
      onResolved = resolve;
    });
    const fetching = fetchImage(
      conn,
      ref,
      {
        ...opts,
        onEvent: (e) => {
          if (e.type === 'resolved') onResolved(e.target);
          if (e.type === 'fetched') arrivals.arrived(e.desc.digest);
          opts.onEvent?.(e);
        },
      },
      ctx,
    );
    fetching.then(
      () => arrivals.end(),
      (err: Error) => arrivals.end(err),
    );
    const unpacking = (async () => {
      // The unpack starts as soon as the reference is resolved and waits for each blob.
      const target = await Promise.race([resolved, fetching.then((image) => image.target)]);
      return unpackImage(conn, target, { ...opts, waitFor: (d) => arrivals.wait(d) }, ctx);
    })();
    const [fetched, unpacked] = await Promise.allSettled([fetching, unpacking]);
    if (fetched.status === 'rejected') throw fetched.reason;
    if (unpacked.status === 'rejected') throw unpacked.reason;
    return { ...fetched.value, chainId: unpacked.value };
  });
}
