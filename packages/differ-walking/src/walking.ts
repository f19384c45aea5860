// The walking differ: containerd's fsApplier (apply a layer blob to mounts) and
// walkingDiff (write the diff of two mounts to the content store) in one object.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer, createGzipCompressor, diffCompression, diffTar } from '@containerd-ts/archive';
import type { ContentStore, Descriptor, Writer } from '@containerd-ts/content';
import {
  type ApplyOptions,
  type Differ,
  type DiffOptions,
  diffMediaType,
  MEDIA_TYPE_LAYER,
  UNCOMPRESSED_LABEL,
} from '@containerd-ts/diff';
import { isAlreadyExists } from '@containerd-ts/errdefs';
import type { RequestContext } from '@containerd-ts/namespaces';
import type { Logger } from '@containerd-ts/plugin';
import { type Mount, mountAll, unmountAll, upperDirOf, wrapError } from '@containerd-ts/snapshots';

export interface WalkingDifferOptions {
  /**
   * Directory that holds the temporary mount points of mounts that cannot be used as
   * plain directories (containerd: `<root>/tmpmounts`). Created when first needed.
   */
  tempMountRoot: string;
  log?: Logger;
}

export class WalkingDiffer implements Differ {
  constructor(
    private readonly store: ContentStore,
    private readonly options: WalkingDifferOptions,
  ) {}

  async apply(ctx: RequestContext, desc: Descriptor, mounts: readonly Mount[], _options: ApplyOptions = {}): Promise<Descriptor> {
    const started = performance.now();
    let reader: Awaited<ReturnType<ContentStore['readerAt']>>;
    try {
      reader = await this.store.readerAt(ctx, desc);
    } catch (err) {
      throw wrapError('failed to get reader from content store', err);
    }
    try {
      const mediaType = desc.mediaType ?? '';
      try {
        diffCompression(mediaType);
      } catch {
        // containerd finds no stream processor for a media type that is not a layer.
        throw new Error(`failed to get stream processor for ${mediaType}: no processor for media-type`);
      }
      const source = reader.stream();
      // A file read stream: each chunk is a buffer of its own, handed to the apply worker without a copy.
      const common = { mediaType, ownedChunks: true, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(this.options.log ? { log: this.options.log } : {}) };
      const upper = upperDirOf(mounts);
      let result: Awaited<ReturnType<typeof applyLayer>>;
      if (upper?.overlay) {
        // Straight into the upper directory, with overlay whiteouts; the lowers give
        // the attributes of directories the layer creates implicitly.
        result = await applyLayer(upper.path, source, {
          ...common,
          whiteouts: 'overlay',
          parents: upper.lowerdirs,
          userxattr: upper.userxattr,
        });
      } else if (upper) {
        result = await applyLayer(upper.path, source, common);
      } else {
        result = await this.withTempMount(mounts, (root) => applyLayer(root, source, common));
      }
      this.options.log?.debug(
        { d: `${(performance.now() - started).toFixed(1)}ms`, digest: desc.digest, size: desc.size, media: desc.mediaType },
        'diff applied',
      );
      return { mediaType: MEDIA_TYPE_LAYER, digest: result.digest, size: result.size };
    } finally {
      await reader.close();
    }
  }

  async compare(
    ctx: RequestContext,
    lower: readonly Mount[],
    upper: readonly Mount[],
    options: DiffOptions = {},
  ): Promise<Descriptor> {
    const { mediaType, compressed } = diffMediaType(options.mediaType);
    return this.withTempMount(lower, (lowerRoot) =>
      this.withTempMount(readonlyMounts(upper), (upperRoot) =>
        this.writeDiffBlob(ctx, lowerRoot, upperRoot, mediaType, compressed, options),
      ),
    );
  }

