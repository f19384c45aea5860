// ctr-ts images pull/ls/rm/push: images through the registry client and the daemon's
// Images, Content, Snapshots and Diff services (packages/client), in ctr's output.
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import {
  type CallContext,
  type Descriptor,
  type ImageConfig,
  type ImageRecord,
  MediaType,
  type Platform,
  type PullEvent,
  Registry,
  childrenOf,
  contentDescriptor,
  defaultPlatform,
  fetchImage,
  formatPlatform,
  isIndexType,
  isKnownConfig,
  isManifestType,
  makeRefKey,
  matchPlatform,
  normalizePlatform,
  pullImage,
  pushImage,
  readContent,
  unpackImage,
  validateDigest,
  withLease,
} from '@containerd-ts/client';
import { isNotFound } from '@containerd-ts/errdefs';
import { GO_ZERO_TIME, formatRFC3339Nano } from '@containerd-ts/timestamp';
import { type Command, type Context, goDuration } from '../cli.js';
import { CommandError, type connect, globalOptions, withConnection } from '../context.js';
import { parsePlatformFlags } from '../platform-flags.js';
import { type StatusInfo, displayStatuses, progressBytes } from '../progress.js';
import { REGISTRY_FLAGS, registryOptions } from '../resolver.js';
import { imagesArchiveCommands } from './images-archive.js';
import { imagesMountCommands } from './images-mount.js';
import { labelArgs } from './namespaces.js';
import { SNAPSHOTTER_FLAG } from './snapshots.js';
import { logLine } from '../log.js';

type Conn = Awaited<ReturnType<typeof connect>>;


/**
 * ctr's pull progress: the jobs of the fetch, redrawn every 100 ms. When stdout is not a
 * terminal each table is written whole, as ctr writes it. On a terminal the previous table
 * is cleared first (as ctr's progress writer does) and, beyond ctr's table, every layer
 * keeps its byte count once done and shows its unpack state (`unpacking`, `unpacked`).
 */
export class PullProgress {
  private readonly start = performance.now();
  /** Jobs shown as `exists` by a tick before the end (ctr shows the others as done at the end). */
  private readonly shownExisting = new Set<string>();
  private resolved = false;
  private readonly jobs: Descriptor[] = [];
  private readonly statuses = new Map<string, StatusInfo>();
  private readonly unpack = new Map<string, 'unpacking' | 'unpacked'>();
  private timer: NodeJS.Timeout | undefined;
  /** Terminal lines the last table took (tty only). */
  private lines = 0;

  constructor(
    private readonly name: string,
    private readonly out: (s: string) => void,
    readonly tty: boolean,
    private readonly columns: number,
  ) {}

  begin(): void {
    this.timer = setInterval(() => this.draw(), 100);
  }

  event(e: PullEvent): void {
    const ref = (d: Descriptor) => makeRefKey(d);
    switch (e.type) {
      case 'job':
        this.resolved = true;
        if (!this.jobs.some((j) => j.digest === e.desc.digest)) this.jobs.push(e.desc);
        break;
      case 'progress':
        this.statuses.set(e.desc.digest, { ref: ref(e.desc), status: 'downloading', offset: e.offset, total: e.desc.size });
        break;
      case 'fetched':
        // `exists` is what the store had before the pull, never what this pull wrote.
        if (e.existed && this.statuses.get(e.desc.digest)?.status === 'done') break;
        this.statuses.set(
          e.desc.digest,
          e.existed
            ? { ref: ref(e.desc), status: 'exists', offset: 0, total: this.tty ? e.desc.size : 0 }
            : { ref: ref(e.desc), status: 'done', offset: e.desc.size, total: e.desc.size },
        );
        break;
      case 'unpacking':
        this.unpack.set(e.layer.digest, 'unpacking');
        break;
      case 'unpacked':
        this.unpack.set(e.layer.digest, 'unpacked');
        break;
      default:
        break;
    }
  }

