// ctr-ts snapshots [--snapshotter NAME] ls/info/prepare/view/mounts/commit/rm/label/usage/tree/
// diff/unpack: a snapshotter through containerd's snapshots service, in ctr's exact output.
import { ImagesService } from '@containerd-ts/api/services/images';
import { NamespacesService } from '@containerd-ts/api/services/namespaces';
import { type Info, Kind, SnapshotsService } from '@containerd-ts/api/services/snapshots';
import type { Mount } from '@containerd-ts/api/types/mount';
import { compareSnapshots, createDiff, defaultPlatform, readContentStream, unpackImage, withLease } from '@containerd-ts/client';
import { GO_ZERO_TIME, formatRFC3339Nano } from '@containerd-ts/timestamp';
import type { Command, Context, Flag } from '../cli.js';
import { CommandError, connect, globalOptions } from '../context.js';
import { parseDigest, progressBytes } from '../format.js';
import { labelArgs } from './namespaces.js';

/** ctr's commands.SnapshotterFlags. */
export const SNAPSHOTTER_FLAG: Flag = {
  name: 'snapshotter',
  type: 'string',
  usage: 'snapshotter name. Empty value stands for the default value.',
  env: 'CONTAINERD_SNAPSHOTTER',
};

type Conn = Awaited<ReturnType<typeof connect>>;

/** The platform's default snapshotter, as ctr's client falls back to it. */
export const DEFAULT_SNAPSHOTTER = 'overlayfs';
const DEFAULT_SNAPSHOTTER_LABEL = 'containerd.io/defaults/snapshotter';

/** The namespace's `containerd.io/defaults/snapshotter` label, else overlayfs (containerd's client). */
async function namespaceSnapshotter(conn: Conn, namespace: string): Promise<string> {
  try {
    const res = await conn.unary(NamespacesService.get, { name: namespace });
    return res.namespace?.labels[DEFAULT_SNAPSHOTTER_LABEL] || DEFAULT_SNAPSHOTTER;
  } catch {
    return DEFAULT_SNAPSHOTTER;
  }
}

/**
 * Runs `f` with the snapshotter named by --snapshotter or, when empty, by the namespace's
 * `containerd.io/defaults/snapshotter` label, else overlayfs (containerd's client).
 */
async function withSnapshotter<T>(ctx: Context, f: (conn: Conn, snapshotter: string) => Promise<T>): Promise<T> {
  const opts = globalOptions(ctx);
  const conn = await connect(opts);
  try {
    return await f(conn, ctx.string('snapshotter') || (await namespaceSnapshotter(conn, opts.namespace)));
  } finally {
    conn.close();
  }
}

export const kindName = (k: Kind) => (k === Kind.VIEW ? 'View' : k === Kind.ACTIVE ? 'Active' : k === Kind.COMMITTED ? 'Committed' : 'Unknown');

const sortedLabels = (labels: Record<string, string>) => Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

/** snapshots.Info as Go's encoding/json writes it (Parent and Labels omitted when empty). */
export function infoJson(info: Info): Record<string, unknown> {
  return {
    Kind: kindName(info.kind),
    Name: info.name,
    ...(info.parent !== '' ? { Parent: info.parent } : {}),
    ...(Object.keys(info.labels).length > 0 ? { Labels: sortedLabels(info.labels) } : {}),
    Created: formatRFC3339Nano(info.createdAt ?? GO_ZERO_TIME),
    Updated: formatRFC3339Nano(info.updatedAt ?? GO_ZERO_TIME),
  };
}

/** commands.PrintAsJSON: json.MarshalIndent with four spaces. */
const printJson = (ctx: Context, v: unknown) => ctx.out(`${JSON.stringify(v, null, 4)}\n`);

const mountsJson = (mounts: readonly Mount[]) => mounts.map((m) => ({ Type: m.type, Source: m.source, Options: m.options.length > 0 ? m.options : null }));

