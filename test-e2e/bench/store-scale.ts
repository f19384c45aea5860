// Bench: listing and collecting a large store, against containerd-ts and Debian's
// containerd in one run, alternating: in a fresh namespace, one lease holds 10,000 small
// content blobs (written through the Content API, 16 in flight) and 1,000 snapshots of the
// native snapshotter (500 committed, 500 active); then `ctr snapshots ls`, `ctr content ls`
// and a full garbage collection (`ctr leases rm --sync` of the lease that holds
// everything), each timed with ctr's own start included, and the store checked empty
// afterwards. Prints medians and ratios. Not a timed test: it reports.
import { createHash } from 'node:crypto';
import { ContentService, WriteAction, type WriteContentResponse } from '@containerd-ts/api/services/content';
import { LeasesService } from '@containerd-ts/api/services/leases';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { Connection, errorOf } from '@containerd-ts/client';
import { ctr } from '../src/harness.js';
import { compareSteps } from './measure.js';

const runs = Number(process.env.BENCH_RUNS ?? 3);
const blobCount = Number(process.env.BENCH_BLOBS ?? 10_000);
const snapshotCount = Number(process.env.BENCH_SNAPSHOTS ?? 1000);
const inFlight = 16;
const snapshotter = 'native';

const steps = ['fill (not compared)', 'snapshots ls', 'content ls', 'full GC (leases rm --sync)'] as const;
type Step = (typeof steps)[number];

/** Runs `fn(0..n-1)` with at most `inFlight` calls pending. */
async function pool(n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, worker));
}

/** Writes `data` as one blob in a single Write request (data and commit together). */
function writeBlob(conn: Connection, ref: string, data: Buffer): Promise<void> {
  const expected = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  return new Promise((resolve, reject) => {
    const call = conn.bidiStream(ContentService.write);
    let committed = false;
    call.on('data', (res: WriteContentResponse) => {
      if (res.digest === expected) committed = true;
      call.end();
    });
    call.on('error', (err) => reject(errorOf(err)));
    call.on('status', (s: { code: number; details: string }) => {
      if (s.code !== 0) reject(new Error(`write ${ref}: ${s.code} ${s.details}`));
      else if (!committed) reject(new Error(`write ${ref}: no commit of ${expected}`));
      else resolve();
    });
    call.write({ action: WriteAction.COMMIT, ref, total: data.length, expected, offset: 0, data, labels: {} });
  });
}

/** Milliseconds `ctr args…` takes; throws when it fails. Returns its output too. */
async function timedCtr(socket: string, args: string[]): Promise<{ ms: number; stdout: string }> {
  const t0 = performance.now();
  const r = await ctr(socket, ...args);
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`ctr ${args.join(' ')}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

const lines = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

/** One run in a fresh namespace; returns milliseconds per step. */
export async function runOnce(socket: string, namespace: string): Promise<Map<Step, number>> {
  const lease = `bench-store-${namespace}`;
  const conn = new Connection(socket, { namespace, lease });
  const out = new Map<Step, number>();
  try {
    await conn.ready();
    const t0 = performance.now();
    await conn.unary(LeasesService.create, { id: lease, labels: {} }, { lease: '' });
    await pool(blobCount, (i) => writeBlob(conn, `bench-blob-${i}`, Buffer.from(`${namespace} blob ${i}\n`)));
    const committed = snapshotCount / 2;
    await pool(committed, async (i) => {
      await conn.unary(SnapshotsService.prepare, { snapshotter, key: `bench-prep-${i}`, parent: '', labels: {} });
      await conn.unary(SnapshotsService.commit, { snapshotter, name: `bench-committed-${i}`, key: `bench-prep-${i}`, labels: {} });
    });
    await pool(snapshotCount - committed, (i) =>
      conn.unary(SnapshotsService.prepare, { snapshotter, key: `bench-active-${i}`, parent: `bench-committed-${i % committed}`, labels: {} }),
    );
    out.set('fill (not compared)', performance.now() - t0);

    const ns = ['-n', namespace];
    const snaps = await timedCtr(socket, [...ns, 'snapshots', '--snapshotter', snapshotter, 'ls']);
    out.set('snapshots ls', snaps.ms);
    if (lines(snaps.stdout).length !== snapshotCount + 1) throw new Error(`snapshots ls: ${lines(snaps.stdout).length - 1} rows, expected ${snapshotCount}`);
    const blobs = await timedCtr(socket, [...ns, 'content', 'ls']);
    out.set('content ls', blobs.ms);
    if (lines(blobs.stdout).length !== blobCount + 1) throw new Error(`content ls: ${lines(blobs.stdout).length - 1} rows, expected ${blobCount}`);
    const gc = await timedCtr(socket, [...ns, 'leases', 'rm', '--sync', lease]);
    out.set('full GC (leases rm --sync)', gc.ms);

    const left = [
      lines((await timedCtr(socket, [...ns, 'content', 'ls', '-q'])).stdout).length,
      lines((await timedCtr(socket, [...ns, 'snapshots', '--snapshotter', snapshotter, 'ls'])).stdout).length - 1,
    ];
    if (left[0] !== 0 || left[1] !== 0) throw new Error(`after the collection: ${left[0]} blobs and ${left[1]} snapshots left`);
  } finally {
    conn.close();
  }
  return out;
}

export async function benchStoreScale(): Promise<void> {
  await compareSteps({ runs, steps, tag: 'store', runOnce, verbose: Boolean(process.env.BENCH_VERBOSE), describe: (load0, load1) => `store scale bench: ${blobCount} blobs, ${snapshotCount} ${snapshotter} snapshots under one lease, ${runs} runs per daemon (medians; load average ${load0.toFixed(1)} at start, ${load1.toFixed(1)} at end)` });
}

if (import.meta.url === `file://${process.argv[1]}`) await benchStoreScale();