  private rows(done: boolean): StatusInfo[] {
    const rows: StatusInfo[] = [{ ref: this.name, status: this.resolved ? 'resolved' : 'resolving', offset: 0, total: 0 }];
    for (const j of this.jobs) {
      let s = this.statuses.get(j.digest) ?? { ref: makeRefKey(j), status: 'waiting', offset: 0, total: 0 };
      if (this.tty) {
        const unpack = this.unpack.get(j.digest);
        if (unpack && s.status !== 'downloading') s = { ...s, status: unpack };
        rows.push(s);
        continue;
      }
      if (!done && s.status === 'exists') this.shownExisting.add(j.digest);
      rows.push(done && !(s.status === 'exists' && this.shownExisting.has(j.digest)) ? { ...s, status: 'done' } : s);
    }
    return rows;
  }

  private draw(done = false): void {
    const text = displayStatuses(this.rows(done), performance.now() - this.start, { bytesWhenDone: this.tty });
    if (this.tty) {
      this.out('\x1b[1A\x1b[2K\r'.repeat(this.lines));
      this.lines = terminalLines(text, this.columns);
    }
    this.out(text);
  }

  end(): void {
    clearInterval(this.timer);
    this.draw(true);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const GREEN = '\x1b[32m';
const RESET = '\x1b[0m';

/** The terminal lines a text takes at `columns` (colour codes take none), as ctr's progress writer counts them. */
export function terminalLines(text: string, columns: number): number {
  if (columns <= 0) return 0;
  let lines = -1;
  for (const line of text.split('\n')) {
    const visible = line.replaceAll(GREEN, '').replaceAll(RESET, '');
    lines += Math.floor(Math.max(visible.length - 1, 0) / columns) + 1;
  }
  return lines;
}

/** The platforms a pull unpacks: --platform values, or this host's. */
function platformsOf(ctx: Context): Platform[] {
  const out = parsePlatformFlags(ctx.strings('platform'), (s) => `unable to parse platform ${s}`);
  return out.length > 0 ? out : [defaultPlatform()];
}

const pullCommand: Command = {
  name: 'pull',
  usage: 'pull an image from a remote',
  argsUsage: '[flags] <ref>',
  description: `Fetch and prepare an image for use in containerd.

After pulling an image, it should be ready to use the same reference in a run
command. As part of this process, we do the following:

1. Fetch all resources into containerd.
2. Prepare the snapshot filesystem with the pulled resources.
3. Register metadata for the image.
`,
  flags: [
    ...REGISTRY_FLAGS,
    SNAPSHOTTER_FLAG,
    { name: 'label', type: 'string-slice', usage: 'labels to attach to the image' },
    { name: 'platform', type: 'string-slice', usage: 'Pull content from a specific platform' },
    { name: 'all-platforms', type: 'bool', usage: 'pull content and metadata from all platforms' },
    { name: 'all-metadata', type: 'bool', usage: 'Pull metadata for all platforms' },
    { name: 'print-chainid', type: 'bool', usage: "Print the resulting image's chain ID" },
    { name: 'max-concurrent-downloads', type: 'int', usage: 'Set the max concurrent downloads for each pull' },
  ],
  async action(ctx) {
    const ref = ctx.args[0] ?? '';
    if (ref === '') throw new CommandError('please provide an image reference to pull');
    const platforms = ctx.bool('all-platforms') ? [defaultPlatform()] : platformsOf(ctx);
    const registry = await registryOptions(ctx);
    await withConnection(ctx, async (conn) => {
      const call: CallContext = { namespace: globalOptions(ctx).namespace };
      await withLease(conn, call, async (call) => {
        const tty = process.stdout.isTTY === true;
        const progress = new PullProgress(ref, ctx.out, tty, process.stdout.columns ?? 0);
        const fetchOptions = {
          plainHttp: registry.plainHttp,
          registry,
          platform: platforms[0],
          labels: labelArgs(ctx.strings('label')),
          maxConcurrentDownloads: ctx.number('max-concurrent-downloads'),
          allPlatforms: ctx.bool('all-platforms'),
          allMetadata: ctx.bool('all-metadata'),
        };
        const snapshotter = ctx.string('snapshotter');
        let start = 0;
        /** What ctr prints once the fetch is done: the last table, then the first unpack line. */
        let target = '';
        const fetched = (image: ImageRecord) => {
          start = performance.now();
          target = image.target.digest;
          // On a terminal the table stays up until the layers are unpacked too.
          if (tty) return;
          progress.end();
          if (platforms.length > 0) ctx.out(`unpacking ${formatPlatform(platforms[0]!)} ${target}...\n`);
        };
        progress.begin();
        let image: ImageRecord;
        let chain: string | undefined;
        try {
          if (platforms.length === 1 && !fetchOptions.allPlatforms) {
            // One platform: its layers unpack while the later ones download.
            const pulled = await pullImage(
              conn,
              ref,
              {
                ...fetchOptions,
                snapshotter,
                onEvent: (e) => {
                  progress.event(e);
                  if (e.type === 'created') fetched(e.image);
                },
              },
              call,
            );
            image = pulled;
            chain = pulled.chainId;
            if (tty) {
              progress.end();
              ctx.out(`unpacking ${formatPlatform(platforms[0]!)} ${target}...\n`);
            }
          } else {
            if (fetchOptions.allPlatforms) platforms.length = 0;
            image = await fetchImage(conn, ref, { ...fetchOptions, onEvent: (e) => progress.event(e) }, call);
            if (fetchOptions.allPlatforms) {
              // images.Platforms of what was fetched: the index's entries, or the config's.
              try {
                platforms.push(...(await imagePlatforms(conn, image.target, call)));
              } catch (err) {
                throw new Error(`unable to resolve image platforms: ${(err as Error).message}`);
              }
            }
            fetched(image);
            if (tty) {
              progress.end();
              if (platforms.length > 0) ctx.out(`unpacking ${formatPlatform(platforms[0]!)} ${target}...\n`);
            }
          }
        } catch (err) {
          progress.stop();
          throw new CommandError((err as Error).message);
        }
        for (const [i, platform] of platforms.entries()) {
          if (i > 0) ctx.out(`unpacking ${formatPlatform(platform)} ${image.target.digest}...\n`);
          if (i > 0 || chain === undefined) {
            chain = await unpackImage(conn, image.target, { snapshotter, platform }, call).catch((err: unknown) => {
              throw new CommandError((err as Error).message);
            });
          }
          if (ctx.bool('print-chainid')) ctx.out(`image chain ID: ${chain}\n`);
        }
        ctx.out(`done: ${goDuration(performance.now() - start)}\t\n`);
      });
    });
  },
};

/** images.Children from the store; a missing blob is reported by the caller. */
async function children(conn: Conn, desc: Descriptor, call: CallContext): Promise<Descriptor[]> {
  if (!isManifestType(desc.mediaType) && !isIndexType(desc.mediaType)) return [];
  return childrenOf(desc, await readContent(conn, desc.digest, call));
}

/** Image.Size for the default platform: every descriptor the platform's walk reaches. */
async function imageSize(conn: Conn, target: Descriptor, call: CallContext): Promise<{ size: number; error?: Error }> {
  const platform = defaultPlatform();
  let size = 0;
  const walk = async (desc: Descriptor): Promise<void> => {
    size += desc.size;
    let kids = (await children(conn, desc, call)).filter((c) => c.platform === undefined || matchPlatform(platform, c.platform));
    if (isIndexType(desc.mediaType)) {
      // images.LimitManifests(…, 1): the entries sorted (stable) by the platform matcher —
      // the exact platform first, entries without a platform last — and only the first kept,
      // whatever its media type (a checkpoint index's first entry is a blob of its own).
      const rank = (c: Descriptor) => (c.platform === undefined ? 2 : c.platform.architecture === platform.architecture && c.platform.os === platform.os ? 0 : 1);
      kids = kids
        .map((c, i) => ({ c, i }))
        .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
        .slice(0, 1)
        .map((x) => x.c);
    }
    for (const c of kids) await walk(c);
  };
  try {
    await walk(target);
    return { size };
  } catch (err) {
    return { size, error: err as Error };
  }
}

/** images.Platforms: the platforms of the index entries, or of the configs. */
async function imagePlatforms(conn: Conn, target: Descriptor, call: CallContext): Promise<Platform[]> {
  const out: Platform[] = [];
  const walk = async (desc: Descriptor): Promise<void> => {
    if (desc.platform) {
      out.push(desc.platform);
      return;
    }
    if (isKnownConfig(desc.mediaType) && (desc.mediaType.includes('docker.container.image') || desc.mediaType.includes('oci.image.config'))) {
      const config = JSON.parse((await readContent(conn, desc.digest, call)).toString()) as ImageConfig;
      out.push(normalizePlatform({ os: config.os ?? '', architecture: config.architecture ?? '' }));
      return;
    }
    for (const c of await children(conn, desc, call)) await walk(c);
  };
  await walk(target);
  return out;
}

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list images known to containerd',
  argsUsage: '[flags] [<filter>, ...]',
  description: 'list images registered with containerd',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the image refs' }],
  table: true,
  async action(ctx) {
    await withConnection(ctx, async (conn) => {
      const call: CallContext = {};
      let images: Image[];
      try {
        images = (await conn.unary(ImagesService.list, { filters: ctx.args })).images;
      } catch (err) {
        throw new CommandError(`failed to list images: ${(err as Error).message}`);
      }
      if (ctx.bool('quiet')) {
        for (const i of images) ctx.out(`${i.name}\n`);
        return;
      }
      const rows = [];
      for (const image of images) {
        const target = image.target ?? { mediaType: '', digest: '', size: 0, annotations: {} };
        const { size, error } = await imageSize(conn, target, call);
        if (error) logLine('error', `failed calculating size for image ${image.name}`, { error: error.message });
        let platforms = '-';
        try {
          const specs = await imagePlatforms(conn, target, call);
          if (specs.length > 0) platforms = [...new Set(specs.map(formatPlatform))].sort().join(',');
        } catch (err) {
          logLine('error', `failed resolving platform for image ${image.name}`, { error: (err as Error).message });
        }
        const labels = Object.entries(image.labels).map(([k, v]) => `${k}=${v}`).sort().join(',') || '-';
        rows.push({ image, target, size, platforms, labels });
      }
      ctx.table({
        header: ['REF', 'TYPE', 'DIGEST', 'SIZE', 'PLATFORMS', 'LABELS'],
        rows,
        cells: (r) => [r.image.name, r.target.mediaType, r.target.digest, progressBytes(r.size), r.platforms, r.labels],
        json: (r) => ({
          name: r.image.name,
          mediaType: r.target.mediaType,
          digest: r.target.digest,
          size: r.size,
          platforms: r.platforms === '-' ? [] : r.platforms.split(','),
          labels: r.image.labels,
          createdAt: formatRFC3339Nano(r.image.createdAt ?? GO_ZERO_TIME),
          updatedAt: formatRFC3339Nano(r.image.updatedAt ?? GO_ZERO_TIME),
        }),
        tabwriter: { minwidth: 1, padding: 1, padchar: ' ', tabwidth: 8 },
        trailingTab: true,
      });
    });
  },
};

const removeCommand: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  usage: 'remove one or more images by reference',
  argsUsage: '[flags] <ref> [<ref>, ...]',
  description: 'remove one or more images by reference',
  flags: [{ name: 'sync', type: 'bool', usage: 'Synchronously remove image and all associated resources' }],
  async action(ctx) {
    let exitError: string | undefined;
    await withConnection(ctx, async (conn) => {
      for (const [i, name] of ctx.args.entries()) {
        const sync = ctx.bool('sync') && i === ctx.args.length - 1;
        try {
          await conn.unary(ImagesService.delete, { name, sync });
        } catch (err) {
          if (!isNotFound(err)) {
            exitError ??= `unable to delete ${name}: ${(err as Error).message}`;
            logLine('error', `unable to delete ${name}`, { error: (err as Error).message });
            continue;
          }
          logLine('warning', `${name}: image not found`);
          continue;
        }
        ctx.out(`${name}\n`);
      }
    });
    if (exitError !== undefined) throw new CommandError(exitError);
  },
};