function printMounts(ctx: Context, target: string, mounts: readonly Mount[]): void {
  for (const m of mounts) ctx.out(`mount -t ${m.type} ${m.source} ${target} -o ${m.options.join(',')}\n`);
}

/** time.Now().UTC().Format(time.RFC3339), the gc.root label ctr sets. */
const gcRootNow = () => `${new Date().toISOString().slice(0, 19)}Z`;

async function walk(conn: Conn, snapshotter: string): Promise<Info[]> {
  const all: Info[] = [];
  for await (const res of conn.serverStream(SnapshotsService.list, { snapshotter, filters: [] })) all.push(...res.info);
  return all;
}

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list snapshots',
  table: true,
  async action(ctx) {
    const infos = await withSnapshotter(ctx, (conn, sn) => walk(conn, sn));
    ctx.table({
      header: ['KEY', 'PARENT', 'KIND'],
      rows: infos,
      cells: (i) => [i.name, i.parent, kindName(i.kind)],
      json: (i) => ({
        key: i.name,
        parent: i.parent,
        kind: kindName(i.kind),
        createdAt: formatRFC3339Nano(i.createdAt ?? GO_ZERO_TIME),
        updatedAt: formatRFC3339Nano(i.updatedAt ?? GO_ZERO_TIME),
        labels: i.labels,
      }),
      tabwriter: { minwidth: 1, padding: 1 },
      trailingTab: true,
    });
  },
};

const usageCommand: Command = {
  name: 'usage',
  usage: 'usage snapshots',
  argsUsage: '[flags] [<key>, ...]',
  flags: [{ name: 'b', type: 'bool', usage: 'display size in bytes' }],
  table: true,
  async action(ctx) {
    const rows = await withSnapshotter(ctx, async (conn, snapshotter) => {
      const keys = ctx.args.length > 0 ? ctx.args : (await walk(conn, snapshotter)).map((i) => i.name);
      const out: Array<{ key: string; size: number; inodes: number }> = [];
      for (const key of keys) {
        const u = await conn.unary(SnapshotsService.usage, { snapshotter, key });
        out.push({ key, size: u.size, inodes: u.inodes });
      }
      return out;
    });
    const bytes = ctx.bool('b');
    ctx.table({
      header: ['KEY', 'SIZE', 'INODES'],
      rows,
      cells: (r) => [r.key, bytes ? String(r.size) : progressBytes(r.size), r.inodes],
      json: (r) => r,
      tabwriter: { minwidth: 1, padding: 1 },
      trailingTab: true,
    });
  },
};

const removeCommand: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  usage: 'remove snapshots',
  argsUsage: '<key> [<key>, ...]',
  async action(ctx) {
    await withSnapshotter(ctx, async (conn, snapshotter) => {
      for (const key of ctx.args) {
        try {
          await conn.unary(SnapshotsService.remove, { snapshotter, key });
        } catch (err) {
          throw new CommandError(`failed to remove ${JSON.stringify(key)}: ${(err as Error).message}`);
        }
      }
    });
  },
};

const mountFlags: Command['flags'] = [
  { name: 'target', aliases: ['t'], type: 'string', usage: 'mount target path, will print mount, if provided' },
  { name: 'mounts', type: 'bool', usage: 'Print out snapshot mounts as JSON' },
];

const prepareCommand: Command = {
  name: 'prepare',
  usage: 'prepare a snapshot from a committed snapshot',
  argsUsage: '[flags] <key> [<parent>]',
  flags: mountFlags,
  async action(ctx) {
    if (ctx.args.length < 1 || ctx.args.length > 2) return ctx.showHelp();
    const [key = '', parent = ''] = ctx.args;
    const labels = { 'containerd.io/gc.root': gcRootNow() };
    const { mounts } = await withSnapshotter(ctx, (conn, snapshotter) => conn.unary(SnapshotsService.prepare, { snapshotter, key, parent, labels }));
    if (ctx.string('target') !== '') printMounts(ctx, ctx.string('target'), mounts);
    if (ctx.bool('mounts')) printJson(ctx, mountsJson(mounts));
  },
};

