// Issue 9: containers through Debian's ctr. The same `ctr containers` session against
// containerd-ts and Debian's containerd in one test: outputs (info as JSON with times
// left out), errors and exit codes must match, `ctr events` must print the same events,
// and what a container holds (its snapshot, the image's layers beneath it) must be kept
// and then collected as containerd does.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventFollower } from './event-follower.js';
import { type RunResult, type StartedDaemon, ctr, referenceConfig, startDaemon, startReference } from './harness.js';
import { type ImageArchive, buildImageArchive } from './oci-archive.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const ns = 'containers-e2e';
const img = 'example.com/issue9/containers:1';

interface Step {
  args: string[];
  /** The output is a label list (`k=v,k2=v2`) printed in Go's map order. */
  labels?: boolean;
}

/** Times and log-line times made comparable; label lists sorted. */
function normalize(r: RunResult, sortLabels = false): string {
  let stdout = r.stdout;
  if (sortLabels) stdout = stdout.split('\n').map((line) => (line.includes('=') ? line.split(',').sort().join(',') : line)).join('\n');
  return `${stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/time="[^"]*"/g, 'time=<time>');
}

const c = (...args: string[]): Step => ({ args: ['-n', ns, ...args] });

/** Runs the steps on both daemons side by side; every output must match. Returns containerd's outputs by step. */
async function compareSessions(ts: StartedDaemon, ref: Reference, steps: Step[]): Promise<(args: string) => string[]> {
  const outputs: Array<{ step: string; ref: string; ts: string }> = [];
  for (const step of steps) {
    const [a, b] = await Promise.all([ctr(ref.socket, ...step.args), ctr(ts.socket, ...step.args)]);
    outputs.push({ step: step.args.slice(2).join(' '), ref: normalize(a, step.labels), ts: normalize(b, step.labels) });
  }
  for (const o of outputs) expect(o.ts, o.step).toBe(o.ref);
  return (args: string) => outputs.filter((o) => o.step === args).map((o) => o.ref);
}

describe('containers: the same ctr sessions on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let work = '';
  let archive: ImageArchive;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'containers-e2e-'));
    archive = await buildImageArchive(work, img);
    // Debian's containerd started directly on its own config (root, state and sockets in its temp dir).
    [ts, ref] = await Promise.all([startDaemon(), startReference({ config: referenceConfig() })]);
  });
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ctr plugins ls lists the containers plugins as containerd does', async () => {
    const [a, b] = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, 'plugins', 'ls', 'id~=^containers')));
    expect(b?.stdout).toBe(a?.stdout);
    expect(a?.stdout).toMatch(/io\.containerd\.service\.v1 +containers-service +- +ok/);
    expect(a?.stdout).toMatch(/io\.containerd\.grpc\.v1 +containers +- +ok/);
    const [x, y] = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, 'plugins', 'ls', '-d', 'id==containers-service')));
    expect(y?.stdout).toBe(x?.stdout);
  });

  it('create, ls, info, label and rm: the same output, errors, exit codes and events', async () => {
    // The image is imported (and unpacked) before the events are followed.
    const imported = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, '-n', ns, 'images', 'import', archive.file)));
    for (const r of imported) expect(r.code, r.stderr).toBe(0);

    const steps: Step[] = [
      c('containers', 'ls'),
      c('containers', 'create', img, 'web'),
      // ctr prepares the snapshot first: a second create fails there.
      c('containers', 'create', img, 'web'),
      c('containers', 'create', '--label', 'tier=front', '--label', 'app=db', '--env', 'A=1', img, 'db', '/bin/echo', 'hi'),
      c('containers', 'create', 'example.com/issue9/nope:1', 'ghost'),
      c('containers', 'create'),
      c('containers', 'create', img),
      c('containers', 'ls'),
      c('containers', 'ls', '-q'),
      c('containers', 'ls', 'labels.app==db'),
      c('containers', 'ls', 'id==web', 'labels.tier==front'),
      c('containers', 'ls', `image==${img}`, 'runtime.name==io.containerd.runc.v1'),
      c('containers', 'ls', 'id=='),
      c('containers', 'info', 'web'),
      c('containers', 'info', '--spec', 'db'),
      c('containers', 'info', 'nope'),
      c('containers', 'info'),
      { ...c('containers', 'label', 'web', 'k=v', 'x=1'), labels: true },
      { ...c('containers', 'label', 'web', 'x='), labels: true },
      c('containers', 'label', 'nope', 'k=v'),
      c('containers', 'label'),
      c('containers', 'info', 'web'),
      c('containers', 'rm', 'web'),
      c('containers', 'rm', 'web'),
      c('containers', 'rm', 'nope', 'db'),
      c('containers', 'rm'),
      c('containers', 'ls'),
      // ctr removed the containers' snapshots with them; the image's layer is left.
      c('snapshots', 'ls'),
    ];
    const sessions = await Promise.all(
      [ref.socket, ts.socket].map(async (socket) => {
        const follower = new EventFollower('ctr', socket, [`namespace==${ns}`]);
        // Wait until the follower is subscribed: it sees a marker label on a namespace
        // (published in the request's namespace). Not on the image: ctr copies image labels
        // into the containers it creates.
        let seen = false;
        for (let i = 0; i < 100 && !seen; i++) {
          await ctr(socket, '-n', ns, 'namespaces', 'label', 'sync-marker', `start=${i}`);
          seen = await follower.waitFor(`"start":"${i}"`, 200);
        }
        return { socket, follower, seen };
      }),
    );
    for (const s of sessions) expect(s.seen).toBe(true);
    const out = await compareSessions(ts, ref, steps);
    await Promise.all(sessions.map((s) => ctr(s.socket, '-n', ns, 'namespaces', 'label', 'sync-marker', 'end=1')));
    for (const s of sessions) expect(await s.follower.waitFor('"end":"1"')).toBe(true);
    for (const s of sessions) s.follower.stop();
    const [refEvents, tsEvents] = sessions.map((s) => s.follower.events());
    expect(tsEvents).toEqual(refEvents);

    // What containerd answered, so two equally wrong answers cannot pass.
    const ls = out('containers ls');
    expect(ls[0]).toBe('CONTAINER    IMAGE    RUNTIME    \n\n--stderr--\n\n--exit 0');
    expect(ls[1]).toMatch(new RegExp(`^CONTAINER +IMAGE +RUNTIME +\ndb +${img.replaceAll('.', '\\.')} +io\\.containerd\\.runc\\.v2 +\nweb +`));
    expect(out(`containers create ${img} web`)[1]).toBe('\n--stderr--\nctr: snapshot "web": already exists\n\n--exit 1');
    expect(out('containers create example.com/issue9/nope:1 ghost')[0]).toContain('ctr: image "example.com/issue9/nope:1": not found');
    expect(out('containers ls -q')[0]).toBe('db\nweb\n\n--stderr--\n\n--exit 0');
    expect(out('containers ls labels.app==db')[0]).toMatch(/\ndb +/);
    expect(out('containers ls id==')[0]).toContain('--exit 1');
    const info = JSON.parse(out('containers info web')[0]!.split('\n--stderr--')[0]!) as Record<string, unknown>;
    expect(info).toMatchObject({
      ID: 'web',
      Image: img,
      Runtime: { Name: 'io.containerd.runc.v2', Options: { type_url: 'containerd.runc.v1.Options' } },
      SnapshotKey: 'web',
      Snapshotter: 'overlayfs',
      CreatedAt: '<time>',
    });
    expect(out('containers info nope')[0]).toBe('\n--stderr--\nctr: container "nope" in namespace "containers-e2e": not found\n\n--exit 1');
    expect(out('containers label web k=v x=1')[0]).toBe('io.containerd.image.config.stop-signal=SIGTERM,k=v,x=1\n\n--stderr--\n\n--exit 0');
    expect(out('containers info web')[1]).toContain('"k": "v"');
    expect(out('containers rm web')[1]).toContain('ctr: container "web" in namespace "containers-e2e": not found');
    expect(out('containers rm nope db')[0]).toContain('--exit 1');
    expect(out('snapshots ls')[0]).toMatch(/^KEY +PARENT +KIND +\nsha256:[0-9a-f]{64} +Committed +\n\n/);
    expect(refEvents).toEqual([
      expect.stringMatching(/^containers-e2e \/snapshot\/prepare \{"key":"web","parent":"sha256:[0-9a-f]{64}"\}$/),
      `containers-e2e /containers/create {"id":"web","image":"${img}","runtime":{"name":"io.containerd.runc.v2","options":{"type_url":"containerd.runc.v1.Options"}}}`,
      expect.stringMatching(/^containers-e2e \/snapshot\/prepare \{"key":"db",/),
      expect.stringMatching(/^containers-e2e \/containers\/create \{"id":"db",/),
      `containers-e2e /containers/update {"id":"web","image":"${img}","labels":{"io.containerd.image.config.stop-signal":"SIGTERM","k":"v","x":"1"},"snapshot_key":"web"}`,
      `containers-e2e /containers/update {"id":"web","image":"${img}","labels":{"io.containerd.image.config.stop-signal":"SIGTERM","k":"v"},"snapshot_key":"web"}`,
      'containers-e2e /snapshot/remove {"key":"web"}',
      'containers-e2e /containers/delete {"id":"web"}',
      'containers-e2e /snapshot/remove {"key":"db"}',
      'containers-e2e /containers/delete {"id":"db"}',
    ]);
  });

  it('times have nanoseconds as on containerd: containers info, snapshots info and events', async () => {
    const tns = 'containers-e2e-time';
    /** The fractional digits of every RFC 3339 time in `text`. */
    const fractions = (text: string) => [...text.matchAll(/"(?:CreatedAt|UpdatedAt|Created|Updated)": "\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.(\d+))?Z"/g)].map((m) => m[1] ?? '');
    for (const socket of [ref.socket, ts.socket]) {
      const follower = new EventFollower('ctr', socket, [`namespace==${tns}`]);
      try {
        let seen = false;
        for (let i = 0; i < 100 && !seen; i++) {
          await ctr(socket, '-n', tns, 'namespaces', 'label', 'sync-marker', `start=${i}`);
          seen = await follower.waitFor(`"start":"${i}"`, 200);
        }
        expect(seen).toBe(true);
        expect((await ctr(socket, '-n', tns, 'images', 'import', archive.file)).code).toBe(0);
        const created = await ctr(socket, '-n', tns, 'containers', 'create', img, 'timed');
        expect(created.code, created.stderr).toBe(0);
        expect((await ctr(socket, '-n', tns, 'containers', 'label', 'timed', 'a=b')).code).toBe(0);
        const info = await ctr(socket, '-n', tns, 'containers', 'info', 'timed');
        const snap = await ctr(socket, '-n', tns, 'snapshots', 'info', 'timed');
        // Go writes RFC3339Nano with trailing zeros left out: more than three digits is
        // below the millisecond (one reading in a million would end in six zeros).
        const times = [...fractions(info.stdout), ...fractions(snap.stdout)];
        expect(times, `${socket}: ${info.stdout}${snap.stdout}`).toHaveLength(4);
        expect(times.filter((f) => f.length > 3).length, `${socket}: ${times}`).toBeGreaterThanOrEqual(3);
        const infoJson = JSON.parse(info.stdout) as { CreatedAt: string; UpdatedAt: string };
        expect(infoJson.UpdatedAt > infoJson.CreatedAt, `${socket}: updated after created`).toBe(true);
        expect(await follower.waitFor('/containers/update')).toBe(true);
        // ctr prints the envelope time with Go's time.String(): nanoseconds too.
        const stamps = follower.lines.map((l) => /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.(\d+))? \+0000 UTC /.exec(l)?.[1] ?? '');
        expect(stamps.length).toBeGreaterThanOrEqual(3);
        expect(stamps.filter((f) => f.length > 3).length, `${socket}: ${follower.lines.join('\n')}`).toBeGreaterThanOrEqual(stamps.length - 1);
      } finally {
        follower.stop();
        await ctr(socket, '-n', tns, 'containers', 'rm', 'timed');
      }
    }
  });

  it('a container keeps its snapshot and the image layers beneath it until it is removed; then GC leaves nothing', async () => {
    const gcNs = 'containers-e2e-gc';
    const g = (...args: string[]): Step => ({ args: ['-n', gcNs, ...args] });
    const snapshotDirs = [ts.root, join(ref.dir, 'root')].map((root) => join(root, 'io.containerd.snapshotter.v1.overlayfs', 'snapshots'));
    const before = await Promise.all(snapshotDirs.map((dir) => readdir(dir)));
    const imported = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, '-n', gcNs, 'images', 'import', archive.file)));
    for (const r of imported) expect(r.code, r.stderr).toBe(0);
    const steps: Step[] = [
      g('containers', 'create', img, 'kept'),
      g('containers', 'create', img, 'other'),
      // The image goes and a collection runs: the containers still hold their snapshots
      // and the layer snapshot beneath; the image's blobs go.
      g('images', 'rm', '--sync', img),
      g('snapshots', 'ls'),
      g('content', 'ls', '-q'),
      g('containers', 'rm', 'other'),
      // Without its snapshot: the container record goes, the snapshot waits for a collection
      // (whether a timed one comes first depends on the GC interval on either daemon).
      g('containers', 'rm', '--keep-snapshot', 'kept'),
      // A synchronous lease removal runs a collection: nothing is left.
      g('leases', 'create', '--id', 'gc-trigger'),
      g('leases', 'rm', '--sync', 'gc-trigger'),
      g('snapshots', 'ls'),
      g('containers', 'ls', '-q'),
      g('content', 'ls', '-q'),
      g('leases', 'ls', '-q'),
    ];
    const out = await compareSessions(ts, ref, steps);
    const snapshots = out('snapshots ls');
    expect(snapshots[0]).toMatch(/^KEY +PARENT +KIND +\nkept +sha256:[0-9a-f]{64} +Active +\nother +sha256:[0-9a-f]{64} +Active +\nsha256:[0-9a-f]{64} +Committed +\n\n/);
    expect(out('content ls -q')[0]).toBe('\n--stderr--\n\n--exit 0');
    expect(snapshots[1]).toBe('KEY PARENT KIND \n\n--stderr--\n\n--exit 0');
    // And on disk: no snapshot directory is left in either daemon's overlayfs snapshotter
    // (none of those this test's import and containers made: only directories from before
    // it, less any of them a collection has since removed).
    for (const [i, dir] of snapshotDirs.entries()) {
      const after = await readdir(dir);
      expect(after.filter((d) => !before[i]!.includes(d)), dir).toEqual([]);
    }
  });
});
