// ctr-ts containers: create, delete, info, list and label, with ctr's output (`info` prints
// the record as ctr's PrintAsJSON does, the spec decoded) and `--format json` for `ls`.
import { type Container, ContainersService } from '@containerd-ts/api/services/containers';
import { Task, canonicalSpec, containerSpec, createContainer, deleteContainer, getContainer, statusString } from '@containerd-ts/client';
import { isNotFound } from '@containerd-ts/errdefs';
import { GO_ZERO_TIME, formatRFC3339Nano } from '@containerd-ts/timestamp';
import type { Command } from '../cli.js';
import { CommandError, withConnection } from '../context.js';
import { logLine } from '../log.js';
import { containerCheckpointCommand, containerRestoreCommand } from './containers-checkpoint.js';
import { CONTAINER_FLAGS, SNAPSHOTTER_FLAGS, containerOptions, labelArgs, refAndId } from './run.js';

/** encoding/json's escaping of <, >, & (and U+2028/9) in a JSON text. */
const goEscape = (json: string) => json.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

const sortedMap = (m: Record<string, string> | undefined) =>
  m && Object.keys(m).length > 0 ? Object.fromEntries(Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : null;

/** A gogo types.Any as encoding/json writes it (`type_url`, base64 `value`, both omitempty). */
const anyJson = (a: { typeUrl: string; value: Uint8Array } | undefined) => {
  if (!a) return null;
  const out: Record<string, string> = {};
  if (a.typeUrl) out.type_url = a.typeUrl;
  if (a.value && a.value.length > 0) out.value = Buffer.from(a.value).toString('base64');
  return out;
};

/** containers.Container as ctr's `containers info` prints it. */
export function containerInfoJson(c: Container): string {
  const spec = containerSpec(c);
  const extensions = Object.keys(c.extensions ?? {}).length > 0 ? Object.fromEntries(Object.entries(c.extensions).map(([k, v]) => [k, anyJson(v as { typeUrl: string; value: Uint8Array })])) : null;
  const obj: Record<string, unknown> = {
    ID: c.id,
    Labels: sortedMap(c.labels),
    Image: c.image,
    Runtime: { Name: c.runtime?.name ?? '', Options: anyJson(c.runtime?.options) },
    ...(spec ? {} : { Spec: anyJson(c.spec) }),
    SnapshotKey: c.snapshotKey,
    Snapshotter: c.snapshotter,
    CreatedAt: formatRFC3339Nano(c.createdAt ?? GO_ZERO_TIME),
    UpdatedAt: formatRFC3339Nano(c.updatedAt ?? GO_ZERO_TIME),
    Extensions: extensions,
  };
  if (spec) obj.Spec = canonicalSpec(spec);
  return goEscape(JSON.stringify(obj, null, 4));
}

const createCommand: Command = {
  name: 'create',
  usage: 'create container',
  argsUsage: '[flags] Image|RootFS CONTAINER [COMMAND] [ARG...]',
  flags: [...SNAPSHOTTER_FLAGS, ...CONTAINER_FLAGS],
  async action(ctx) {
    const { ref, id } = refAndId(ctx, ': invalid argument');
    const opts = containerOptions(ctx, ref);
    await withConnection(ctx, (conn, namespace) => createContainer(conn, namespace, id, opts));
  },
};

const deleteCommand: Command = {
  name: 'delete',
  aliases: ['del', 'remove', 'rm'],
  usage: 'delete one or more existing containers',
  argsUsage: '[flags] CONTAINER [CONTAINER, ...]',
  flags: [{ name: 'keep-snapshot', type: 'bool', usage: 'do not clean up snapshot with container' }],
  async action(ctx) {
    await withConnection(ctx, async (conn) => {
      if (ctx.args.length === 0) throw new CommandError('must specify at least one container to delete: invalid argument');
      let first: Error | undefined;
      for (const id of ctx.args) {
        try {
          await getContainer(conn, id);
          let task: Awaited<ReturnType<typeof Task.load>> | undefined;
          try {
            task = await Task.load(conn, id);
          } catch (err) {
            if (!isNotFound(err) && (err as { kind?: string }).kind !== 'not-found') throw err;
          }
          if (task) {
            const status = statusString(task.process.status);
            if (status !== 'stopped' && status !== 'created') throw new Error(`cannot delete a non stopped container: {${status} ${task.process.exitStatus} ${goTime(task.process.exitedAt)}}`);
            await task.delete();
          }
          await deleteContainer(conn, id, { keepSnapshot: ctx.bool('keep-snapshot') });
        } catch (err) {
          first ??= err as Error;
          const msg = (err as Error).message;
          logLine('error', `failed to delete container "${id}"`, { error: msg });
        }
      }
      if (first) throw first;
    });
  },
};

/** A time as Go's %v prints a time.Time in a struct (`0001-01-01 00:00:00 +0000 UTC`). */
function goTime(t: { seconds: number | bigint; nanos: number } | undefined): string {
  if (!t || (Number(t.seconds) === GO_ZERO_TIME.seconds && t.nanos === 0) || Number(t.seconds) <= 0) return '0001-01-01 00:00:00 +0000 UTC';
  const d = new Date(Number(t.seconds) * 1000);
  const base = d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, '');
  const frac = t.nanos ? `.${String(t.nanos).padStart(9, '0').replace(/0+$/, '')}` : '';
  return `${base}${frac} +0000 UTC`;
}

