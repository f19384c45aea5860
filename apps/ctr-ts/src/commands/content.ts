// ctr-ts content ls/get/ingest/rm/label/active/prune/edit/fetch/fetch-object/push-object:
// the content store and single objects of a registry, in ctr's exact output (tables,
// messages and errors).
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type Info, type Status, WriteAction, type WriteContentResponse, ContentService } from '@containerd-ts/api/services/content';
import { LeasesService } from '@containerd-ts/api/services/leases';
import {
  type Connection,
  type Platform,
  Registry,
  commitContent,
  contentInfo,
  defaultPlatform,
  fetchImage,
  formatPlatform,
  openContentWriter,
  readContentStream,
  withLease,
} from '@containerd-ts/client';
import { isAlreadyExists, isNotFound } from '@containerd-ts/errdefs';
import { GO_ZERO_TIME, type Timestamp, formatRFC3339Nano, toDate } from '@containerd-ts/timestamp';
import { type Command, ExitError } from '../cli.js';
import { CommandError, globalOptions, withConnection } from '../context.js';
import { parsePlatformFlags } from '../platform-flags.js';
import { REGISTRY_FLAGS, registryOptions } from '../resolver.js';
import { PullProgress } from './images.js';
import { humanDuration, humanSize, parseDigest, validateDigest } from '../format.js';
import { labelArgs } from './namespaces.js';
import { formatRFC3339Local, logLine } from '../log.js';

const since = (t: Timestamp | undefined) => Date.now() - toDate(t ?? GO_ZERO_TIME).getTime();

/** Labels as `k=v` joined by commas (ctr prints them in Go's map order; ctr-ts sorts them). */
const joinLabels = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .sort()
    .join(',');

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list all blobs in the store',
  argsUsage: '[flags]',
  description: 'list blobs in the content store',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the blob digest' }],
  table: true,
  async action(ctx) {
    const infos = await withConnection(ctx, async (conn) => {
      const all: Info[] = [];
      for await (const res of conn.serverStream(ContentService.list, { filters: ctx.args })) all.push(...res.info);
      return all;
    });
    if (ctx.bool('quiet')) {
      for (const i of infos) ctx.out(`${i.digest}\n`);
      return;
    }
    ctx.table({
      header: ['DIGEST', 'SIZE', 'AGE', 'LABELS'],
      rows: infos,
      cells: (i) => [i.digest, humanSize(i.size), humanDuration(since(i.createdAt)), joinLabels(i.labels) || '-'],
      json: (i) => ({
        digest: i.digest,
        size: i.size,
        createdAt: formatRFC3339Nano(i.createdAt ?? GO_ZERO_TIME),
        updatedAt: formatRFC3339Nano(i.updatedAt ?? GO_ZERO_TIME),
        labels: i.labels,
      }),
      tabwriter: { minwidth: 1, padding: 1, padchar: '\t', tabwidth: 8 },
      trailingTab: false,
    });
  },
};

const getCommand: Command = {
  name: 'get',
  usage: 'get the data for an object',
  argsUsage: '[<digest>, ...]',
  description: 'display the image object',
  async action(ctx) {
    const digest = parseDigest(ctx.args[0] ?? '');
    await withConnection(ctx, async (conn) => {
      // ctr's reader asks for the size first: a missing blob fails there.
      await conn.unary(ContentService.info, { digest });
      for await (const res of conn.serverStream(ContentService.read, { digest, offset: 0, size: 0 })) {
        await new Promise<void>((resolve, reject) => process.stdout.write(res.data, (err) => (err ? reject(err) : resolve())));
      }
    });
  },
};

