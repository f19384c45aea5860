// ctr-ts images export/import/tag/label/check: image archives (OCI layouts with a Docker
// manifest.json, and `docker save` archives) through packages/client's exportImages and
// importArchive, and the image store's records, with ctr 1.6's flags, output and errors.
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import { type Image, ImagesService } from '@containerd-ts/api/services/images';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import {
  type CallContext,
  type Connection,
  type Descriptor,
  type ImageConfig,
  type ImportOptions,
  type Platform,
  chainId,
  contentInfo,
  convertImage,
  defaultPlatform,
  exportImages,
  importArchive,
  parsePlatform,
  readContent,
  refTranslator,
  resolveManifest,
  strictPlatformMatcher,
  unpackImage,
  withLease,
} from '@containerd-ts/client';
import { isAlreadyExists, isNotFound } from '@containerd-ts/errdefs';
import { type Command, UsageError } from '../cli.js';
import { CommandError, connect, globalOptions } from '../context.js';
import { parsePlatformFlags } from '../platform-flags.js';
import { progressBytes } from '../progress.js';
import { TabWriter } from '../tabwriter.js';
import { labelArgs } from './namespaces.js';
import { SNAPSHOTTER_FLAG } from './snapshots.js';
import { logLine } from '../log.js';


async function withConn<T>(ctx: Parameters<NonNullable<Command['action']>>[0], f: (conn: Connection, call: CallContext) => Promise<T>): Promise<T> {
  const opts = globalOptions(ctx);
  const conn = await connect(opts);
  try {
    return await f(conn, { namespace: opts.namespace });
  } finally {
    conn.close();
  }
}

/** A failure of the flow, printed as `ctr-ts: <message>`. */
const fail = (err: unknown): never => {
  if (err instanceof CommandError || err instanceof UsageError) throw err;
  throw new CommandError((err as Error).message);
};

/** Go's *os.PathError text for a file that cannot be opened or created. */
function pathError(op: 'open', path: string, err: NodeJS.ErrnoException): CommandError {
  const text: { [code: string]: string } = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    EEXIST: 'file exists',
  };
  return new CommandError(`${op} ${path}: ${text[err.code ?? ''] ?? err.message}`);
}

/** Opens a file for reading; resolves once it is open (so a missing file fails here, in Go's words). */
function openInput(path: string): Promise<Readable> {
  if (path === '-') return Promise.resolve(process.stdin);
  return new Promise((resolve, reject) => {
    const s = createReadStream(path);
    s.once('open', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => reject(pathError('open', path, err)));
  });
}

function openOutput(path: string): Promise<Writable> {
  if (path === '-') return Promise.resolve(process.stdout);
  return new Promise((resolve, reject) => {
    const s = createWriteStream(path);
    s.once('open', () => resolve(s));
    s.once('error', (err: NodeJS.ErrnoException) => reject(pathError('open', path, err)));
  });
}

const closeOutput = (w: Writable): Promise<void> =>
  w === process.stdout ? Promise.resolve() : new Promise((resolve, reject) => w.end((err?: Error | null) => (err ? reject(err) : resolve())));

const exportCommand: Command = {
  name: 'export',
  usage: 'export images',
  argsUsage: '[flags] <out> <image> ...',
  description: `Export images to an OCI tar archive.

Tar output is formatted as an OCI archive, a Docker manifest is provided for the platform.
Use '--skip-manifest-json' to avoid including the Docker manifest.json file.
Use '--platform' to define the output platform.
When '--all-platforms' is given all images in a manifest list must be available.
`,
  flags: [
    { name: 'skip-manifest-json', type: 'bool', usage: 'do not add Docker compatible manifest.json to archive' },
    { name: 'skip-non-distributable', type: 'bool', usage: 'do not add non-distributable blobs such as Windows layers to archive' },
    { name: 'platform', type: 'string-slice', usage: 'Pull content from a specific platform' },
    { name: 'all-platforms', type: 'bool', usage: 'exports content from all platforms' },
  ],
  async action(ctx) {
    const [out = '', ...images] = ctx.args;
    if (out === '' || images.length === 0) throw new CommandError('please provide both an output filename and an image reference to export');
    const platforms = parsePlatformFlags(ctx.strings('platform'), (p) => `invalid platform ${JSON.stringify(p)}`);
    await withConn(ctx, async (conn, call) => {
      // Every image is looked up before the file is created: a failed export leaves no file.
      for (const name of images) {
        await conn.unary(ImagesService.get, { name }, call).catch(fail);
      }
      const w = await openOutput(out);
      try {
        await exportImages(
          conn,
          w,
          {
            images,
            platforms: platforms.length > 0 ? platforms : [defaultPlatform()],
            allPlatforms: ctx.bool('all-platforms'),
            skipDockerManifest: ctx.bool('skip-manifest-json'),
            skipNonDistributable: ctx.bool('skip-non-distributable'),
          },
          call,
        );
        await closeOutput(w);
      } catch (err) {
        if (w !== process.stdout) {
          w.destroy();
          await rm(out, { force: true });
        }
        fail(err);
      }
    });
  },
};