const viewCommand: Command = {
  name: 'view',
  usage: 'create a read-only snapshot from a committed snapshot',
  argsUsage: '[flags] <key> [<parent>]',
  flags: mountFlags,
  async action(ctx) {
    if (ctx.args.length < 1 || ctx.args.length > 2) return ctx.showHelp();
    const [key = '', parent = ''] = ctx.args;
    const { mounts } = await withSnapshotter(ctx, (conn, snapshotter) => conn.unary(SnapshotsService.view, { snapshotter, key, parent, labels: {} }));
    if (ctx.string('target') !== '') printMounts(ctx, ctx.string('target'), mounts);
    if (ctx.bool('mounts')) printJson(ctx, mountsJson(mounts));
  },
};

const mountCommand: Command = {
  name: 'mounts',
  aliases: ['m', 'mount'],
  usage: 'mount gets mount commands for the snapshots',
  argsUsage: '<target> <key>',
  async action(ctx) {
    if (ctx.args.length !== 2) return ctx.showHelp();
    const [target = '', key = ''] = ctx.args;
    const { mounts } = await withSnapshotter(ctx, (conn, snapshotter) => conn.unary(SnapshotsService.mounts, { snapshotter, key }));
    printMounts(ctx, target, mounts);
  },
};

const commitCommand: Command = {
  name: 'commit',
  usage: 'commit an active snapshot into the provided name',
  argsUsage: '<key> <active>',
  async action(ctx) {
    if (ctx.args.length !== 2) return ctx.showHelp();
    const [name = '', key = ''] = ctx.args;
    const labels = { 'containerd.io/gc.root': gcRootNow() };
    await withSnapshotter(ctx, (conn, snapshotter) => conn.unary(SnapshotsService.commit, { snapshotter, name, key, labels }));
  },
};

interface TreeNode {
  info: Pick<Info, 'name' | 'parent'>;
  children: string[];
}

/** The lines of `ctr snapshots tree`: roots in walk order, children indented under them. */
export function renderTree(infos: ReadonlyArray<Pick<Info, 'name' | 'parent'>>): string {
  const nodes: TreeNode[] = [];
  const index = new Map<string, TreeNode>();
  const add = (info: Pick<Info, 'name' | 'parent'>): TreeNode => {
    let entry = index.get(info.name);
    if (!entry) {
      entry = { info, children: [] };
      nodes.push(entry);
      index.set(info.name, entry);
    } else entry.info = info;
    if (info.parent !== '') {
      const pn = index.get(info.parent) ?? add({ name: info.parent, parent: '' });
      pn.children.push(info.name);
    }
    return entry;
  };
  for (const info of infos) add(info);
  let out = '';
  const print = (name: string, level: number) => {
    const node = index.get(name)!;
    out += `${'  '.repeat(level)}${level > 0 ? '\\_' : ''} ${node.info.name}\n`;
    for (const child of node.children) print(child, level + 1);
  };
  for (const node of nodes) if (node.info.parent === '') print(node.info.name, 0);
  return out;
}

const treeCommand: Command = {
  name: 'tree',
  usage: 'display tree view of snapshot branches',
  async action(ctx) {
    ctx.out(renderTree(await withSnapshotter(ctx, (conn, sn) => walk(conn, sn))));
  },
};

const infoCommand: Command = {
  name: 'info',
  usage: 'get info about a snapshot',
  argsUsage: '<key>',
  async action(ctx) {
    if (ctx.args.length !== 1) return ctx.showHelp();
    const key = ctx.args[0]!;
    const { info } = await withSnapshotter(ctx, (conn, snapshotter) => conn.unary(SnapshotsService.stat, { snapshotter, key }));
    if (info) printJson(ctx, infoJson(info));
  },
};

