// ctr-ts plugins ls [-q] [-d] [filters...]: the daemon's plugins, in ctr's exact format.
import { IntrospectionService, type Plugin } from '@containerd-ts/api/services/introspection';
import { grpcCodeName } from '@containerd-ts/errdefs';
import type { Command } from '../cli.js';
import { connect, globalOptions } from '../context.js';
import { TabWriter } from '../tabwriter.js';

interface PlatformLike {
  os: string;
  architecture: string;
  variant: string;
}

const formatPlatform = (p: PlatformLike) =>
  !p.os ? 'unknown' : [p.os, p.architecture, p.variant].filter((x) => x !== '').join('/');

/** Unique, sorted, comma-joined platforms (ctr's prettyPlatforms). */
const prettyPlatforms = (ps: readonly PlatformLike[]) => [...new Set(ps.map(formatPlatform))].sort().join(',');

const listCommand: Command = {
  name: 'list',
  aliases: ['ls'],
  usage: 'lists containerd plugins',
  flags: [
    { name: 'quiet', aliases: ['q'], type: 'bool', usage: 'print only the plugin ids' },
    { name: 'detailed', aliases: ['d'], type: 'bool', usage: 'print detailed information about each plugin' },
  ],
  table: true,
  async action(ctx) {
    const conn = await connect(globalOptions(ctx));
    let plugins: Plugin[];
    try {
      plugins = (await conn.unary(IntrospectionService.plugins, { filters: ctx.args })).plugins;
    } finally {
      conn.close();
    }
    if (ctx.bool('quiet')) {
      for (const p of plugins) ctx.out(`${p.id}\n`);
      return;
    }
    const status = (p: Plugin) => (!p.initErr ? 'ok' : p.initErr.message.includes('skip plugin') ? 'skip' : 'error');
    if (ctx.bool('detailed') && ctx.string('format') !== 'json') {
      ctx.out(detailed(plugins));
      return;
    }
    ctx.table({
      header: ['TYPE', 'ID', 'PLATFORMS', 'STATUS'],
      rows: plugins,
      cells: (p) => [p.type, p.id, p.platforms.length > 0 ? prettyPlatforms(p.platforms) : '-', status(p)],
      json: (p) => ({
        type: p.type,
        id: p.id,
        platforms: p.platforms.map(formatPlatform),
        status: status(p),
        requires: p.requires,
        exports: p.exports,
        capabilities: p.capabilities,
        ...(p.initErr ? { error: { code: grpcCodeName[p.initErr.code] ?? `Code(${p.initErr.code})`, message: p.initErr.message } } : {}),
      }),
      tabwriter: { minwidth: 4, padding: 4 },
      trailingTab: true,
    });
  },
};

function detailed(plugins: readonly Plugin[]): string {
  const w = new TabWriter(4, 4);
  plugins.forEach((p, i) => {
    if (i > 0) w.println('\t\t\t');
    w.println('Type:\t', p.type);
    w.println('ID:\t', p.id);
    if (p.requires.length > 0) {
      w.println('Requires:\t');
      for (const r of p.requires) w.println('\t', r);
    }
    if (p.platforms.length > 0) w.println('Platforms:\t', prettyPlatforms(p.platforms));
    const exports = Object.entries(p.exports).sort(([a], [b]) => a.localeCompare(b));
    if (exports.length > 0) {
      w.println('Exports:\t');
      for (const [k, v] of exports) w.println('\t', k, '\t', v);
    }
    if (p.capabilities.length > 0) w.println('Capabilities:\t', p.capabilities.join(','));
    if (p.initErr) {
      w.println('Error:\t');
      w.println('\t Code:\t', grpcCodeName[p.initErr.code] ?? `Code(${p.initErr.code})`);
      w.println('\t Message:\t', p.initErr.message);
    }
  });
  return w.flush();
}

export const pluginsCommand: Command = {
  name: 'plugins',
  aliases: ['plugin'],
  usage: 'provides information about containerd plugins',
  subcommands: [listCommand],
};
