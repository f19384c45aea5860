// ctr-ts gc collect|explain (beyond containerd): run the garbage collector now, or show
// what it would remove and what holds everything else, through containerd-ts's GC API.
import { GCService, type CollectResponse, type ExplainResponse, type GCHold, type GCObject } from '@containerd-ts/service-gc/api';
import { isNotImplemented } from '@containerd-ts/errdefs';
import type { Command, Context, Flag } from '../cli.js';
import { CommandError, connect, globalOptions } from '../context.js';
import { TabWriter } from '../tabwriter.js';


const describeObject = (o: GCObject) => `${o.type} ${o.namespace === '' ? '' : `${o.namespace}/`}${o.key}`;

/** One hold in words: which lease, which label on what, which root. */
export function describeHold(h: GCHold, namespace: string): string {
  // Objects in the kept object's own namespace are named without it.
  const name = (o: GCObject) => (o.namespace === namespace ? `${o.type} ${o.key}` : describeObject(o));
  switch (h.kind) {
    case 'lease':
      return `${h.flat ? 'flat ' : ''}lease ${h.by.key}`;
    case 'label':
      return `label ${h.label} on ${name(h.by)}`;
    case 'image-target':
      return `target of image ${h.by.key}`;
    case 'container-snapshot':
      return `snapshot of container ${h.by.key}`;
    case 'parent':
      return `parent of ${name(h.by)}`;
    case 'ingest-expected':
      return `expected by ingest ${h.by.key}`;
    case 'root-label':
      return 'root (label containerd.io/gc.root)';
    case 'unexpired-ingest':
      return `ingest active until ${h.until}`;
    case 'unexpired-lease':
      return h.until ? `lease live until ${h.until}` : 'lease without expiry';
  }
}

export function renderExplain(report: ExplainResponse): string {
  const w = new TabWriter(1, 2);
  w.write('WOULD REMOVE\n');
  if (report.remove.length === 0) w.write('  (nothing)\n');
  else {
    w.write('  TYPE\tNAMESPACE\tID\t\n');
    for (const o of report.remove) w.write(`  ${o.type}\t${o.namespace}\t${o.key}\t\n`);
  }
  const backend = [
    ...report.backend.blobs.map((d) => `  blob\t${d}\t\n`),
    ...report.backend.ingests.map((r) => `  ingest\t${r}\t\n`),
    ...Object.entries(report.backend.snapshots).flatMap(([sn, keys]) => keys.map((k) => `  snapshot\t${sn}/${k}\t\n`)),
  ];
  if (backend.length > 0) {
    w.write('\nBACKEND OBJECTS TO DELETE (every namespace: nothing references them once the records go)\n');
    for (const line of backend) w.write(line);
  }
  w.write('\nKEPT\n');
  if (report.keep.length === 0) w.write('  (nothing)\n');
  else {
    w.write('  TYPE\tNAMESPACE\tID\tHELD BY\n');
    for (const { object, holds } of report.keep) {
      const why = holds.length > 0 ? holds.map((h) => describeHold(h, object.namespace)).join('; ') : '-';
      w.write(`  ${object.type}\t${object.namespace}\t${object.key}\t${why}\n`);
    }
  }
  return w.flush();
}

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 1)}ms`;

export function renderCollect(s: CollectResponse): string {
  const { content, ingests, snapshots, leases } = s.removed;
  const b = s.backend;
  return [
    `collected in ${ms(s.durationMs)} (metadata locked ${ms(s.pauseMs)})`,
    `removed records: ${content} content, ${ingests} ingests, ${snapshots} snapshots, ${leases} leases`,
    `removed from backends: ${b.blobs} blobs, ${b.ingests} ingests, ${b.snapshots} snapshots`,
    '',
  ].join('\n');
}

async function withGc<T>(ctx: Context, call: (conn: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const opts = globalOptions(ctx);
  const conn = await connect(opts);
  try {
    return await call(conn);
  } catch (err) {
    // containerd has no GC API: say so instead of gRPC's bare "unknown service".
    if (isNotImplemented(err)) throw new CommandError(`the daemon at ${opts.address} has no GC API (containerd-ts only): ${(err as Error).message}`);
    throw err;
  } finally {
    conn.close();
  }
}

const JSON_FLAG: Flag = { name: 'json', type: 'bool', usage: 'print the result as JSON' };

export const gcCommand: Command = {
  name: 'gc',
  usage: 'run and inspect the garbage collector (containerd-ts only)',
  subcommands: [
    {
      name: 'collect',
      usage: 'collect garbage now and wait for it',
      flags: [JSON_FLAG],
      async action(ctx) {
        const stats = await withGc(ctx, (conn) => conn.unary(GCService.collect, {}));
        ctx.out(ctx.bool('json') ? `${JSON.stringify(stats, null, 2)}\n` : renderCollect(stats));
      },
    },
    {
      name: 'explain',
      usage: 'show what a collection would remove and what holds the rest',
      description: "what a collection would remove and what holds everything else, in the current namespace's records (--all: every namespace)",
      flags: [JSON_FLAG, { name: 'all', aliases: ['A'], type: 'bool', usage: 'every namespace' }],
      async action(ctx) {
        const namespace = globalOptions(ctx).namespace;
        const report = await withGc(ctx, (conn) => conn.unary(GCService.explain, ctx.bool('all') ? {} : { namespace }));
        ctx.out(ctx.bool('json') ? `${JSON.stringify(report, null, 2)}\n` : renderExplain(report));
      },
    },
  ],
};
