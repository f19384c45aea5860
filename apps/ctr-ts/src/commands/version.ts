// ctr-ts version: client and server versions, as ctr prints them.
import { IntrospectionService, type ServerResponse } from '@containerd-ts/api/services/introspection';
import { VersionService } from '@containerd-ts/api/services/version';
import type { Command, Context } from '../cli.js';
import { connect, globalOptions } from '../context.js';

export const CLIENT_VERSION = 'v0.1.0';
export const CLIENT_REVISION = 'containerd-ts';

export const versionCommand: Command = {
  name: 'version',
  usage: 'print the client and server versions',
  action: (ctx) => printVersion(ctx.out, ctx),
};

async function printVersion(out: (s: string) => void, ctx: Context): Promise<void> {
  out('Client:\n');
  out(`  Version:  ${CLIENT_VERSION}\n`);
  out(`  Revision: ${CLIENT_REVISION}\n`);
  out(`  Node version: ${process.version}\n`);
  out('\n');
  const conn = await connect(globalOptions(ctx));
  try {
    const v = await conn.unary(VersionService.version, {});
    out('Server:\n');
    out(`  Version:  ${v.version}\n`);
    out(`  Revision: ${v.revision}\n`);
    const s: ServerResponse = await conn.unary(IntrospectionService.server, {});
    out(`  UUID: ${s.uuid}\n`);
    if (v.version !== CLIENT_VERSION) process.stderr.write('WARNING: version mismatch\n');
    if (v.revision !== CLIENT_REVISION) process.stderr.write('WARNING: revision mismatch\n');
  } finally {
    conn.close();
  }
}
