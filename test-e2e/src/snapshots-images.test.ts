// Issue 4: snapshots and images through Debian's ctr. The same sessions run against
// containerd-ts and Debian's containerd; outputs, errors and exit codes must match except
// for times, daemon root paths and the order Go happens to print a label map in.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, type StartedDaemon, ctr, run, startDaemon, startReference } from './harness.js';
import { buildImageArchive } from './oci-archive.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

/** Times, the daemon's root directory, and label lists (`k=v,k2=v2`, printed in map order) made comparable. */
function normalize(r: RunResult, root: string, sortLabels = false): string {
  let stdout = r.stdout.replaceAll(root, '<root>');
  if (sortLabels) stdout = stdout.split('\n').map((line) => (line.includes('=') ? line.split(',').sort().join(',') : line)).join('\n');
  const text = `${stdout}\n--stderr--\n${r.stderr.replaceAll(root, '<root>')}\n--exit ${r.code}`;
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/time="[^"]*"/g, 'time=<time>');
}

interface Step {
  args: string[];
  /** The output is a label list whose order is Go's map order. */
  labels?: boolean;
}

function snapshotSession(snapshotter: string): Step[] {
  const s = (...args: string[]) => ({ args: ['snapshots', '--snapshotter', snapshotter, ...args] });
  const viewRef = `containerd.io/gc.ref.snapshot.${snapshotter}`;
  return [
    s('ls'),
    s('prepare', 'base-tmp'),
    s('prepare', 'base-tmp'),
    s('commit', 'base', 'base-tmp'),
    // ctr creates views without a gc.root label: referenced from base (a root) before they
    // exist, so neither daemon's collector can take them in the middle of the session.
    { ...s('label', 'base', `${viewRef}/v=v`, `${viewRef}/v2=v2`), labels: true },
    s('prepare', '--mounts', 'work', 'base'),
    s('view', 'v', 'base'),
    s('view', '--mounts', 'v2', 'base'),
    s('ls'),
    s('tree'),
    s('info', 'base'),
    s('info', 'work'),
    s('info', 'nope'),
    s('usage'),
    s('usage', 'base'),
    s('usage', 'nope'),
    s('mounts', '/mnt', 'work'),
    s('mounts', '/mnt', 'v'),
    s('mounts', '/mnt', 'base'),
    { ...s('label', 'base', 'foo=bar', 'x=1'), labels: true },
    { ...s('label', 'base', 'foo='), labels: true },
    s('info', 'base'),
    s('rm', 'base'),
    s('rm', 'nope'),
    // containerd's native measures the directory first and fails with `lstat …: unknown`
    // for a view (it has none); containerd-ts's native refuses it as not active.
    ...(snapshotter === 'native' ? [] : [s('commit', 'x', 'v')]),
    s('commit', 'base', 'work'),
    s('prepare', 'child', 'nope'),
    s('commit', 'layer2', 'work'),
    s('tree'),
    s('rm', 'v', 'v2'),
    s('rm', 'base'),
    s('rm', 'layer2', 'base'),
    s('ls'),
  ];
}

const runStep = (socket: string, step: Step) => ctr(socket, ...step.args);

async function compareSessions(ts: StartedDaemon, ref: Reference, steps: Step[]) {
  const outputs: Array<{ step: string; ref: string; ts: string }> = [];
  for (const step of steps) {
    const [a, b] = await Promise.all([runStep(ref.socket, step), runStep(ts.socket, step)]);
    outputs.push({
      step: step.args.join(' '),
      ref: normalize(a, join(ref.dir, 'root'), step.labels),
      ts: normalize(b, ts.root, step.labels),
    });
  }
  for (const o of outputs) expect(o.ts, o.step).toBe(o.ref);
  return (args: string) => outputs.filter((o) => o.step === args).map((o) => o.ref);
}