const labelCommand: Command = {
  name: 'label',
  usage: 'add labels to content',
  argsUsage: '<name> [<label>=<value> ...]',
  description: 'labels snapshots in the snapshotter',
  async action(ctx) {
    const [key = '', ...rest] = ctx.args;
    const labels = labelArgs(rest);
    const paths = Object.keys(labels).map((k) => `labels.${k}`);
    const set = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
    const { info } = await withSnapshotter(ctx, (conn, snapshotter) =>
      // Nothing to update: print the labels as they are.
      paths.length === 0
        ? conn.unary(SnapshotsService.stat, { snapshotter, key })
        : conn.unary(SnapshotsService.update, {
            snapshotter,
            info: { name: key, parent: '', kind: Kind.UNKNOWN, createdAt: undefined, updatedAt: undefined, labels: set },
            updateMask: paths,
          }),
    );
    ctx.out(
      `${Object.entries(info?.labels ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .sort()
        .join(',')}\n`,
    );
  },
};

/** Writes `chunk` to stdout, waiting until it is taken (a diff can be large). */
const writeOut = (chunk: Uint8Array) => new Promise<void>((resolve, reject) => process.stdout.write(chunk, (err) => (err ? reject(err) : resolve())));

const diffCommand: Command = {
  name: 'diff',
  usage: "get the diff of two snapshots. the default second snapshot is the first snapshot's parent.",
  argsUsage: '[flags] <idA> [<idB>]',
  flags: [
    { name: 'media-type', type: 'string', usage: 'media type to use for creating diff', value: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    { name: 'ref', type: 'string', usage: 'content upload reference to use' },
    { name: 'keep', type: 'bool', usage: 'keep diff content. up to creator to delete it.' },
    { name: 'label', type: 'string-slice', usage: 'labels to attach to the image' },
  ],
  async action(ctx) {
    const [idA = '', idB = ''] = ctx.args;
    if (idA === '') throw new CommandError('snapshot id must be provided');
    const labels = labelArgs(ctx.strings('label'));
    if (ctx.bool('keep')) labels['containerd.io/gc.root'] = gcRootNow();
    const opts = { mediaType: ctx.string('media-type'), ref: ctx.string('ref'), labels };
    // Under a lease of its own (deleted as ctr's is when the command ends): without --keep
    // the layer is the collector's once it has been printed.
    await withSnapshotter(ctx, (conn, snapshotter) =>
      withLease(conn, {}, async (call) => {
        const desc =
          idB === '' ? await createDiff(conn, snapshotter, idA, opts, call) : await compareSnapshots(conn, snapshotter, idA, idB, opts, call);
        for await (const chunk of readContentStream(conn, desc.digest, call)) await writeOut(chunk);
      }),
    );
  },
};

const unpackCommand: Command = {
  name: 'unpack',
  usage: 'unpack applies layers from a manifest to a snapshot',
  argsUsage: '[flags] <digest>',
  flags: [SNAPSHOTTER_FLAG],
  async action(ctx) {
    const digest = parseDigest(ctx.args[0] ?? '');
    // The image whose target is the digest (ctr has no unpack by name), unpacked for this
    // platform into the snapshotter of the command's own flag (the namespace's default when empty).
    await withSnapshotter(ctx, async (conn, snapshotter) => {
      const { images } = await conn.unary(ImagesService.list, { filters: [] });
      const target = images.find((i) => i.target?.digest === digest)?.target;
      if (!target) throw new CommandError('manifest not found');
      ctx.out(`unpacking ${digest} (${target.mediaType})...`);
      try {
        await unpackImage(conn, target, { snapshotter, platform: defaultPlatform() });
      } catch (err) {
        ctx.out('\n');
        throw new CommandError((err as Error).message);
      }
      ctx.out('done\n');
    });
  },
};

export const snapshotsCommand: Command = {
  name: 'snapshots',
  aliases: ['snapshot'],
  usage: 'manage snapshots',
  flags: [SNAPSHOTTER_FLAG],
  subcommands: [commitCommand, diffCommand, infoCommand, listCommand, mountCommand, prepareCommand, removeCommand, labelCommand, treeCommand, unpackCommand, usageCommand, viewCommand],
};