/** content.WriteBlob as ctr calls it: stdin into the store under `ref`. */
async function ingest(conn: Connection, ref: string, size: number, expected: string): Promise<void> {
  let opened: Awaited<ReturnType<typeof openContentWriter>>;
  try {
    opened = await openContentWriter(conn, ref, size, expected);
  } catch (err) {
    throw new CommandError((err as Error).message);
  }
  if (!opened) return;
  const { stream, status } = opened;
  try {
    let skip = status.offset;
    let offset = status.offset;
    let copied = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      let data: Buffer = chunk;
      if (skip > 0) {
        const n = Math.min(skip, data.length);
        skip -= n;
        data = data.subarray(n);
      }
      for (let at = 0; at < data.length; at += 1 << 20) {
        const part = data.subarray(at, at + (1 << 20));
        let res: WriteContentResponse;
        try {
          res = await stream.send({ action: WriteAction.WRITE, offset, data: part });
        } catch (err) {
          throw new CommandError(`failed to copy: failed to send write: ${(err as Error).message}`);
        }
        const n = res.offset - offset;
        offset += n;
        copied += n;
        if (n < part.length) throw new CommandError('failed to copy: short write');
      }
    }
    if (skip > 0) throw new CommandError(`unable to resume write to ${ref}: EOF`);
    if (size !== 0 && copied < size - status.offset) throw new CommandError('failed to read expected number of bytes: unexpected EOF');
    let res: WriteContentResponse;
    try {
      res = await stream.send({ action: WriteAction.COMMIT, total: size, offset, expected });
    } catch (err) {
      if (isAlreadyExists(err)) return;
      throw new CommandError(`failed commit on ref "${ref}": commit failed: ${(err as Error).message}`);
    }
    if (size !== 0 && res.offset !== size) throw new CommandError(`failed commit on ref "${ref}": unexpected size: ${res.offset} != ${size}`);
    if (expected !== '' && res.digest !== expected) throw new CommandError(`failed commit on ref "${ref}": unexpected digest: ${res.digest} != ${expected}`);
  } finally {
    stream.close();
  }
}

const ingestCommand: Command = {
  name: 'ingest',
  usage: 'accept content into the store',
  argsUsage: '[flags] <key>',
  description: 'ingest objects into the local content store',
  flags: [
    { name: 'expected-size', type: 'int', usage: 'validate against provided size' },
    { name: 'expected-digest', type: 'string', usage: 'verify content against expected digest' },
  ],
  async action(ctx) {
    const ref = ctx.args[0] ?? '';
    const expected = ctx.string('expected-digest');
    if (expected !== '') validateDigest(expected);
    if (ref === '') throw new CommandError('must specify a transaction reference');
    await withConnection(ctx, (conn) => ingest(conn, ref, ctx.number('expected-size'), expected));
  },
};

const deleteCommand: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  usage: 'permanently delete one or more blobs',
  argsUsage: '[<digest>, ...]',
  description: 'Delete one or more blobs permanently. Successfully deleted\n\tblobs are printed to stdout.',
  async action(ctx) {
    let exitError: string | undefined;
    await withConnection(ctx, async (conn) => {
      for (const arg of ctx.args) {
        let digest: string;
        try {
          digest = parseDigest(arg);
        } catch (err) {
          exitError ??= (err as Error).message;
          // go-digest's Parse returns the text it could not parse along with the error.
          logLine('error', `could not delete ${arg}`, { error: (err as Error).message });
          continue;
        }
        try {
          await conn.unary(ContentService.delete, { digest });
        } catch (err) {
          if (!isNotFound(err)) {
            exitError ??= (err as Error).message;
            logLine('error', `could not delete ${digest}`, { error: (err as Error).message });
          }
          continue;
        }
        ctx.out(`${digest}\n`);
      }
    });
    if (exitError !== undefined) throw new CommandError(exitError);
  },
};

const labelCommand: Command = {
  name: 'label',
  usage: 'add labels to content',
  argsUsage: '<digest> [<label>=<value> ...]',
  description: 'labels blobs in the content store',
  async action(ctx) {
    const [object = '', ...rest] = ctx.args;
    const labels = labelArgs(rest);
    await withConnection(ctx, async (conn) => {
      const digest = parseDigest(object);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const set = Object.fromEntries(Object.entries(labels).filter(([, v]) => v !== ''));
      // Nothing to update: print the labels as they are.
      const res =
        paths.length === 0
          ? await conn.unary(ContentService.info, { digest })
          : await conn.unary(ContentService.update, {
              info: { digest, size: 0, createdAt: undefined, updatedAt: undefined, labels: set },
              updateMask: paths,
            });
      ctx.out(`${joinLabels(res.info?.labels ?? {})}\n`);
    });
  },
};