describe('snapshots and images: the same ctr sessions on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let work = '';
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'snapshots-images-'));
    [ts, ref] = await Promise.all([startDaemon(), startReference()]);
  });
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop()]);
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ctr plugins ls shows the same snapshotter statuses', async () => {
    const [a, b] = await Promise.all([
      ctr(ref.socket, 'plugins', 'ls', 'type==io.containerd.snapshotter.v1'),
      ctr(ts.socket, 'plugins', 'ls', 'type==io.containerd.snapshotter.v1'),
    ]);
    expect(b.stdout).toBe(a.stdout);
    const statuses = Object.fromEntries(
      a.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(/\s+/))
        .map((cols) => [cols[1], cols[3]]),
    );
    // What this host gives containerd, so that two equally wrong answers cannot pass.
    expect(statuses).toMatchObject({ native: 'ok', overlayfs: 'ok', devmapper: 'error', zfs: 'skip', aufs: 'skip' });
  });

  for (const snapshotter of ['overlayfs', 'native']) {
    it(`ctr snapshots on ${snapshotter}: the same output, errors and exit codes`, async () => {
      const out = await compareSessions(ts, ref, snapshotSession(snapshotter));
      const s = (args: string) => out(`snapshots --snapshotter ${snapshotter} ${args}`);
      expect(s('ls')[1]).toMatch(/^KEY +PARENT +KIND +\nbase +Committed +\nv +base +View +\nv2 +base +View +\nwork +base +Active +\n/);
      expect(s('tree')[0]).toBe(' base\n  \\_ v\n  \\_ v2\n  \\_ work\n\n--stderr--\n\n--exit 0');
      expect(s('rm base')[0]).toContain('ctr: failed to remove "base": cannot remove snapshot with child: failed precondition');
      if (snapshotter === 'overlayfs') expect(s('commit x v')[0]).toContain('snapshot "default/');
      const refs = `containerd.io/gc.ref.snapshot.${snapshotter}/v2=v2,containerd.io/gc.ref.snapshot.${snapshotter}/v=v`;
      expect(s('label base foo=bar x=1')[0]).toBe(`${refs},containerd.io/gc.root=<time>,foo=bar,x=1\n\n--stderr--\n\n--exit 0`);
      expect(s('mounts /mnt work')[0]).toMatch(/^mount -t (overlay|bind) /);
      expect(s('ls')[2]).toBe('KEY PARENT KIND \n\n--stderr--\n\n--exit 0');
    });
  }

  it('an unknown snapshotter is refused the same way', async () => {
    await compareSessions(ts, ref, [{ args: ['snapshots', '--snapshotter', 'nope', 'ls'] }, { args: ['snapshots', '--snapshotter', 'nope', 'prepare', 'k'] }]);
    const r = await ctr(ts.socket, 'snapshots', '--snapshotter', 'nope', 'ls');
    expect(r.stderr).toContain('snapshotter not loaded: nope: invalid argument');
  });

  it('ctr images import (no unpack), ls, check, tag, label and rm --sync', async () => {
    const { file, manifest } = await buildImageArchive(work, 'example.com/issue4/img:1');
    const img = 'example.com/issue4/img:1';
    const tag = 'example.com/issue4/img:2';
    const steps: Step[] = [
      { args: ['images', 'ls'] },
      { args: ['images', 'import', '--no-unpack', file] },
      { args: ['images', 'ls'] },
      { args: ['images', 'ls', '-q'] },
      { args: ['images', 'check'] },
      { args: ['images', 'tag', img, tag] },
      { args: ['images', 'tag', img, tag] },
      { args: ['images', 'tag', '--force', img, tag] },
      { args: ['images', 'tag', 'example.com/nope:1', tag] },
      { args: ['images', 'label', tag, 'team=a', 'x=1'], labels: true },
      { args: ['images', 'ls'] },
      { args: ['images', 'ls', `name==${tag}`] },
      { args: ['images', 'ls', 'labels.team==a'] },
      { args: ['images', 'rm', img] },
      { args: ['images', 'rm', 'example.com/nope:1'] },
      { args: ['content', 'ls', '-q'] },
      { args: ['images', 'rm', '--sync', tag] },
      { args: ['images', 'ls'] },
      // Nothing held the blobs any more: the synchronous collection removed them.
      { args: ['content', 'ls', '-q'] },
    ];
    const out = await compareSessions(ts, ref, steps);
    expect(out('images ls -q')[0]).toBe(`${img}\n\n--stderr--\n\n--exit 0`);
    expect(out('images ls')[2]).toContain(manifest);
    expect(out('images ls')[2]).toContain('linux/amd64');
    expect(out(`images tag ${img} ${tag}`)[1]).toContain('already exists');
    expect(out('content ls -q')[0]).toContain(manifest);
    expect(out('content ls -q')[1]).toBe('\n--stderr--\n\n--exit 0');
  });

  it('ctr snapshots diff writes the same layer tar as containerd (whiteout times aside) and stores it', async () => {
    const layers: Buffer[] = [];
    for (const socket of [ts.socket, ref.socket]) {
      const sh = async (script: string) => {
        const r = await run('sh', ['-c', script]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout;
      };
      const target = await mkdtemp(join(work, 'diff-'));
      const mount = async (key: string) => sh(`$(ctr -a ${socket} snapshots mounts ${target} ${key})`);
      expect((await ctr(socket, 'snapshots', 'prepare', 'diff-base-a')).code).toBe(0);
      await mount('diff-base-a');
      await sh(
        `cd ${target} && mkdir etc dir && echo hello > etc/file && echo gone > dir/x && ln -s file etc/link && ` +
          "touch -h -d '2020-01-01 00:00:00' etc/file etc/link dir/x etc dir .",
      );
      await sh(`umount ${target}`);
      expect((await ctr(socket, 'snapshots', 'commit', 'diff-base', 'diff-base-a')).code).toBe(0);
      expect((await ctr(socket, 'snapshots', 'prepare', 'diff-child', 'diff-base')).code).toBe(0);
      await mount('diff-child');
      await sh(`cd ${target} && echo changed > etc/file && rm -r dir && echo new > new && touch -h -d '2021-01-01 00:00:00' etc/file new etc .`);
      await sh(`umount ${target}`);
      // ctr prints the layer it wrote to the content store: plain tar, then the default
      // (gzip), which must decompress to the same tar.
      const file = `${target}.tar`;
      await sh(`ctr -a ${socket} snapshots diff --media-type application/vnd.oci.image.layer.v1.tar diff-child > ${file}`);
      const plain = await readFile(file);
      layers.push(plain);
      await sh(`ctr -a ${socket} snapshots diff diff-child > ${file}.gz`);
      const unzipped = gunzipSync(await readFile(`${file}.gz`));
      expect(unzipped.length).toBe(plain.length);
      // containerd stamps the whiteout with the time of each diff (the two differ once a
      // second has passed between them), containerd-ts with the epoch: byte for byte on
      // containerd-ts, but for the whiteout header's mtime and checksum on containerd.
      const changed = [...plain.keys()].filter((i) => plain[i] !== unzipped[i]);
      if (socket === ts.socket) expect(changed).toEqual([]);
      else expect(changed.filter((i) => i >= 512 || i < 136 || i >= 156)).toEqual([]);
      for (const key of ['diff-child', 'diff-base']) expect((await ctr(socket, 'snapshots', 'rm', key)).code).toBe(0);
    }
    const [ours, theirs] = layers as [Buffer, Buffer];
    expect(ours.length).toBe(theirs.length);
    // Byte for byte, except the mtime field (and so the checksum) of the whiteout header:
    // containerd stamps whiteouts with the time of the diff, containerd-ts with the epoch.
    const differing: number[] = [];
    for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differing.push(i);
    const mtimeField = (i: number) => i % 512 >= 136 && i % 512 < 148;
    const checksumField = (i: number) => i % 512 >= 148 && i % 512 < 156;
    expect(differing.filter((i) => !mtimeField(i) && !checksumField(i))).toEqual([]);
    expect(ours.subarray(0, 100).toString('latin1').replace(/\0+$/, '')).toBe('.wh.dir');
    expect(differing.every((i) => i < 512)).toBe(true);
  });
});
