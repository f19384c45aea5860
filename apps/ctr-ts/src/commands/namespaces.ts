// ctr-ts namespaces (ns) create/ls/label/rm: containerd's namespaces, in ctr's exact
// output (tables, messages, and the error log line `rm` prints for each failure).
import { access, readdir, rmdir } from 'node:fs/promises';
import { NamespacesService } from '@containerd-ts/api/services/namespaces';
import { isNotFound } from '@containerd-ts/errdefs';
import type { Command } from '../cli.js';
import { CommandError, connect, globalOptions } from '../context.js';
import { logLine } from '../log.js';


/** `key=value` arguments as ctr reads them: a bare key means `key=true`. */
export function labelArgs(args: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) labels[arg] = 'true';
    else labels[arg.slice(0, eq)] = arg.slice(eq + 1);
  }
  return labels;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

const removeDir = async (path: string) => {
  try {
    await rmdir(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
};

/**
 * Removes the cgroup named after the namespace, as ctr's `rm --cgroup`: on the unified
 * hierarchy one directory, on cgroup v1 the directory in every mounted hierarchy.
 */
async function deleteCgroup(name: string): Promise<void> {
  const unified = await access(`${CGROUP_ROOT}/cgroup.controllers`).then(
    () => true,
    () => false,
  );
  if (unified) return removeDir(`${CGROUP_ROOT}/${name}`);
  for (const entry of await readdir(CGROUP_ROOT, { withFileTypes: true })) {
    // Symlinks (cpu -> cpu,cpuacct) name a hierarchy already visited.
    if (entry.isDirectory()) await removeDir(`${CGROUP_ROOT}/${entry.name}/${name}`);
  }
}

const createCommand: Command = {
  name: 'create',
  aliases: ['c'],
  usage: 'create a new namespace',
  argsUsage: '<name> [<key>=<value>]',
  description: 'create a new namespace. it must be unique',
  async action(ctx) {
    const [name, ...labels] = ctx.args;
    if (!name) throw new CommandError('please specify a namespace');
    const conn = await connect(globalOptions(ctx));
    try {
      await conn.unary(NamespacesService.create, { namespace: { name, labels: labelArgs(labels) } });
    } finally {
      conn.close();
    }
  },
};

const labelCommand: Command = {
  name: 'label',
  usage: 'set and clear labels for a namespace',
  argsUsage: '<name> [<key>=<value>, ...]',
  description: 'set and clear labels for a namespace. empty value clears the label',
  async action(ctx) {
    const [name, ...labels] = ctx.args;
    if (!name) throw new CommandError('please specify a namespace');
    const conn = await connect(globalOptions(ctx));
    try {
      // One update per label, as ctr sets them.
      for (const [key, value] of Object.entries(labelArgs(labels))) {
        await conn.unary(NamespacesService.update, { namespace: { name, labels: { [key]: value } }, updateMask: [`labels.${key}`] });
      }
    } finally {
      conn.close();
    }
  },
};

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'list namespaces',
  argsUsage: '[flags]',
  description: 'list namespaces',
  flags: [{ name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the namespace name' }],
  table: true,
  async action(ctx) {
    const conn = await connect(globalOptions(ctx));
    let namespaces: Array<{ name: string; labels: Record<string, string> }>;
    try {
      namespaces = (await conn.unary(NamespacesService.list, { filter: '' })).namespaces;
    } finally {
      conn.close();
    }
    if (ctx.bool('quiet')) {
      for (const ns of namespaces) ctx.out(`${ns.name}\n`);
      return;
    }
    ctx.table({
      header: ['NAME', 'LABELS'],
      rows: namespaces,
      cells: (ns) => [
        ns.name,
        Object.entries(ns.labels)
          .map(([k, v]) => `${k}=${v}`)
          .sort()
          .join(','),
      ],
      json: (ns) => ({ name: ns.name, labels: ns.labels }),
      tabwriter: { minwidth: 1, padding: 1 },
      trailingTab: true,
    });
  },
};

const removeCommand: Command = {
  name: 'remove',
  aliases: ['rm'],
  usage: 'remove one or more namespaces',
  argsUsage: '<name> [<name>, ...]',
  description: 'remove one or more namespaces. for now, the namespace must be empty',
  flags: [{ name: 'cgroup', aliases: ['c'], type: 'bool', usage: "delete the namespace's cgroup" }],
  async action(ctx) {
    let exitErr: string | undefined;
    const conn = await connect(globalOptions(ctx));
    try {
      for (const target of ctx.args) {
        try {
          if (ctx.bool('cgroup')) await deleteCgroup(target);
          await conn.unary(NamespacesService.delete, { name: target });
        } catch (err) {
          if (!isNotFound(err)) {
            const message = (err as Error).message;
            exitErr ??= `unable to delete ${target}: ${message}`;
            logLine('error', `unable to delete ${target}`, { error: message });
            continue;
          }
        }
        ctx.out(`${target}\n`);
      }
    } finally {
      conn.close();
    }
    if (exitErr) throw new CommandError(exitErr);
  },
};

export const namespacesCommand: Command = {
  name: 'namespaces',
  aliases: ['namespace', 'ns'],
  usage: 'manage namespaces',
  subcommands: [createCommand, listCommand, removeCommand, labelCommand],
};