const importCommand: Command = {
  name: 'import',
  usage: 'import images',
  argsUsage: '[flags] <in>',
  description: `Import images from a tar stream.
Implemented formats:
- oci.v1
- docker.v1.1
- docker.v1.2


For OCI v1, you may need to specify --base-name because an OCI archive may
contain only partial image references (tags without the base image name).
If no base image name is provided, a name will be generated as "import-%{yyyy-MM-dd}".

e.g.
  $ ctr images import --base-name foo/bar foobar.tar

If foobar.tar contains an OCI ref named "latest" and anonymous ref "sha256:deadbeef", the command will create
"foo/bar:latest" and "foo/bar@sha256:deadbeef" images in the containerd store.
`,
  flags: [
    {
      name: 'base-name',
      type: 'string',
      usage: 'base image name for added images, when provided only images with this name prefix are imported',
    },
    { name: 'digests', type: 'bool', usage: 'whether to create digest images (default: false)' },
    {
      name: 'skip-digest-for-named',
      type: 'bool',
      usage: 'skip applying --digests option to images named in the importing tar (use it in conjunction with --digests)',
    },
    { name: 'index-name', type: 'string', usage: 'image name to keep index as, by default index is discarded' },
    { name: 'all-platforms', type: 'bool', usage: 'imports content for all platforms, false by default' },
    { name: 'platform', type: 'string', usage: 'imports content for specific platform' },
    { name: 'no-unpack', type: 'bool', usage: 'skip unpacking the images, false by default' },
    { name: 'compress-blobs', type: 'bool', usage: 'compress uncompressed blobs when creating manifest (Docker format only)' },
    SNAPSHOTTER_FLAG,
  ],
  async action(ctx) {
    const input = ctx.args[0] ?? '';
    const opts: ImportOptions = {};
    let prefix = ctx.string('base-name');
    if (prefix === '') {
      const d = new Date();
      prefix = `import-${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      opts.refTranslator = refTranslator(prefix, false);
    } else opts.refTranslator = refTranslator(prefix, true);
    if (ctx.bool('digests')) opts.digestRef = (digest) => `${prefix}@${digest}`;
    if (ctx.bool('skip-digest-for-named')) {
      if (!ctx.bool('digests')) throw new CommandError('--skip-digest-for-named must be specified with --digests option');
      opts.skipDigestRef = (name) => name !== '';
    }
    if (ctx.string('index-name') !== '') opts.indexName = ctx.string('index-name');
    if (ctx.bool('compress-blobs')) opts.compress = true;
    let platform: Platform | undefined;
    if (ctx.string('platform') !== '') {
      try {
        platform = parsePlatform(ctx.string('platform'));
      } catch (err) {
        throw new CommandError((err as Error).message);
      }
      opts.platform = strictPlatformMatcher(platform);
    }
    opts.allPlatforms = ctx.bool('all-platforms');
    await withConn(ctx, async (conn, call) => {
      const r = await openInput(input).catch(fail);
      let imported: Awaited<ReturnType<typeof importArchive>>;
      try {
        imported = await importArchive(conn, r, opts, call);
      } catch (err) {
        fail(err);
        return;
      } finally {
        if (r !== process.stdin) r.destroy();
      }
      if (ctx.bool('no-unpack')) return;
      const snapshotter = ctx.string('snapshotter');
      for (const img of imported) {
        ctx.out(`unpacking ${img.name} (${img.target.digest})...`);
        await unpackImage(conn, img.target, { snapshotter, platform: platform ?? defaultPlatform() }, call).catch(fail);
        ctx.out('done\n');
      }
    });
  },
};

const tagCommand: Command = {
  name: 'tag',
  usage: 'tag an image',
  argsUsage: '[flags] <source_ref> <target_ref> [<target_ref>, ...]',
  description: 'Tag an image for use in containerd.',
  flags: [{ name: 'force', type: 'bool', usage: 'force target_ref to be created, regardless if it already exists' }],
  async action(ctx) {
    const [ref = '', ...targets] = ctx.args;
    if (ref === '') throw new CommandError('please provide an image reference to tag from');
    if (targets.length === 0) throw new CommandError('please provide an image reference to tag to');
    await withConn(ctx, (conn, call) =>
      withLease(conn, call, async (call) => {
        const source = (await conn.unary(ImagesService.get, { name: ref }, call).catch(fail))?.image;
        for (const target of targets) {
          const image: Image = { name: target, labels: source?.labels ?? {}, target: source?.target, createdAt: undefined, updatedAt: undefined };
          try {
            await conn.unary(ImagesService.create, { image }, call);
          } catch (err) {
            if (!(isAlreadyExists(err) && ctx.bool('force'))) fail(err);
            await conn.unary(ImagesService.delete, { name: target, sync: false }, call).catch(fail);
            await conn.unary(ImagesService.create, { image }, call).catch(fail);
          }
          ctx.out(`${target}\n`);
        }
      }),
    );
  },
};

const labelCommand: Command = {
  name: 'label',
  usage: 'set and clear labels for an image',
  argsUsage: '[flags] <name> [<key>=<value>, ...]',
  description: 'set and clear labels for an image',
  flags: [{ name: 'replace-all', aliases: ['r'], type: 'bool', usage: 'replace all labels' }],
  async action(ctx) {
    const [name = '', ...rest] = ctx.args;
    const labels = labelArgs(rest);
    await withConn(ctx, async (conn, call) => {
      if (name === '') throw new CommandError('please specify an image');
      const keys = Object.keys(labels);
      const updateMask = keys.map((k) => (ctx.bool('replace-all') ? 'labels' : `labels.${k}`));
      const image: Image = { name, labels, target: undefined, createdAt: undefined, updatedAt: undefined };
      const updated = await conn.unary(ImagesService.update, { image, updateMask }, call).catch(fail);
      ctx.out(`${Object.entries(updated?.image?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',')}\n`);
    });
  },
};

/** images.Check: the config and layers of the platform's manifest, present or missing. */
async function checkImage(conn: Connection, target: Descriptor, call: CallContext) {
  let manifest: Awaited<ReturnType<typeof resolveManifest>>['manifest'];
  try {
    ({ manifest } = await resolveManifest(conn, target, defaultPlatform(), call));
  } catch (err) {
    if (isNotFound(err) || /: not found$/.test((err as Error).message)) return { available: false, required: [target], present: [] as Descriptor[], missing: [target] };
    throw new Error(`failed to check image ${target.digest}: ${(err as Error).message}`);
  }
  const required = [manifest.config, ...manifest.layers];
  const present: Descriptor[] = [];
  const missing: Descriptor[] = [];
  for (const d of required) {
    try {
      await contentInfo(conn, d.digest, call);
      present.push(d);
    } catch (err) {
      if (!isNotFound(err)) throw new Error(`failed to check image ${d.digest}: ${(err as Error).message}`);
      missing.push(d);
    }
  }
  return { available: true, required, present, missing };
}

/** Image.IsUnpacked: the chain ID of the config's diff IDs is a snapshot. */
async function isUnpacked(conn: Connection, target: Descriptor, snapshotter: string, call: CallContext): Promise<boolean> {
  const { manifest } = await resolveManifest(conn, target, defaultPlatform(), call);
  const config = JSON.parse((await readContent(conn, manifest.config.digest, call)).toString()) as ImageConfig;
  const chain = chainId(config.rootfs?.diff_ids ?? []);
  try {
    await conn.unary(SnapshotsService.stat, { snapshotter: snapshotter || 'overlayfs', key: chain }, call);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

const checkCommand: Command = {
  name: 'check',
  usage: 'check existing images to ensure all content is available locally',
  argsUsage: '[flags] [<filter>, ...]',
  description: 'check existing images to ensure all content is available locally',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the ready image refs (fully downloaded and unpacked)' }, SNAPSHOTTER_FLAG],
  table: true,
  async action(ctx) {
    const quiet = ctx.bool('quiet');
    const json = ctx.string('format') === 'json';
    let exitError: string | undefined;
    await withConn(ctx, async (conn, call) => {
      const images = (await conn.unary(ImagesService.list, { filters: ctx.args }, call).catch((err: unknown) => fail(new Error(`failed listing images: ${(err as Error).message}`))))
        .images;
      if (images.length === 0) {
        if (json) ctx.out('[]\n');
        return;
      }
      const w = new TabWriter(1, 1, ' ', 8);
      if (!quiet && !json) w.write('REF\tTYPE\tDIGEST\tSTATUS\tSIZE\tUNPACKED\t\n');
      const rows: Array<Record<string, unknown>> = [];
      for (const image of images) {
        const t = image.target ?? { mediaType: '', digest: '', size: 0, annotations: {} };
        const target: Descriptor = { mediaType: t.mediaType, digest: t.digest, size: Number(t.size), annotations: t.annotations };
        let status = 'complete';
        let size = '-';
        let complete = true;
        let present = 0;
        let required = 0;
        try {
          const c = await checkImage(conn, target, call);
          const presentSize = c.present.reduce((n, d) => n + d.size, 0);
          const requiredSize = c.required.reduce((n, d) => n + d.size, 0);
          present = c.present.length;
          required = c.required.length;
          if (c.missing.length > 0) {
            status = 'incomplete';
            complete = false;
          }
          if (c.available) {
            status += ` (${c.present.length}/${c.required.length})`;
            size = `${progressBytes(presentSize)}/${progressBytes(requiredSize)}`;
          } else {
            status = `unavailable (${c.present.length}/?)`;
            size = `${progressBytes(presentSize)}/?`;
            complete = false;
          }
        } catch (err) {
          exitError ??= `unable to check ${image.name}: ${(err as Error).message}`;
          logLine('error', `unable to check ${image.name}`, { error: (err as Error).message });
          status = 'error';
          complete = false;
        }
        let unpacked = false;
        try {
          unpacked = await isUnpacked(conn, target, ctx.string('snapshotter'), call);
        } catch (err) {
          exitError ??= `unable to check unpack for ${image.name}: ${(err as Error).message}`;
          logLine('error', `unable to check unpack for ${image.name}`, { error: (err as Error).message });
        }
        if (json) rows.push({ name: image.name, mediaType: target.mediaType, digest: target.digest, status, complete, present, required, size, unpacked });
        else if (!quiet) w.write(`${image.name}\t${target.mediaType}\t${target.digest}\t${status}\t${size}\t${unpacked}\n`);
        else if (complete) ctx.out(`${image.name}\n`);
      }
      if (json) ctx.out(`${JSON.stringify(rows, null, 2)}\n`);
      else if (!quiet) ctx.out(w.flush());
    });
    if (exitError !== undefined) throw new CommandError(exitError);
  },
};

/** The subcommands this file adds to `ctr-ts images`, in ctr's order around list/pull/push/rm. */
const convertCommand: Command = {
  name: 'convert',
  usage: 'convert an image',
  argsUsage: '[flags] <source_ref> <target_ref>',
  description: `Convert an image format.

e.g., 'ctr convert --uncompress --oci example.com/foo:orig example.com/foo:converted'

Use '--platform' to define the output platform.
When '--all-platforms' is given all images in a manifest list must be available.
`,
  flags: [
    { name: 'uncompress', type: 'bool', usage: 'convert tar.gz layers to uncompressed tar layers' },
    { name: 'oci', type: 'bool', usage: 'convert Docker media types to OCI media types' },
    { name: 'platform', type: 'string-slice', usage: 'Pull content from a specific platform' },
    { name: 'all-platforms', type: 'bool', usage: 'exports content from all platforms' },
  ],
  async action(ctx) {
    const [srcRef = '', targetRef = ''] = ctx.args;
    if (srcRef === '' || targetRef === '') throw new CommandError('src and target image need to be specified');
    let platform: ((p: Platform) => boolean) | undefined;
    if (!ctx.bool('all-platforms')) {
      const wanted = parsePlatformFlags(ctx.strings('platform'), (p) => `invalid platform ${JSON.stringify(p)}`);
      // platforms.Ordered(...) of the flags, else platforms.DefaultStrict(): exact matches only.
      const matchers = (wanted.length > 0 ? wanted : [defaultPlatform()]).map(strictPlatformMatcher);
      platform = (p) => matchers.some((m) => m(p));
    }
    await withConn(ctx, async (conn, call) => {
      const image = await convertImage(conn, srcRef, targetRef, { uncompress: ctx.bool('uncompress'), docker2oci: ctx.bool('oci'), platform }, call).catch(fail);
      ctx.out(`${image.target?.digest ?? ''}\n`);
    });
  },
};

export const imagesArchiveCommands = { check: checkCommand, convert: convertCommand, export: exportCommand, import: importCommand, tag: tagCommand, label: labelCommand };