const pushCommand: Command = {
  name: 'push',
  usage: 'push an image to a remote',
  argsUsage: '[flags] <remote> [<local>]',
  description: `Pushes an image reference from containerd.

	All resources associated with the manifest reference will be pushed.
	The ref is used to resolve to a locally existing image manifest.
	The image manifest must exist before push. Creating a new image
	manifest can be done through calculating the diff for layers,
	creating the associated configuration, and creating the manifest
	which references those resources.
`,
  flags: [
    ...REGISTRY_FLAGS,
    { name: 'manifest', type: 'string', usage: 'digest of manifest' },
    { name: 'manifest-type', type: 'string', usage: 'media type of manifest digest', value: MediaType.ociManifest },
    { name: 'platform', type: 'string-slice', usage: 'push content from a specific platform' },
    { name: 'max-concurrent-uploaded-layers', type: 'int', usage: 'Set the max concurrent uploaded layers for each push' },
    { name: 'allow-non-distributable-blobs', type: 'bool', usage: 'Allow pushing blobs that are marked as non-distributable' },
  ],
  async action(ctx) {
    const remote = ctx.args[0] ?? '';
    const local = ctx.args[1] || remote;
    if (remote === '') throw new CommandError('please provide a remote image reference to push');
    const options = await registryOptions(ctx);
    await withConnection(ctx, async (conn) => {
      const call: CallContext = {};
      let target: Descriptor;
      let platform: Platform | undefined;
      const manifest = ctx.string('manifest');
      if (manifest !== '') {
        // ctr 1.6 sends a descriptor of size 0 and panics once the manifest is found
        // (remotes/docker pushWriter.Commit); ctr-ts takes the size from the store and pushes.
        try {
          validateDigest(manifest);
        } catch (err) {
          throw new CommandError(`invalid manifest digest: ${(err as Error).message}`);
        }
        target = await contentDescriptor(conn, manifest, ctx.string('manifest-type'), call).catch((err: unknown) => {
          throw new CommandError((err as Error).message);
        });
      } else {
        try {
          const res = await conn.unary(ImagesService.get, { name: local });
          const t = res.image?.target;
          target = { mediaType: t?.mediaType ?? '', digest: t?.digest ?? '', size: t?.size ?? 0 };
        } catch (err) {
          throw new CommandError(`unable to resolve image to manifest: ${(err as Error).message}`);
        }
        // As ctr 1.6: only a single --platform selects; with several, every platform goes.
        const given = ctx.strings('platform');
        if (given.length === 1) platform = parsePlatformFlags(given, (p) => `invalid platform ${JSON.stringify(p)}`)[0];
      }
      const registry = (() => {
        try {
          return new Registry(remote, options);
        } catch (err) {
          throw new CommandError((err as Error).message);
        }
      })();
      const start = Date.now();
      const statuses: StatusInfo[] = [];
      await pushImage(conn, registry, target, {
        call,
        platform,
        skipNonDistributable: !ctx.bool('allow-non-distributable-blobs'),
        maxConcurrentUploadedLayers: ctx.number('max-concurrent-uploaded-layers'),
        onEvent: (e) => {
          const ref = makeRefKey(e.desc);
          const s = statuses.find((x) => x.ref === ref);
          const status = e.type === 'pushed' ? ({ exists: 'exists', mounted: 'mounted', uploaded: 'done' } as const)[e.how] : 'uploading';
          const row = { ref, status, offset: e.type === 'pushed' ? e.desc.size : 0, total: e.desc.size };
          if (s) Object.assign(s, row);
          else statuses.push(row);
        },
      }).catch((err: unknown) => {
        throw new CommandError((err as Error).message);
      });
      ctx.out(displayStatuses(statuses, Date.now() - start));
    });
  },
};

export const imagesCommand: Command = {
  name: 'images',
  aliases: ['image', 'i'],
  usage: 'manage images',
  subcommands: [
    imagesArchiveCommands.check,
    imagesArchiveCommands.export,
    imagesArchiveCommands.import,
    listCommand,
    imagesMountCommands.mount,
    imagesMountCommands.unmount,
    pullCommand,
    pushCommand,
    removeCommand,
    imagesArchiveCommands.tag,
    imagesArchiveCommands.label,
    imagesArchiveCommands.convert,
  ],
};