  private async writeDiffBlob(
    ctx: RequestContext,
    lowerRoot: string,
    upperRoot: string,
    mediaType: string,
    compressed: boolean,
    options: DiffOptions,
  ): Promise<Descriptor> {
    const newReference = !options.reference;
    const ref = options.reference || uniqueRef();
    let writer: Writer;
    try {
      writer = await this.store.writer(ctx, { ref });
    } catch (err) {
      throw wrapError('failed to open writer', err);
    }
    const labels: Record<string, string> = { ...(options.labels ?? {}) };
    try {
      if (!newReference) await writer.truncate(0);
      const tar = diffTar(lowerRoot, upperRoot, ctx.signal ? { signal: ctx.signal } : {});
      if (compressed) {
        const hash = createHash('sha256');
        async function* hashed(): AsyncGenerator<Buffer> {
          for await (const chunk of tar) {
            hash.update(chunk);
            yield chunk;
          }
        }
        try {
          await pipeline(Readable.from(hashed()), createGzipCompressor(), async (gz: AsyncIterable<Buffer>) => {
            for await (const chunk of gz) await writer.write(chunk);
          });
        } catch (err) {
          throw wrapError('failed to write compressed diff', err);
        }
        labels[UNCOMPRESSED_LABEL] = `sha256:${hash.digest('hex')}`;
      } else {
        try {
          for await (const chunk of tar) await writer.write(chunk);
        } catch (err) {
          throw wrapError('failed to write diff', err);
        }
      }
      const digest = writer.digest();
      try {
        await writer.commit(0, digest, Object.keys(labels).length > 0 ? { labels } : {});
      } catch (err) {
        if (!isAlreadyExists(err)) throw wrapError('failed to commit', err);
      }
      let info: Awaited<ReturnType<ContentStore['info']>>;
      try {
        info = await this.store.info(ctx, digest);
      } catch (err) {
        throw wrapError('failed to get info from content store', err);
      }
      const uncompressed = labels[UNCOMPRESSED_LABEL];
      // A blob that existed already keeps its labels; make sure it names its diff ID.
      if (uncompressed !== undefined && info.labels[UNCOMPRESSED_LABEL] === undefined) {
        try {
          await this.store.update(
            ctx,
            { digest: info.digest, labels: { ...info.labels, [UNCOMPRESSED_LABEL]: uncompressed } },
            [`labels.${UNCOMPRESSED_LABEL}`],
          );
        } catch (err) {
          throw wrapError('error setting uncompressed label', err);
        }
      }
      return { mediaType, size: info.size, digest: info.digest };
    } catch (err) {
      await writer.close().catch(() => {});
      if (newReference) {
        await this.store.abort(ctx, ref).catch((abortErr: unknown) => {
          this.options.log?.warn({ err: abortErr, ref }, 'failed to delete diff upload');
        });
      }
      throw err;
    }
  }

  /**
   * Runs `fn` on a directory holding `mounts`: a single bind mount is used through its
   * source directly (reading or writing it there is what the mount would give), other
   * mounts are mounted on a temporary directory and unmounted afterwards.
   */
  private async withTempMount<T>(mounts: readonly Mount[], fn: (root: string) => Promise<T>): Promise<T> {
    const direct = directDir(mounts);
    if (direct !== undefined) return fn(direct);
    await mkdir(this.options.tempMountRoot, { recursive: true, mode: 0o700 });
    const root = await mkdtemp(join(this.options.tempMountRoot, 'containerd-mount'));
    let result: T;
    try {
      try {
        await mountAll(mounts, root);
      } catch (err) {
        throw wrapError(`failed to mount ${root}`, err);
      }
      try {
        result = await fn(root);
      } catch (err) {
        throw wrapError(`mount callback failed on ${root}`, err);
      }
    } catch (err) {
      await unmountAll(root).catch((uerr: unknown) => {
        this.options.log?.error({ err: uerr, dir: root }, 'failed to unmount temp mount');
      });
      await rmdir(root).catch(() => {});
      throw err;
    }
    try {
      await unmountAll(root);
    } catch (err) {
      throw wrapError(`failed to unmount ${root}`, err);
    }
    // rmdir, never a recursive removal: if anything is still mounted there, it stays.
    await rmdir(root).catch((err: unknown) => {
      this.options.log?.error({ err, dir: root }, 'failed to remove mount temp dir');
    });
    return result;
  }
}

/** The directory of a single plain bind mount (no submount target), which needs no mounting. */
function directDir(mounts: readonly Mount[]): string | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0]!;
  if (m.type !== 'bind' || m.target) return undefined;
  return m.source;
}

/** Mounts made read-only as containerd's readonlyMounts: overlays lose their upper and work dirs. */
export function readonlyMounts(mounts: readonly Mount[]): Mount[] {
  return mounts.map((m) => {
    if (m.type === 'overlay') {
      const out: string[] = [];
      let upper = '';
      for (const o of m.options) {
        if (o.startsWith('upperdir=')) upper = o.slice('upperdir='.length);
        else if (!o.startsWith('workdir=')) out.push(o);
      }
      const options = upper === '' ? out : out.map((o) => (o.startsWith('lowerdir=') ? `lowerdir=${upper}:${o.slice(9)}` : o));
      return { ...m, options };
    }
    return { ...m, options: [...m.options.filter((o) => o !== 'rw' && o !== 'ro'), 'ro'] };
  });
}

/** A content ingest ref unique enough for one diff: `<ns since epoch>-<random>`, as containerd's uniqueRef. */
function uniqueRef(): string {
  const ns = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
  return `${ns}-${randomBytes(3).toString('base64url')}`;
}