const activeCommand: Command = {
  name: 'active',
  usage: 'display active transfers',
  argsUsage: '[flags] [<regexp>]',
  description: 'display the ongoing transfers',
  flags: [
    { name: 'timeout', aliases: ['t'], type: 'duration', usage: 'total timeout for fetch', env: 'CONTAINERD_FETCH_TIMEOUT' },
    { name: 'root', type: 'string', usage: 'path to content store root', value: '/tmp/content' },
  ],
  table: true,
  async action(ctx) {
    const match = ctx.args[0] ?? '';
    const statuses = await withConnection(ctx, async (conn) => (await conn.unary(ContentService.listStatuses, { filters: [match] })).statuses);
    ctx.table<Status>({
      header: ['REF', 'SIZE', 'AGE'],
      rows: statuses,
      cells: (s) => [s.ref, humanSize(s.offset), humanDuration(since(s.startedAt))],
      json: (s) => ({
        ref: s.ref,
        offset: s.offset,
        total: s.total,
        expected: s.expected,
        startedAt: formatRFC3339Nano(s.startedAt ?? GO_ZERO_TIME),
        updatedAt: formatRFC3339Nano(s.updatedAt ?? GO_ZERO_TIME),
      }),
      tabwriter: { minwidth: 1, padding: 1, padchar: '\t', tabwidth: 8 },
      trailingTab: true,
    });
  },
};

const LAYER_PREFIX = 'containerd.io/gc.ref.content.l.';
const CONTENT_PREFIX = 'containerd.io/gc.ref.content.';

/** A layer's reference label (and the legacy numbered ones but 0, the config). */
export function isLayerLabel(key: string): boolean {
  if (key.startsWith(LAYER_PREFIX)) return true;
  if (!key.startsWith(CONTENT_PREFIX)) return false;
  const rest = key.slice(CONTENT_PREFIX.length);
  return /^\d*$/.test(rest) && rest !== '0';
}

/** leases.WithRandomID: the nanoseconds of now and 3 random bytes in URL base64. */
export const randomLeaseId = () => `${(Date.now() % 1000) * 1_000_000 + Math.floor(Math.random() * 1_000_000)}-${randomBytes(3).toString('base64url')}`;

const pruneReferencesCommand: Command = {
  name: 'references',
  usage: 'prunes preference labels from the content store (layers only by default)',
  flags: [
    { name: 'async', type: 'bool', usage: 'allow garbage collection to cleanup asynchronously' },
    { name: 'dry', type: 'bool', usage: 'just show updates without applying (enables debug logging)' },
  ],
  async action(ctx) {
    const dry = ctx.bool('dry');
    const debug = (msg: string, fields: Record<string, string> = {}) => logLine('debug', msg, fields);
    if (dry) debug('dry run, no changes will be applied');
    await withConnection(ctx, async (conn) => {
      const infos: Info[] = [];
      for await (const res of conn.serverStream(ContentService.list, { filters: [] })) infos.push(...res.info);
      for (const info of infos) {
        const fields: string[] = [];
        const labels = { ...info.labels };
        for (const k of Object.keys(info.labels)) {
          if (!isLayerLabel(k)) continue;
          if (dry) debug('Removing label', { digest: info.digest, label: k });
          if (dry) continue;
          fields.push(`labels.${k}`);
          delete labels[k];
        }
        if (fields.length === 0) continue;
        await conn.unary(ContentService.update, { info: { ...info, labels }, updateMask: fields });
      }
      const expire = formatRFC3339Local(new Date(Date.now() + 3600_000));
      const lease = await conn.unary(LeasesService.create, { id: randomLeaseId(), labels: { 'containerd.io/gc.expire': expire } });
      await conn.unary(LeasesService.delete, { id: lease.lease?.id ?? '', sync: !ctx.bool('async') });
    });
  },
};

