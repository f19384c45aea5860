// Issue 11: `ctr-ts images export/import` of OCI and Docker archives, and `images tag/label/check`.
// Each step runs with Debian's ctr on one daemon and ctr-ts on its twin, against
// containerd-ts and against Debian's containerd: the same output, exit codes and (read back
// by Debian's ctr) the same images, content, labels, snapshots and mounted trees. Archives
// ctr-ts exports are byte for byte ctr's, and each side imports what the other exported.
// Bad input gives ctr's one line, a non-zero exit, and leaves no lease, image or ingest.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TreeEntry, snapshotTree } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDockerArchive, buildOciIndexArchive } from './docker-archive.js';
import { type RunResult, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';
import { comparableOutput, outputText } from './ctr-sessions.js';
import { chainId, comparableTree, diffIdsOf, fixtureImage } from './image-fixture.js';
import { buildImageArchive } from './oci-archive.js';

interface Pair {
  name: string;
  /** The daemon Debian's ctr works on. */
  ctr: { socket: string; dir: string };
  /** Its twin, which ctr-ts works on. */
  ctrTs: { socket: string; dir: string };
}

/**
 * What Debian's ctr reads back of a namespace, after a synchronous garbage collection (an
 * image tagged and removed with --sync): blobs an import wrote and nothing refers to
 * (docker's layer json, an index's filtered-out platforms) are gone on both daemons alike.
 */
async function storedState(socket: string, ns: string): Promise<string> {
  const first = (await ctr(socket, '-n', ns, 'images', 'ls', '-q')).stdout.split('\n')[0] ?? '';
  if (first !== '') {
    expect((await ctr(socket, '-n', ns, 'images', 'tag', first, 'gc.invalid/trigger:1')).code).toBe(0);
    expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', 'gc.invalid/trigger:1')).code).toBe(0);
  }
  const parts: string[] = [];
  for (const args of [['images', 'ls'], ['images', 'check'], ['content', 'ls'], ['snapshots', 'ls'], ['leases', 'ls'], ['content', 'active']]) {
    const r = await ctr(socket, '-n', ns, ...args);
    parts.push(`$ ctr ${args.join(' ')}\n${outputText(r)}`);
  }
  return comparableOutput(parts.join('\n'));
}

/** The tree of an image as Debian's `ctr images mount` shows it. */
async function mountedTree(socket: string, ns: string, ref: string): Promise<TreeEntry[]> {
  const target = await mkdtemp(join(tmpdir(), 'ctr-ts-archive-tree-'));
  try {
    const mounted = await ctr(socket, '-n', ns, 'images', 'mount', ref, target);
    expect(mounted.code, mounted.stderr).toBe(0);
    try {
      return snapshotTree(target);
    } finally {
      const unmounted = await ctr(socket, '-n', ns, 'images', 'unmount', '--rm', target);
      expect(unmounted.code, unmounted.stderr).toBe(0);
    }
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

const sha256File = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

/** Polls until `f` holds (GC of what a failed import wrote runs after its lease is gone). */
async function eventually(f: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await f()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('ctr-ts images export/import/tag/label/check, against ctr on containerd-ts and on containerd', () => {
  let work: string;
  let pairs: Pair[] = [];
  const stops: Array<() => Promise<void>> = [];
  const gzip = fixtureImage({ compression: 'gzip' });
  const zstd = fixtureImage({ compression: 'zstd' });
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  const archives = { docker: '', plain: '', oci: '', index: '', indexDigest: '' };

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-archive-'));
    archives.docker = await buildDockerArchive(work, 'docker-gzip', [{ image: gzip, repoTags: ['fixture:gzip', 'example.com/app/fixture:1'], layers: 'gzip' }]);
    archives.plain = await buildDockerArchive(work, 'docker-plain', [
      { image: gzip, repoTags: ['plain:1'], layers: 'uncompressed' },
      { image: gzip, repoTags: [], layers: 'gzip' },
    ]);
    archives.oci = (await buildImageArchive(work, 'example.com/oci:1')).file;
    const index = await buildOciIndexArchive(work, 'oci-index', gzip, zstd, 'latest');
    archives.index = index.file;
    archives.indexDigest = index.index;
    const [ts1, ts2, ref1, ref2] = await Promise.all([startDaemon(), startDaemon(), startReference(), startReference()]);
    stops.push(ts1.cleanup, ts2.cleanup, ref1.stop, ref2.stop);
    pairs = [
      { name: 'containerd-ts', ctr: { socket: ts1.socket, dir: ts1.dir }, ctrTs: { socket: ts2.socket, dir: ts2.dir } },
      { name: 'containerd', ctr: { socket: ref1.socket, dir: ref1.dir }, ctrTs: { socket: ref2.socket, dir: ref2.dir } },
    ];
  }, 180_000);

  afterAll(async () => {
    await Promise.all(stops.map((s) => s()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** The same command with ctr on one daemon and ctr-ts on its twin; both results. */
  const both = (pair: Pair, ns: string, ...args: string[]) =>
    Promise.all([ctr(pair.ctr.socket, '-n', ns, ...args), run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, ...args], { timeoutMs: 180_000 })]);

  /** Runs a step on both sides, expects ctr's output, and then ctr's read-back of both namespaces. */
  async function sameStep(pair: Pair, ns: string, args: string[], what: string): Promise<{ theirs: RunResult; ours: RunResult }> {
    const [theirs, ours] = await both(pair, ns, ...args);
    expect(comparableOutput(outputText(ours)), `${what}: ${args.join(' ')}`).toBe(comparableOutput(outputText(theirs)));
    const [a, b] = await Promise.all([storedState(pair.ctr.socket, ns), storedState(pair.ctrTs.socket, ns)]);
    expect(b, `${what}: state after ${args.join(' ')}`).toBe(a);
    return { theirs, ours };
  }

  it('docker save archives (gzip and plain layers, a symlinked layer, tags): import, export and cross-import as ctr', async () => {
    const chain = chainId(diffIdsOf(gzip));
    for (const pair of pairs) {
      const ns = `docker-${process.pid}`;
      const what = pair.name;
      const first = await sameStep(pair, ns, ['images', 'import', archives.docker], what);
      // What ctr printed, so that two equally wrong runs cannot pass.
      expect(first.theirs.code, first.theirs.stderr).toBe(0);
      expect(first.theirs.stdout).toMatch(/^unpacking docker\.io\/library\/fixture:gzip \(sha256:[0-9a-f]{64}\)\.\.\.done\nunpacking example\.com\/app\/fixture:1 \(sha256:[0-9a-f]{64}\)\.\.\.done\n$/);
      const state = await storedState(pair.ctrTs.socket, ns);
      expect(state).toContain(`containerd.io/gc.ref.snapshot.overlayfs=${chain}`);
      expect(state).toMatch(/\ndocker\.io\/library\/fixture:gzip +application\/vnd\.docker\.distribution\.manifest\.v2\+json +sha256:[0-9a-f]{64} +\S+ MiB +linux\/amd64 +- +\n/);
      expect(state).toMatch(/complete \(4\/4\) +\S+ MiB\/\S+ MiB +true\n/);
      // The layers are the gzip blobs of the archive (the Docker manifest written names them).
      for (const layer of gzip.layers) expect(state).toContain(`\n${layer.digest}\t`);
      const [treeTheirs, treeOurs] = await Promise.all([
        mountedTree(pair.ctr.socket, ns, 'docker.io/library/fixture:gzip'),
        mountedTree(pair.ctrTs.socket, ns, 'docker.io/library/fixture:gzip'),
      ]);
      expect(treeOurs.length, what).toBeGreaterThan(50);
      expect(comparableTree(treeOurs), what).toEqual(comparableTree(treeTheirs));

      // Plain layer tars: the compressed blobs the store has for them (labelled by the unpack) are used.
      const plain = await sameStep(pair, ns, ['images', 'import', archives.plain], what);
      expect(plain.theirs.code, plain.theirs.stderr).toBe(0);
      expect(plain.theirs.stdout).toMatch(/^unpacking docker\.io\/library\/plain:1 \(sha256:[0-9a-f]{64}\)\.\.\.done\n$/);

      // Export: the same bytes as ctr's archive (one manifest under two names).
      const outs = { theirs: join(work, `${pair.name}-ctr.tar`), ours: join(work, `${pair.name}-ctr-ts.tar`) };
      const names = ['docker.io/library/fixture:gzip', 'example.com/app/fixture:1'];
      const [e1, e2] = await Promise.all([
        ctr(pair.ctr.socket, '-n', ns, 'images', 'export', outs.theirs, ...names),
        run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, 'images', 'export', outs.ours, ...names]),
      ]);
      expect(outputText(e2)).toBe(outputText(e1));
      expect(e1.code, e1.stderr).toBe(0);
      expect((await stat(outs.ours)).size).toBeGreaterThan(gzip.layers.reduce((n, l) => n + l.size, 0));
      expect(await sha256File(outs.ours), what).toBe(await sha256File(outs.theirs));
      const listed = await run('tar', ['-tf', outs.ours]);
      expect(listed.stdout.split('\n')).toEqual(
        expect.arrayContaining(['blobs/', 'blobs/sha256/', 'index.json', 'manifest.json', 'oci-layout', ...gzip.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`)]),
      );
      const dockerManifest = JSON.parse((await run('tar', ['-xOf', outs.ours, 'manifest.json'])).stdout) as Array<{ RepoTags: string[] }>;
      expect(dockerManifest.map((m) => m.RepoTags)).toEqual([['fixture:gzip', 'example.com/app/fixture:1']]);

      // Each side imports what the other exported, into a namespace of its own.
      const cross = `cross-${process.pid}`;
      const [c1, c2] = await Promise.all([
        ctr(pair.ctr.socket, '-n', cross, 'images', 'import', outs.ours),
        run(ctrTs, ['-a', pair.ctrTs.socket, '-n', cross, 'images', 'import', outs.theirs]),
      ]);
      expect(outputText(c2)).toBe(outputText(c1));
      expect(c1.code, c1.stderr).toBe(0);
      const [s1, s2] = await Promise.all([storedState(pair.ctr.socket, cross), storedState(pair.ctrTs.socket, cross)]);
      expect(s2, what).toBe(s1);
      expect(s2).toContain('\nexample.com/app/fixture:1 ');
      const [t1, t2] = await Promise.all([mountedTree(pair.ctr.socket, cross, 'example.com/app/fixture:1'), mountedTree(pair.ctrTs.socket, cross, 'example.com/app/fixture:1')]);
      expect(comparableTree(t2)).toEqual(comparableTree(t1));
      expect(comparableTree(t2)).toEqual(comparableTree(treeOurs));

      // --compress-blobs: plain layers are gzipped into the store (gzip bytes are the compressor's own: no digest comparison).
      const compressNs = `compress-${process.pid}`;
      const compressed = await run(ctrTs, ['-a', pair.ctrTs.socket, '-n', compressNs, 'images', 'import', '--compress-blobs', archives.plain]);
      expect({ code: compressed.code, stderr: compressed.stderr }).toEqual({ code: 0, stderr: '' });
      const content = (await ctr(pair.ctrTs.socket, '-n', compressNs, 'content', 'ls')).stdout;
      for (const diffId of diffIdsOf(gzip)) expect(content).toContain(`containerd.io/uncompressed=${diffId}`);
      const ls = (await ctr(pair.ctrTs.socket, '-n', compressNs, 'images', 'check')).stdout;
      expect(ls).toMatch(/\ndocker\.io\/library\/plain:1 .* complete \(4\/4\) .* true\n/);
      const manifestDigest = /docker\.io\/library\/plain:1 +\S+ +(sha256:[0-9a-f]{64})/.exec(ls)![1]!;
      const manifest = JSON.parse((await ctr(pair.ctrTs.socket, '-n', compressNs, 'content', 'get', manifestDigest)).stdout) as { layers: Array<{ mediaType: string }> };
      expect(manifest.layers.map((l) => l.mediaType)).toEqual(gzip.layers.map(() => 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
      const t3 = await mountedTree(pair.ctrTs.socket, compressNs, 'docker.io/library/plain:1');
      expect(comparableTree(t3)).toEqual(comparableTree(treeOurs));
      for (const n of [ns, cross, compressNs]) {
        for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) {
          const refs = (await ctr(socket, '-n', n, 'images', 'ls', '-q')).stdout.split('\n').filter((l) => l !== '');
          if (refs.length > 0) expect((await ctr(socket, '-n', n, 'images', 'rm', '--sync', ...refs)).code).toBe(0);
        }
      }
    }
  }, 900_000);

  it('OCI layouts with an index: --base-name, --digests, --index-name, --platform, --all-platforms, --no-unpack; export --platform/--all-platforms/--skip-manifest-json', async () => {
    const flagSets = [
      ['--index-name', 'example.com/idx:host'],
      ['--base-name', 'example.com/base'],
      ['--all-platforms', '--base-name', 'example.com/base', '--digests', '--index-name', 'example.com/idx:1'],
      ['--digests', '--skip-digest-for-named', '--all-platforms', '--no-unpack'],
      ['--all-platforms', '--no-unpack', '--index-name', 'example.com/idx:all'],
      ['--platform', `linux/${arch}`, '--no-unpack', '--base-name', 'example.com/strict'],
      ['--skip-digest-for-named'],
    ];
    for (const pair of pairs) {
      for (const [i, flags] of flagSets.entries()) {
        const ns = `oci-${i}-${process.pid}`;
        const step = await sameStep(pair, ns, ['images', 'import', ...flags, archives.index], `${pair.name} ${flags.join(' ')}`);
        if (flags.join(' ') === '--skip-digest-for-named') {
          expect(step.theirs).toMatchObject({ code: 1, stderr: 'ctr: --skip-digest-for-named must be specified with --digests option\n' });
          continue;
        }
        expect(step.theirs.code, step.theirs.stderr).toBe(0);
      }
      // What the flags did, as ctr read it back (so that equal but empty states cannot pass).
      const images = async (i: number) => (await ctr(pair.ctrTs.socket, '-n', `oci-${i}-${process.pid}`, 'images', 'ls', '-q')).stdout;
      expect(await images(0)).toMatch(/^example\.com\/idx:host\nimport-\d{4}-\d{2}-\d{2}:latest\n$/);
      expect(await images(1)).toBe('example.com/base:latest\n');
      expect(await images(2)).toBe(
        ['example.com/base:latest', `example.com/base@${gzip.manifest.digest}`, `example.com/base@${zstd.manifest.digest}`, 'example.com/idx:1', ''].join('\n'),
      );
      expect(await images(3)).toMatch(new RegExp(`^import-\\d{4}-\\d{2}-\\d{2}:latest\\nimport-\\d{4}-\\d{2}-\\d{2}@${zstd.manifest.digest}\\n$`));
      expect(await images(5)).toBe('example.com/strict:latest\n');
      expect(await images(4)).toContain('example.com/idx:all\n');

      // Exports of the index image: byte for byte ctr's.
      const ns = `oci-4-${process.pid}`;
      for (const flags of [[], ['--platform', 'linux/s390x'], ['--all-platforms'], ['--skip-manifest-json'], ['--skip-non-distributable', '--platform', 'linux/s390x', '--platform', `linux/${arch}`]]) {
        const outs = { theirs: join(work, 'index-ctr.tar'), ours: join(work, 'index-ctr-ts.tar') };
        const [a, b] = await Promise.all([
          ctr(pair.ctr.socket, '-n', ns, 'images', 'export', ...flags, outs.theirs, 'example.com/idx:all'),
          run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, 'images', 'export', ...flags, outs.ours, 'example.com/idx:all']),
        ]);
        expect(outputText(b), flags.join(' ')).toBe(outputText(a));
        expect(a.code, a.stderr).toBe(0);
        expect(await sha256File(outs.ours), `${pair.name} export ${flags.join(' ')}`).toBe(await sha256File(outs.theirs));
        const names = (await run('tar', ['-tf', outs.ours])).stdout;
        expect(names.includes('manifest.json'), flags.join(' ')).toBe(!flags.includes('--skip-manifest-json'));
        expect(names.includes(zstd.layers[0]!.digest.slice(7)), flags.join(' ')).toBe(flags.includes('--all-platforms') || flags.includes('linux/s390x'));
      }
      // --all-platforms of an index whose other platform's content was not kept: ctr's error, and no file from ctr-ts.
      const out = join(work, 'partial.tar');
      const [a, b] = await both(pair, `oci-0-${process.pid}`, 'images', 'export', '--all-platforms', out, 'example.com/idx:host');
      expect(comparableOutput(outputText(b)), pair.name).toBe(comparableOutput(outputText(a)));
      expect(a).toMatchObject({ code: 1, stderr: `ctr: content digest ${zstd.manifest.digest}: not found\n` });
      await rm(out, { force: true });
      const ours = await run(ctrTs, ['-a', pair.ctrTs.socket, '-n', `oci-0-${process.pid}`, 'images', 'export', '--all-platforms', out, 'example.com/idx:host']);
      expect(ours.code).toBe(1);
      await expect(stat(out)).rejects.toThrow('ENOENT');
    }
  }, 900_000);

  it('bad input: one line in ctr’s words, a non-zero exit, and no lease, image or ingest left', async () => {
    const bad = join(work, 'bad');
    await rm(bad, { recursive: true, force: true });
    await run('mkdir', ['-p', join(bad, 'x')]);
    await writeFile(join(bad, 'short.txt'), 'hello\n');
    await writeFile(join(bad, 'long.txt'), 'not a tar\n'.repeat(300));
    await writeFile(join(bad, 'empty.tar'), '');
    await writeFile(join(bad, 'x', 'f'), 'hi\n');
    await run('tar', ['-cf', join(bad, 'no-index.tar'), '-C', join(bad, 'x'), 'f']);
    await writeFile(join(bad, 'x', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await run('tar', ['-cf', join(bad, 'layout-only.tar'), '-C', join(bad, 'x'), 'oci-layout', 'f']);
    await writeFile(join(bad, 'x', 'oci-layout'), '{"imageLayoutVersion":"9.9.9"}');
    await run('tar', ['-cf', join(bad, 'version.tar'), '-C', join(bad, 'x'), 'oci-layout']);
    await writeFile(join(bad, 'x', 'manifest.json'), '[{"Config":"missing.json","RepoTags":["x:1"],"Layers":[]}]');
    await run('tar', ['-cf', join(bad, 'no-config.tar'), '-C', join(bad, 'x'), 'manifest.json']);
    await writeFile(join(bad, 'truncated.tar'), (await readFile(archives.oci)).subarray(0, 5000));
    await run('sh', ['-c', `gzip -c ${archives.oci} > ${join(bad, 'gzipped.tar')}`]);
    const importCases = [
      [join(bad, 'missing.tar')],
      [join(bad, 'short.txt')],
      [join(bad, 'long.txt')],
      [join(bad, 'empty.tar')],
      [join(bad, 'no-index.tar')],
      [join(bad, 'layout-only.tar')],
      [join(bad, 'version.tar')],
      [join(bad, 'no-config.tar')],
      [join(bad, 'truncated.tar')],
      [join(bad, 'gzipped.tar')],
      [],
      ['--platform', 'linux/a b', archives.oci],
    ];
    const exportCases = [
      [join(bad, 'out.tar'), 'example.com/none:1'],
      [join(bad, 'out.tar')],
      [join(bad, 'no', 'such', 'dir.tar'), 'example.com/oci:1'],
      ['--platform', 'bad///', join(bad, 'out.tar'), 'example.com/oci:1'],
      [join(bad, 'out.tar'), 'example.com/oci:1', 'example.com/none:2'],
    ];
    for (const pair of pairs) {
      const ns = `bad-${process.pid}`;
      // An image for the exports that name one that exists.
      for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, '-n', ns, 'images', 'import', archives.oci)).code).toBe(0);
      for (const [verb, cases] of [
        ['import', importCases],
        ['export', exportCases],
      ] as const) {
        for (const args of cases) {
          const what = `${pair.name}: images ${verb} ${args.join(' ')}`;
          const [theirs, ours] = await both(pair, ns, 'images', verb, ...args);
          expect(ours.code, what).toBe(1);
          expect(ours.stderr.trim().split('\n'), what).toHaveLength(1);
          expect({ stdout: ours.stdout, stderr: ours.stderr.replace('ctr-ts: ', 'ctr: ') }, what).toEqual({ stdout: theirs.stdout, stderr: theirs.stderr });
          expect(theirs.code, what).toBe(1);
          // ctr leaves an empty or cut-short file behind when the export fails; ctr-ts leaves none.
          if (verb === 'export') await rm(join(bad, 'out.tar'), { force: true }).then(() => undefined);
        }
      }
      const leftovers = async () => {
        const [leases, images, active] = await Promise.all([
          ctr(pair.ctrTs.socket, '-n', ns, 'leases', 'ls', '-q'),
          ctr(pair.ctrTs.socket, '-n', ns, 'images', 'ls', '-q'),
          ctr(pair.ctrTs.socket, '-n', ns, 'content', 'active'),
        ]);
        return { leases: leases.stdout, images: images.stdout, active: active.stdout.split('\n').length };
      };
      expect(await eventually(async () => (await leftovers()).active === 2), pair.name).toBe(true);
      expect(await leftovers(), pair.name).toEqual({ leases: '', images: 'example.com/oci:1\n', active: 2 });
    }
    // A failed export leaves no file, whatever stage it failed at.
    for (const pair of pairs) {
      const out = join(bad, 'left.tar');
      const r = await run(ctrTs, ['-a', pair.ctrTs.socket, '-n', `bad-${process.pid}`, 'images', 'export', out, 'example.com/none:1']);
      expect(r.code).toBe(1);
      await expect(stat(out)).rejects.toThrow('ENOENT');
    }
  }, 600_000);

  it('images tag [--force], label [-r] and check [-q] print what ctr prints', async () => {
    for (const pair of pairs) {
      const ns = `tag-${process.pid}`;
      for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, '-n', ns, 'images', 'import', archives.oci)).code).toBe(0);
      for (const args of [
        ['images', 'tag', 'example.com/oci:1', 'example.com/oci:2', 'example.com/other:1'],
        ['images', 'tag', 'example.com/oci:1', 'example.com/oci:2'],
        ['images', 'tag', '--force', 'example.com/oci:1', 'example.com/oci:2'],
        ['images', 'tag', 'example.com/none:1', 'example.com/oci:3'],
        ['images', 'tag', 'example.com/oci:1'],
        ['images', 'tag'],
        ['images', 'label', 'example.com/oci:2', 'team=runtime'],
        ['images', 'label', 'example.com/none:1', 'a=b'],
        ['images', 'label'],
        ['images', 'label', '-r', 'example.com/other:1', 'only=this'],
        ['images', 'ls'],
        ['images', 'check'],
        ['images', 'check', '-q'],
        ['images', 'check', 'name==example.com/oci:2'],
        ['images', 'check', 'name==nothing'],
      ]) {
        const r = await sameStep(pair, ns, args, pair.name);
        if (args.join(' ') === 'images ls') expect(r.theirs.stdout).toMatch(/\nexample\.com\/oci:2 +\S+ +sha256:\S+ +\S+ KiB +linux\/amd64 +team=runtime +\n/);
        if (args.join(' ') === 'images check') expect(r.theirs.stdout).toMatch(/\nexample\.com\/other:1 +\S+ +sha256:\S+ +complete \(2\/2\) +\S+ KiB\/\S+ KiB +true\n/);
      }
      const rows = JSON.parse((await run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, 'images', 'check', '--format', 'json'])).stdout) as Array<{ name: string; status: string; unpacked: boolean }>;
      expect(rows.map((r) => [r.name, r.status, r.unpacked])).toEqual([
        ['example.com/oci:1', 'complete (2/2)', true],
        ['example.com/oci:2', 'complete (2/2)', true],
        ['example.com/other:1', 'complete (2/2)', true],
      ]);
    }
  }, 300_000);

  it('images mount/unmount [--rw] [--rm] as ctr: the same output, tree, lease and snapshots, and ctr’s errors', async () => {
    for (const pair of pairs) {
      const ns = `mount-${process.pid}`;
      for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, '-n', ns, 'images', 'import', '--no-unpack', archives.docker)).code).toBe(0);
      // Paths of one length: the tables ctr prints of them align alike.
      const targets = [await mkdtemp(join(tmpdir(), 'mount-a-')), await mkdtemp(join(tmpdir(), 'mount-b-'))] as const;
      /** The same command with each side's target: ctr's on its daemon, ctr-ts's on the twin. */
      const step = async (...args: string[]) => {
        const [a, b] = await Promise.all([
          ctr(pair.ctr.socket, '-n', ns, ...args.map((x) => x.replace('<target>', targets[0]))),
          run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, ...args.map((x) => x.replace('<target>', targets[1]))]),
        ]);
        expect(comparableOutput(outputText(b).replaceAll(targets[1], '<target>')), `${pair.name}: ${args.join(' ')}`).toBe(comparableOutput(outputText(a).replaceAll(targets[0], '<target>')));
        const [s1, s2] = await Promise.all([storedState(pair.ctr.socket, ns), storedState(pair.ctrTs.socket, ns)]);
        expect(s2.replaceAll(targets[1], '<target>'), `${pair.name}: state after ${args.join(' ')}`).toBe(s1.replaceAll(targets[0], '<target>'));
        return a;
      };
      try {
        const mounted = await step('images', 'mount', 'docker.io/library/fixture:gzip', '<target>');
        expect(mounted.stdout).toBe(`${chainId(diffIdsOf(gzip))}\n${targets[0]}\n`);
        const [t1, t2] = [snapshotTree(targets[0]), snapshotTree(targets[1])];
        expect(t2.length).toBeGreaterThan(50);
        expect(comparableTree(t2), pair.name).toEqual(comparableTree(t1));
        expect((await step('images', 'unmount', '<target>')).stdout).toBe(`${targets[0]}\n`);
        // Mounted again (the view is there): the same; then gone with --rm.
        await step('images', 'mount', 'docker.io/library/fixture:gzip', '<target>');
        await step('images', 'unmount', '--rm', '<target>');
        // --rw: an active snapshot one can write to.
        await step('images', 'mount', '--rw', 'example.com/app/fixture:1', '<target>');
        for (const t of targets) await writeFile(join(t, 'written'), 'rw\n');
        const rw = await step('images', 'unmount', '--rm', '<target>');
        expect(rw.code).toBe(0);
        // Errors: ctr's line and exit code, no lease left behind.
        for (const args of [['images', 'mount'], ['images', 'mount', 'x'], ['images', 'mount', 'example.com/none:1', '<target>'], ['images', 'unmount'], ['images', 'mount', '--platform', 'linux/a b', 'docker.io/library/fixture:gzip', '<target>']]) {
          const r = await step(...args);
          expect(r.code, args.join(' ')).toBe(1);
        }
        expect((await ctr(pair.ctrTs.socket, '-n', ns, 'leases', 'ls', '-q')).stdout).toBe('');
      } finally {
        for (const t of targets) {
          await run('umount', [t]);
          await rm(t, { recursive: true, force: true });
        }
      }
    }
  }, 600_000);

  it('--help of images export/import/tag/label/check is ctr’s, and `images` lists them in ctr’s order', async () => {
    const socket = pairs[0]!.ctr.socket;
    const comparableHelp = (t: string) =>
      t
        .replaceAll('ctr-ts ', 'ctr ')
        .split('\n')
        .filter((l) => !l.startsWith('   --format value'))
        .join('\n');
    for (const sub of ['export', 'import', 'tag', 'label', 'check', 'mount', 'unmount']) {
      const [a, b] = await Promise.all([ctr(socket, 'images', sub, '--help'), run(ctrTs, ['-a', socket, 'images', sub, '--help'])]);
      expect(a.code).toBe(0);
      expect({ code: b.code, help: comparableHelp(b.stdout) }, sub).toEqual({ code: 0, help: comparableHelp(a.stdout) });
    }
    const [a, b] = await Promise.all([ctr(socket, 'images', '--help'), run(ctrTs, ['-a', socket, 'images', '--help'])]);
    const commands = (t: string) => (t.split('COMMANDS:\n')[1] ?? '').split('\n\n')[0]!.split('\n').map((l) => l.trim().replace(/ {2,}/g, '  '));
    const ours = commands(b.stdout);
    // Every one of ctr 1.6's `images` commands, in its order and words (`convert` is the last).
    expect(ours.map((l) => l.split('  ')[0])).toEqual(['check', 'export', 'import', 'list, ls', 'mount', 'unmount', 'pull', 'push', 'delete, del, remove, rm', 'tag', 'label', 'convert']);
    expect(ours).toEqual(commands(a.stdout));
  }, 120_000);
});
