// ctr-ts leases create/ls/rm: containerd's leases, in ctr's exact output.
import { parseArgs } from 'node:util';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { GO_ZERO_TIME, type Timestamp, toDate } from '@containerd-ts/timestamp';
import { CommandError, type GlobalOptions, connect, parseDurationMs } from '../context.js';
import { TabWriter } from '../tabwriter.js';
import { formatRFC3339Local } from './namespaces.js';

const usage = `NAME:
   ctr-ts leases - manage leases

USAGE:
   ctr-ts leases command [command options] [arguments...]

COMMANDS:
   list, ls                    list all active leases
   create                      create lease
   delete, del, remove, rm     delete a lease

OPTIONS:
   --help, -h  show help
`;

const deleteUsage = `NAME:
   ctr-ts leases delete - delete a lease

USAGE:
   ctr-ts leases delete [command options] [flags] <lease id> ...

DESCRIPTION:
   delete a lease

OPTIONS:
   --sync  Synchronously remove leases and all unreferenced resources
   
`;

const DAY_MS = 24 * 3600 * 1000;

export async function leasesCommand(opts: GlobalOptions, args: string[], out: (s: string) => void): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      out(usage);
      return;
    case 'list':
    case 'ls': {
      const { values, positionals: filters } = parseArgs({
        args: rest,
        options: { quiet: { type: 'boolean', short: 'q' } },
        allowPositionals: true,
      });
      const conn = await connect(opts);
      let leases: Array<{ id: string; createdAt: Timestamp | undefined; labels: Record<string, string> }>;
      try {
        leases = (await conn.unary(LeasesService.list, { filters })).leases;
      } catch (err) {
        throw new CommandError(`failed to list leases: ${(err as Error).message}`);
      } finally {
        conn.close();
      }
      if (values.quiet) {
        for (const l of leases) out(`${l.id}\n`);
        return;
      }
      const w = new TabWriter(1, 1);
      w.write('ID\tCREATED AT\tLABELS\t\n');
      for (const l of leases) {
        const pairs = Object.entries(l.labels).map(([k, v]) => `${k}=${v}`);
        const labels = pairs.length > 0 ? pairs.sort().join(',') : '-';
        w.write(`${l.id}\t${formatRFC3339Local(toDate(l.createdAt ?? GO_ZERO_TIME))}\t${labels}\t\n`);
      }
      out(w.flush());
      return;
    }
    case 'create': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { id: { type: 'string' }, expires: { type: 'string', short: 'x' } },
        allowPositionals: true,
      });
      let expiresMs = DAY_MS;
      if (values.expires !== undefined) {
        try {
          expiresMs = parseDurationMs(values.expires);
        } catch {
          throw new CommandError(`invalid value "${values.expires}" for flag -expires: parse error`);
        }
      }
      // Unlike namespace labels, a bare key here is a label with an empty value.
      const labels: Record<string, string> = {};
      for (const arg of positionals) {
        const eq = arg.indexOf('=');
        if (eq < 0) labels[arg] = '';
        else labels[arg.slice(0, eq)] = arg.slice(eq + 1);
      }
      if (expiresMs > 0) labels['containerd.io/gc.expire'] = formatRFC3339Local(new Date(Date.now() + expiresMs));
      const conn = await connect(opts);
      try {
        const res = await conn.unary(LeasesService.create, { id: values.id ?? '', labels });
        out(`${res.lease?.id ?? ''}\n`);
      } finally {
        conn.close();
      }
      return;
    }
    case 'delete':
    case 'del':
    case 'remove':
    case 'rm': {
      const { values, positionals: ids } = parseArgs({ args: rest, options: { sync: { type: 'boolean' } }, allowPositionals: true });
      if (ids.length === 0) {
        out(deleteUsage);
        return;
      }
      const conn = await connect(opts);
      try {
        for (const [i, id] of ids.entries()) {
          // Only the last delete waits for the collection, as ctr does.
          await conn.unary(LeasesService.delete, { id, sync: (values.sync ?? false) && i === ids.length - 1 });
          out(`${id}\n`);
        }
      } finally {
        conn.close();
      }
      return;
    }
    default:
      throw new CommandError(`No help topic for '${sub}'`);
  }
}