const fetchCommand: Command = {
  name: 'fetch',
  usage: 'fetch all content for an image into containerd',
  argsUsage: '[flags] <remote> <object>',
  description: `Fetch an image into containerd.
	
This command ensures that containerd has all the necessary resources to build
an image's rootfs and convert the configuration to a runtime format supported
by containerd.

This command uses the same syntax, of remote and object, as 'ctr fetch-object'.
We may want to make this nicer, but agnostism is preferred for the moment.

Right now, the responsibility of the daemon and the cli aren't quite clear. Do
not use this implementation as a guide. The end goal should be having metadata,
content and snapshots ready for a direct use via the 'ctr run'.

Most of this is experimental and there are few leaps to make this work.`,
  flags: [
    ...REGISTRY_FLAGS,
    { name: 'label', type: 'string-slice', usage: 'labels to attach to the image' },
    { name: 'platform', type: 'string-slice', usage: 'Pull content from a specific platform' },
    { name: 'all-platforms', type: 'bool', usage: 'pull content from all platforms' },
    { name: 'all-metadata', type: 'bool', usage: 'Pull metadata for all platforms' },
    { name: 'metadata-only', type: 'bool', usage: 'Pull all metadata including manifests and configs' },
  ],
  // ctr's Fetch: client.Fetch under a lease of its own, with no limit on an index's matching
  // manifests; the image record is created (or updated) but nothing is unpacked.
  async action(ctx) {
    const ref = ctx.args[0] ?? '';
    const registry = await registryOptions(ctx);
    const allPlatforms = ctx.bool('all-platforms');
    const metadataOnly = ctx.bool('metadata-only');
    await withConnection(ctx, async (conn) => {
      // platforms.Any of the --platform values (this host's by default); none with --metadata-only.
      let anyOf: Platform[] | undefined;
      if (metadataOnly) anyOf = [];
      else if (!allPlatforms) {
        const given = ctx.strings('platform');
        anyOf = parsePlatformFlags(given.length > 0 ? given : [formatPlatform(defaultPlatform())], (s) => `invalid platform ${s}`);
      }
      await withLease(conn, { namespace: globalOptions(ctx).namespace }, async (call) => {
        // No progress with --debug, as ctr ("it hides some debug logs").
        const progress = globalOptions(ctx).debug ? undefined : new PullProgress(ref, ctx.out, process.stdout.isTTY === true, process.stdout.columns ?? 0);
        progress?.begin();
        try {
          await fetchImage(
            conn,
            ref,
            {
              plainHttp: registry.plainHttp,
              registry,
              labels: labelArgs(ctx.strings('label')),
              // --metadata-only is all metadata with a matcher that matches nothing.
              allPlatforms: allPlatforms && !metadataOnly,
              allMetadata: metadataOnly || ctx.bool('all-metadata'),
              ...(anyOf ? { anyOf } : {}),
              onEvent: (e) => progress?.event(e),
            },
            call,
          );
        } catch (err) {
          progress?.stop();
          throw new CommandError((err as Error).message);
        }
        progress?.end();
      });
    });
  },
};

/** Writes `data` to stdout, waiting until it is taken. */
const writeOut = (data: Uint8Array) => new Promise<void>((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())));

const SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = { SIGKILL: 'killed', SIGTERM: 'terminated', SIGINT: 'interrupt', SIGHUP: 'hangup', SIGSEGV: 'segmentation fault', SIGABRT: 'aborted', SIGPIPE: 'broken pipe' };

/**
 * ctr's edit(): the blob in a temp file `edit-<n>` under $XDG_RUNTIME_DIR (the temp dir when
 * unset), `sh -c "<editor> <file>"` on this terminal, then the bytes read back through the
 * file opened before the editor ran — as ctr does: an editor that writes a new file in the
 * file's place (`sed -i`) leaves the old bytes there. A failing editor is urfave's exit
 * error: `exit status N`, without the program's name, and its status (255 for a signal).
 * The file is removed on every path (ctr leaves it behind when the editor fails).
 */