const infoCommand: Command = {
  name: 'info',
  usage: 'get info about a container',
  argsUsage: 'CONTAINER',
  flags: [{ name: 'spec', type: 'bool', usage: 'only display the spec' }],
  async action(ctx) {
    const id = ctx.args[0] ?? '';
    if (id === '') throw new CommandError('container id must be provided: invalid argument');
    const c = await withConnection(ctx, (conn) => getContainer(conn, id));
    if (ctx.bool('spec')) {
      const spec = containerSpec(c);
      ctx.out(`${spec ? goEscape(JSON.stringify(canonicalSpec(spec), null, 4)) : 'null'}\n`);
      return;
    }
    ctx.out(`${containerInfoJson(c)}\n`);
  },
};

const labelCommand: Command = {
  name: 'label',
  usage: 'set and clear labels for a container',
  argsUsage: '[flags] CONTAINER [<key>=<value>, ...]',
  description: 'set and clear labels for a container',
  async action(ctx) {
    const id = ctx.args[0] ?? '';
    if (id === '') throw new CommandError('container id must be provided: invalid argument');
    const labels = labelArgs(ctx.args.slice(1));
    const updated = await withConnection(ctx, async (conn) => {
      await getContainer(conn, id);
      const paths = Object.keys(labels).map((k) => `labels.${k}`);
      const container = { id, labels, image: '', runtime: undefined, spec: undefined, snapshotter: '', snapshotKey: '', createdAt: undefined, updatedAt: undefined, extensions: {} };
      const r = await conn.unary(ContainersService.update, { container, updateMask: paths });
      return r.container?.labels ?? {};
    });
    ctx.out(`${Object.entries(updated)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}\n`);
  },
};

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list containers',
  argsUsage: '[flags] [<filter>, ...]',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the container id' }],
  table: true,
  async action(ctx) {
    const containers = await withConnection(ctx, async (conn) => (await conn.unary(ContainersService.list, { filters: ctx.args })).containers);
    if (ctx.bool('quiet')) {
      for (const c of containers) ctx.out(`${c.id}\n`);
      return;
    }
    ctx.table({
      header: ['CONTAINER', 'IMAGE', 'RUNTIME'],
      rows: containers,
      cells: (c) => [c.id, c.image || '-', c.runtime?.name ?? ''],
      json: (c) => ({
        id: c.id,
        image: c.image,
        runtime: c.runtime?.name ?? '',
        snapshotter: c.snapshotter,
        snapshotKey: c.snapshotKey,
        labels: c.labels,
        createdAt: formatRFC3339Nano(c.createdAt ?? GO_ZERO_TIME),
        updatedAt: formatRFC3339Nano(c.updatedAt ?? GO_ZERO_TIME),
      }),
      tabwriter: { minwidth: 4, padding: 4, padchar: ' ', tabwidth: 8 },
      trailingTab: true,
    });
  },
};

export const containersCommand: Command = {
  name: 'containers',
  aliases: ['c', 'container'],
  usage: 'manage containers',
  subcommands: [createCommand, deleteCommand, infoCommand, listCommand, labelCommand, containerCheckpointCommand, containerRestoreCommand],
};

