// Issue 3: garbage collection. The same sequence on containerd-ts and on Debian's
// containerd — roots, what roots reference, what live leases hold, an expired lease,
// `ctr leases rm --sync`, `ctr content prune references` — must leave the same blobs in
// `ctr content ls`. Beyond containerd: `ctr-ts gc explain` names what would go and what
// holds the rest, and `ctr-ts gc collect` collects now.
import { createHash } from 'node:crypto';
import { WriteAction } from '@containerd-ts/api/services/content';
import { ContentService } from '@containerd-ts/api/services/content';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { Connection } from '@containerd-ts/client';
import type { ExplainResponse } from '@containerd-ts/service-gc/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedDaemon, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const NS = 'gc';
const blob = (name: string) => `blob ${name} for the gc test\n`;
const digestOf = (data: string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const names = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H'] as const;
type Name = (typeof names)[number];
const digest = Object.fromEntries(names.map((n) => [n, digestOf(blob(n))])) as Record<Name, string>;
const nameOf = new Map(names.map((n) => [digest[n], n]));

/** Writes a blob through the Content API's Write stream under a lease (the containerd-lease header). */
async function writeUnderLease(socket: string, lease: string, data: string): Promise<void> {
  const conn = new Connection(socket, { namespace: NS, lease });
  try {
    const call = conn.bidiStream(ContentService.write);
    const responses = call[Symbol.asyncIterator]();
    const bytes = Buffer.from(data);
    const base = { ref: `under-${lease}-${digestOf(data)}`, total: bytes.length, expected: digestOf(data), labels: {} };
    call.write({ ...base, action: WriteAction.WRITE, offset: 0, data: bytes });
    await responses.next();
    call.write({ ...base, action: WriteAction.COMMIT, offset: bytes.length, data: new Uint8Array() });
    const committed = await responses.next();
    expect(committed.value?.digest).toBe(digestOf(data));
    call.end();
  } finally {
    conn.close();
  }
}

async function addResource(socket: string, lease: string, name: Name): Promise<void> {
  const conn = new Connection(socket, { namespace: NS });
  try {
    await conn.unary(LeasesService.addResource, { id: lease, resource: { id: digest[name], type: 'content' } });
  } finally {
    conn.close();
  }
}

const ok = async (p: ReturnType<typeof ctr>) => {
  const r = await p;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return r;
};

/** `ctr content ls` as [blob name, labels] rows, sorted (ages differ between daemons). */
async function contentRows(socket: string): Promise<string[]> {
  const r = await ok(ctr(socket, '-n', NS, 'content', 'ls'));
  const rows = r.stdout.trim().split('\n').slice(1).filter(Boolean);
  return rows
    .map((row) => {
      const cells = row.split('\t').filter(Boolean);
      const d = cells[0] ?? '';
      // ctr prints labels in Go's map order: sort them.
      const labels = (cells[cells.length - 1] ?? '')
        .replace(/sha256:[0-9a-f]{64}/g, (x) => nameOf.get(x) ?? x)
        .split(',')
        .sort()
        .join(',');
      return `${nameOf.get(d) ?? d} ${labels}`;
    })
    .sort();
}

/** Builds the same state on a daemon: two live leases, roots, references, an unheld blob. */
async function buildState(socket: string): Promise<void> {
  await ok(ctr(socket, '-n', NS, 'leases', 'create', '--id', 'hold'));
  await ok(ctr(socket, '-n', NS, 'leases', 'create', '--id', 'tmp', 'purpose=test'));
  await writeUnderLease(socket, 'hold', blob('A'));
  for (const n of ['B', 'C', 'D', 'E', 'F', 'G'] as const) {
    const r = await run('ctr', ['-a', socket, '-n', NS, 'content', 'ingest', `ingest-${n}`], { input: blob(n) });
    expect(r.code, r.stderr).toBe(0);
  }
  await addResource(socket, 'tmp', 'F');
  await addResource(socket, 'tmp', 'G');
  await addResource(socket, 'hold', 'G');
  // A references C as a config (kept by prune), B is a root referencing D as a layer.
  await ok(ctr(socket, '-n', NS, 'content', 'label', digest.A, `containerd.io/gc.ref.content.0=${digest.C}`));
  await ok(ctr(socket, '-n', NS, 'content', 'label', digest.B, 'containerd.io/gc.root=yes', `containerd.io/gc.ref.content.l.0=${digest.D}`));
}

describe('garbage collection keeps what containerd keeps', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  beforeAll(async () => {
    [ts, ref] = await Promise.all([startDaemon(), startReference()]);
  });
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop()]);
  });

  it('roots, references and live leases hold; everything else goes with leases rm --sync', async () => {
    const sockets = [ref.socket, ts.socket] as const;
    await Promise.all(sockets.map(buildState));
    const both = async () => {
      const [a, b] = await Promise.all(sockets.map(contentRows));
      expect(b).toEqual(a);
      return a;
    };
    expect(await both()).toEqual([
      'A containerd.io/gc.ref.content.0=C',
      'B containerd.io/gc.ref.content.l.0=D,containerd.io/gc.root=yes',
      'C -',
      'D -',
      'E -',
      'F -',
      'G -',
    ]);

    // Beyond containerd: what a collection would do now, and why the rest stays.
    const explained = await run(ctrTs, ['-a', ts.socket, '-n', NS, 'gc', 'explain', '--json']);
    expect(explained.code, explained.stderr).toBe(0);
    const report = JSON.parse(explained.stdout) as ExplainResponse;
    expect(report.remove).toEqual([{ type: 'content', namespace: NS, key: digest.E }]);
    const holds = Object.fromEntries(report.keep.map((k) => [k.object.type === 'content' ? nameOf.get(k.object.key) : `lease ${k.object.key}`, k.holds]));
    const content = (n: Name) => ({ type: 'content', namespace: NS, key: digest[n] });
    const lease = (id: string) => ({ type: 'lease', namespace: NS, key: id });
    expect(holds.A).toEqual([{ kind: 'lease', by: lease('hold'), flat: false }]);
    expect(holds.B).toEqual([{ kind: 'root-label' }]);
    expect(holds.C).toEqual([{ kind: 'label', by: content('A'), label: 'containerd.io/gc.ref.content.0' }]);
    expect(holds.D).toEqual([{ kind: 'label', by: content('B'), label: 'containerd.io/gc.ref.content.l.0' }]);
    expect(holds.F).toEqual([{ kind: 'lease', by: lease('tmp'), flat: false }]);
    expect(holds.G).toEqual(
      expect.arrayContaining([
        { kind: 'lease', by: lease('hold'), flat: false },
        { kind: 'lease', by: lease('tmp'), flat: false },
      ]),
    );
    expect(holds['lease hold']).toEqual([{ kind: 'unexpired-lease', until: expect.stringMatching(/^\d{4}-/) }]);
    const text = await run(ctrTs, ['-a', ts.socket, '-n', NS, 'gc', 'explain']);
    expect(text.stdout).toMatch(new RegExp(`WOULD REMOVE\\n +TYPE +NAMESPACE +ID *\\n +content +gc +${digest.E} *\\n`));
    expect(text.stdout).toMatch(new RegExp(`content +gc +${digest.C} +label containerd.io/gc.ref.content.0 on content ${digest.A}\\n`));
    expect(text.stdout).toMatch(new RegExp(`content +gc +${digest.B} +root \\(label containerd.io/gc.root\\)\\n`));
    expect(text.stdout).toMatch(new RegExp(`content +gc +${digest.G} +lease (hold; lease tmp|tmp; lease hold)\\n`));
    // containerd has no such API; ctr-ts says so.
    const onRef = await run(ctrTs, ['-a', ref.socket, 'gc', 'explain']);
    expect(onRef.code).toBe(1);
    expect(onRef.stderr).toContain('has no GC API (containerd-ts only)');

    // A lease that expires: what it holds goes with the next collection. It lives long
    // enough for a loaded machine to ingest and attach H before it expires (a collection
    // in between would take the expired lease, and AddResource would find none).
    const expiresIn = 6000;
    const created = Date.now();
    await Promise.all(
      sockets.map(async (s) => {
        await ok(ctr(s, '-n', NS, 'leases', 'create', '--id', 'old', '--expires', `${expiresIn / 1000}s`));
        expect((await run('ctr', ['-a', s, '-n', NS, 'content', 'ingest', 'ingest-H'], { input: blob('H') })).code).toBe(0);
        await addResource(s, 'old', 'H');
      }),
    );
    // gc.expire has one-second precision: a second more is past it on any clock reading.
    await new Promise((r) => setTimeout(r, Math.max(0, created + expiresIn + 1000 - Date.now())));

    await Promise.all(sockets.map((s) => ok(ctr(s, '-n', NS, 'leases', 'rm', 'tmp', '--sync'))));
    expect(await both()).toEqual([
      'A containerd.io/gc.ref.content.0=C',
      'B containerd.io/gc.ref.content.l.0=D,containerd.io/gc.root=yes',
      'C -',
      'D -',
      'G -',
    ]);
    // The expired lease went too.
    const leases = await Promise.all(sockets.map((s) => ok(ctr(s, '-n', NS, 'leases', 'ls', '-q'))));
    expect(leases.map((r) => r.stdout)).toEqual(['hold\n', 'hold\n']);

    // Dropping B's layer reference frees D; the config reference from A stays.
    await Promise.all(sockets.map((s) => ok(ctr(s, '-n', NS, 'content', 'prune', 'references'))));
    expect(await both()).toEqual(['A containerd.io/gc.ref.content.0=C', 'B containerd.io/gc.root=yes', 'C -', 'G -']);

    await Promise.all(sockets.map((s) => ok(ctr(s, '-n', NS, 'leases', 'rm', 'hold', '--sync'))));
    expect(await both()).toEqual(['B containerd.io/gc.root=yes']);

    // Nothing is left on disk for what the records lost.
    const after = JSON.parse((await run(ctrTs, ['-a', ts.socket, 'gc', 'explain', '--json', '--all'])).stdout) as ExplainResponse;
    expect(after.remove).toEqual([]);
    expect(after.backend.blobs).toEqual([]);
  });

  it('ctr-ts gc collect collects now and reports what it removed', async () => {
    // Start from a collected state, whatever ran before.
    expect((await run(ctrTs, ['-a', ts.socket, 'gc', 'collect'])).code).toBe(0);
    const r = await run('ctr', ['-a', ts.socket, '-n', 'gc-now', 'content', 'ingest', 'loose'], { input: 'nothing holds this\n' });
    expect(r.code).toBe(0);
    expect((await ok(ctr(ts.socket, '-n', 'gc-now', 'content', 'ls', '-q'))).stdout).toBe(`${digestOf('nothing holds this\n')}\n`);
    const collected = await run(ctrTs, ['-a', ts.socket, 'gc', 'collect']);
    expect(collected.code, collected.stderr).toBe(0);
    expect(collected.stdout).toMatch(/^collected in [\d.]+ms \(metadata locked [\d.]+ms\)\nremoved records: 1 content, 0 ingests, 0 snapshots, 0 leases\nremoved from backends: 1 blobs, 0 ingests, 0 snapshots\n$/);
    expect((await ok(ctr(ts.socket, '-n', 'gc-now', 'content', 'ls', '-q'))).stdout).toBe('');
    const json = await run(ctrTs, ['-a', ts.socket, 'gc', 'collect', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ removed: { content: 0, ingests: 0, snapshots: 0, leases: 0 } });
    const onRef = await run(ctrTs, ['-a', ref.socket, 'gc', 'collect']);
    expect(onRef.code).toBe(1);
    expect(onRef.stderr).toContain('has no GC API (containerd-ts only)');
  });
});
