// ctr-ts plugins ls [-q] [-d] [filters...]: the daemon's plugins, in ctr's exact format.
import { parseArgs } from 'node:util';
import { IntrospectionService } from '@containerd-ts/api/services/introspection';
import { grpcCodeName } from '@containerd-ts/errdefs';
import { CommandError, type GlobalOptions, connect } from '../context.js';
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

export async function pluginsCommand(opts: GlobalOptions, args: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== 'ls' && sub !== 'list') throw new CommandError(`plugins: unknown command ${JSON.stringify(sub ?? '')}; usage: plugins ls [-q] [-d] [filters...]`);
  const { values, positionals } = parseArgs({
    args: rest,
    options: { quiet: { type: 'boolean', short: 'q' }, detailed: { type: 'boolean', short: 'd' } },
    allowPositionals: true,
  });
  const conn = await connect(opts);
  let plugins: Awaited<ReturnType<typeof listPlugins>>;
  try {
    plugins = await listPlugins(conn, positionals);
  } finally {
    conn.close();
  }
  if (values.quiet) {
    for (const p of plugins) out(`${p.id}\n`);
    return;
  }
  const w = new TabWriter(4, 4);
  if (values.detailed) {
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
    out(w.flush());
    return;
  }
  w.write('TYPE\tID\tPLATFORMS\tSTATUS\t\n');
  for (const p of plugins) {
    const status = !p.initErr ? 'ok' : p.initErr.message.includes('skip plugin') ? 'skip' : 'error';
    const platforms = p.platforms.length > 0 ? prettyPlatforms(p.platforms) : '-';
    w.write(`${p.type}\t${p.id}\t${platforms}\t${status}\t\n`);
  }
  out(w.flush());
}

async function listPlugins(conn: Awaited<ReturnType<typeof connect>>, filters: string[]) {
  const res = await conn.unary(IntrospectionService.plugins, { filters });
  return res.plugins;
}