async function editInTempFile(editor: string, blob: AsyncIterable<Uint8Array>, edited: (data: AsyncIterable<Uint8Array>) => Promise<string>): Promise<string> {
  if (editor === '') throw new CommandError('editor is required');
  const dir = process.env.XDG_RUNTIME_DIR || tmpdir();
  let path = '';
  let file: Awaited<ReturnType<typeof open>> | undefined;
  for (let i = 0; !file; i++) {
    path = join(dir, `edit-${randomInt(1, 2 ** 32)}`);
    try {
      file = await open(path, 'wx+', 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 10000) throw new CommandError(`open ${path}: ${(err as Error).message}`);
    }
  }
  try {
    for await (const chunk of blob) await file.write(chunk);
    const child = spawn('sh', ['-c', `${editor} ${path}`], { stdio: 'inherit' });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    });
    if (signal) throw new ExitError(`signal: ${SIGNAL_NAMES[signal] ?? signal}`, 255);
    if (code !== 0) throw new ExitError(`exit status ${code}`, code ?? 1);
    return await edited(file.createReadStream({ start: 0, autoClose: false }));
  } finally {
    await file.close();
    await rm(path, { force: true });
  }
}

const editCommand: Command = {
  name: 'edit',
  usage: 'edit a blob and return a new digest',
  argsUsage: '[flags] <digest>',
  description: 'edit a blob and return a new digest',
  flags: [
    { name: 'validate', type: 'string', usage: 'validate the result against a format (json, mediatype, etc.)' },
    { name: 'editor', type: 'string', usage: 'select editor (vim, emacs, etc.)', env: 'EDITOR' },
  ],
  async action(ctx) {
    const object = ctx.args[0] ?? '';
    if (ctx.string('validate') !== '') throw new CommandError('validating the edit result not supported');
    const digest = parseDigest(object);
    const edited = await withConnection(ctx, async (conn) => {
      // ctr's reader asks for the size first: a missing blob fails there.
      await conn.unary(ContentService.info, { digest });
      // The new blob is written under ref `edit-<digest>` and committed under what it hashes to.
      return editInTempFile(ctx.string('editor'), readContentStream(conn, digest), (data) => commitContent(conn, `edit-${object}`, data));
    });
    ctx.out(`${edited}\n`);
  },
};

const fetchObjectCommand: Command = {
  name: 'fetch-object',
  usage: 'retrieve objects from a remote',
  argsUsage: '[flags] <remote> <object> [<hint>, ...]',
  description: 'Fetch objects by identifier from a remote.',
  flags: REGISTRY_FLAGS,
  // ctr resolves <remote> (a tag or a digest reference) and prints what it names; <object>
  // and the hints are not used. No daemon is involved.
  async action(ctx) {
    const ref = ctx.args[0] ?? '';
    const options = await registryOptions(ctx, { trace: false });
    const registry = new Registry(ref, { ...options, log: (msg, fields) => logLine('info', msg, { ...fields, ref }) });
    const desc = await registry.resolve();
    const body = await registry.fetch(desc);
    for await (const chunk of body as AsyncIterable<Buffer>) await writeOut(chunk);
  },
};

const pushObjectCommand: Command = {
  name: 'push-object',
  usage: 'push an object to a remote',
  argsUsage: '[flags] <remote> <object> <type>',
  description: 'Push objects by identifier to a remote.',
  flags: REGISTRY_FLAGS,
  // ctr pushes one blob of the store as <type>: a manifest or index type goes under the
  // reference's tag (or its digest), anything else is uploaded as a blob.
  async action(ctx) {
    const [ref = '', object = '', media = ''] = ctx.args;
    const digest = parseDigest(object);
    await withConnection(ctx, async (conn) => {
      const registry = new Registry(ref, await registryOptions(ctx, { trace: false }));
      const info = await contentInfo(conn, digest);
      const desc = { mediaType: media, digest, size: info.size };
      await registry.pushObject(desc, () => Readable.from(readContentStream(conn, digest)));
      ctx.out(`Pushed ${desc.digest} ${desc.mediaType}\n`);
    });
  },
};

export const contentCommand: Command = {
  name: 'content',
  usage: 'manage content',
  subcommands: [
    activeCommand,
    deleteCommand,
    editCommand,
    fetchCommand,
    fetchObjectCommand,
    getCommand,
    ingestCommand,
    listCommand,
    pushObjectCommand,
    labelCommand,
    { name: 'prune', usage: 'prunes content from the content store', subcommands: [pruneReferencesCommand] },
  ],
};
