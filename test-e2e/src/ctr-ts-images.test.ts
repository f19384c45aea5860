// Issue 11: `ctr-ts images pull --plain-http` from a loopback docker-registry, then
// `images ls/rm/push`. Each pull runs with Debian's ctr on one daemon and ctr-ts on its
// twin, against containerd-ts and against Debian's containerd; Debian's ctr then reads what
// ctr-ts stored (images ls, content labels, snapshots) and mounts it, and the tree must be
// the one ctr's own pull gives. Errors (unknown image, unreachable registry, bad reference)
// are ctr's words on one line with a non-zero exit.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TreeEntry, snapshotTree } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, type StartedDaemon, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';
import { busyboxImage } from './busybox-image.js';
import { comparableOutput, outputText } from './ctr-sessions.js';
import { type FixtureImage, chainId, comparableTree, diffIdsOf, fixtureImage } from './image-fixture.js';
import { type Registry, pushImage, startRegistry } from './registry.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

interface Pair {
  name: string;
  /** The daemon Debian's ctr pulls into. */
  ctr: { socket: string; dir: string };
  /** Its twin, which ctr-ts pulls into. */
  ctrTs: { socket: string; dir: string };
}

const ESC = '\x1b';

/** The last progress table of a pull (the block after the last `elapsed:` line but one), its rows sorted, and what follows it. */
function pullSummary(stdout: string): { rows: string[]; after: string[] } {
  const lines = stdout.split('\n');
  const elapsed = lines.flatMap((l, i) => (l.startsWith('elapsed: ') ? [i] : []));
  const last = elapsed.at(-1) ?? -1;
  const before = elapsed.at(-2) ?? -1;
  const rows = lines
    .slice(before + 1, last)
    .map((l) => l.replace(/ +/g, ' '))
    .sort();
  const after = lines.slice(last + 1).map((l) => l.replace(/^done: \S+\t$/, 'done: <duration>\t'));
  return { rows, after };
}

/** ctr's progress loop may log its own cancellation when the fetch ends: those lines are not the pull's. */
const pullStderr = (stderr: string) => stderr.replace(/^.*msg="(failed to get content info|active check failed)" error="context canceled"\n/gm, '');

/** Mounts the image with Debian's `ctr images mount` (default snapshotter) and returns its tree. */
async function mountedTree(socket: string, ref: string, image: FixtureImage): Promise<TreeEntry[]> {
  const target = await mkdtemp(join(tmpdir(), 'ctr-ts-tree-'));
  try {
    const mounted = await ctr(socket, 'images', 'mount', ref, target);
    expect(mounted.code, mounted.stderr).toBe(0);
    expect(mounted.stdout.trim().split('\n')).toEqual([chainId(diffIdsOf(image)), target]);
    try {
      return snapshotTree(target);
    } finally {
      const unmounted = await ctr(socket, 'images', 'unmount', '--rm', target);
      expect(unmounted.code, unmounted.stderr).toBe(0);
    }
  } finally {
    await rm(target, { recursive: true, force: true });
  }
}

/** What Debian's ctr reads back of the pulled image on one daemon. */
async function storedState(socket: string, chain: string, dirs: string[]): Promise<string> {
  const parts: string[] = [];
  for (const args of [
    ['images', 'ls'],
    ['images', 'check'],
    ['content', 'ls'],
    ['snapshots', 'ls'],
    ['snapshots', 'info', chain],
    ['leases', 'ls'],
  ]) {
    const r = await ctr(socket, ...args);
    parts.push(`$ ctr ${args.join(' ')}\n${outputText(r)}`);
  }
  return comparableOutput(parts.join('\n'), dirs);
}

describe('ctr-ts images pull/ls/rm/push, against ctr on containerd-ts and on containerd', () => {
  let registry: Registry;
  let ts1: StartedDaemon;
  let ts2: StartedDaemon;
  let ref1: Reference;
  let ref2: Reference;
  let pairs: Pair[] = [];
  const gzip = fixtureImage({ compression: 'gzip' });
  const zstd = fixtureImage({ compression: 'zstd' });
  const refs: Record<'gzip' | 'zstd' | 'index', string> = { gzip: '', zstd: '', index: '' };
  const arch = process.arch === 'x64' ? 'amd64' : process.arch;
  /** An OCI index whose first entry is another platform's (the zstd manifest) and whose second is this host's (gzip). */
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: [
        { mediaType: zstd.manifest.mediaType, digest: zstd.manifest.digest, size: zstd.manifest.size, platform: { architecture: 's390x', os: 'linux' } },
        { mediaType: gzip.manifest.mediaType, digest: gzip.manifest.digest, size: gzip.manifest.size, platform: { architecture: arch, os: 'linux' } },
      ],
    }),
  );
  const indexDigest = `sha256:${createHash('sha256').update(index).digest('hex')}`;

  beforeAll(async () => {
    registry = await startRegistry();
    refs.gzip = await pushImage(registry, 'fixture', 'gzip', gzip);
    refs.zstd = await pushImage(registry, 'fixture', 'zstd', zstd);
    const put = await fetch(`http://${registry.host}/v2/fixture/manifests/index`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' },
      body: index,
    });
    expect(put.status).toBe(201);
    refs.index = `${registry.host}/fixture:index`;
    [ts1, ts2, ref1, ref2] = await Promise.all([startDaemon(), startDaemon(), startReference(), startReference()]);
    pairs = [
      { name: 'containerd-ts', ctr: { socket: ts1.socket, dir: ts1.dir }, ctrTs: { socket: ts2.socket, dir: ts2.dir } },
      { name: 'containerd', ctr: { socket: ref1.socket, dir: ref1.dir }, ctrTs: { socket: ref2.socket, dir: ref2.dir } },
    ];
  }, 120_000);

  afterAll(async () => {
    await Promise.all([ts1?.cleanup(), ts2?.cleanup(), ref1?.stop(), ref2?.stop()]);
    await registry?.stop();
  });

  it('pull stores what ctr pull stores: ctr lists, checks and mounts it with the same tree', async () => {
    for (const pair of pairs) {
      const dirs = [pair.ctr.dir, pair.ctrTs.dir];
      for (const [kind, image] of [
        ['index', gzip],
        ['gzip', gzip],
        ['zstd', zstd],
      ] as const) {
        const ref = refs[kind];
        const what = `${pair.name} ${kind}`;
        const [theirs, ours] = await Promise.all([
          ctr(pair.ctr.socket, 'images', 'pull', '--plain-http', ref),
          run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'pull', '--plain-http', ref]),
        ]);
        expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, what).toEqual({ code: 0, stderr: '' });
        expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
        // The last table (every job done) and the unpack lines, as ctr prints them when stdout is no terminal.
        const summary = pullSummary(ours.stdout);
        expect(summary, what).toEqual(pullSummary(theirs.stdout));
        const target = kind === 'index' ? indexDigest : image.manifest.digest;
        // The ref, the index (if any), the manifest of this platform, its config and layers.
        expect(summary.rows, what).toHaveLength((kind === 'index' ? 3 : 2) + 1 + image.layers.length);
        expect(summary.rows.join('\n'), what).toContain(`manifest-${image.manifest.digest}: done |${ESC}[32m${'+'.repeat(38)}${ESC}[0m| `);
        if (kind === 'index') expect(summary.rows.join('\n'), what).toContain(`index-${indexDigest}: done |`);
        expect(summary.after, what).toEqual([`unpacking linux/${arch} ${target}...`, 'done: <duration>\t', '']);
        const chain = chainId(diffIdsOf(image));
        const [stateTheirs, stateOurs] = await Promise.all([storedState(pair.ctr.socket, chain, dirs), storedState(pair.ctrTs.socket, chain, dirs)]);
        expect(stateOurs, what).toBe(stateTheirs);
        // What ctr's read-back holds, so that two equally wrong states cannot pass.
        expect(stateOurs, what).toContain(`containerd.io/gc.ref.snapshot.overlayfs=${chain}`);
        expect(stateOurs, what).toContain('containerd.io/distribution.source.127.0.0.1=fixture');
        if (kind === 'index') {
          expect(stateOurs, what).toMatch(new RegExp(`\\n${ref} +application/vnd\\.oci\\.image\\.index\\.v1\\+json +${indexDigest} +\\S+ MiB +linux/${arch},linux/s390x +- +\\n`));
          expect(stateOurs, what).toContain(`containerd.io/gc.ref.content.m.0=${zstd.manifest.digest}`);
          // Nothing of the other platform's manifest is fetched.
          expect(stateOurs, what).not.toMatch(new RegExp(`\\n${zstd.manifest.digest}\t`));
          expect(stateOurs, what).toContain(`containerd.io/gc.ref.content.m.1=${gzip.manifest.digest}`);
        } else {
          expect(stateOurs, what).toMatch(new RegExp(`\\n${ref} +${image.manifest.mediaType.replaceAll('.', '\\.').replaceAll('+', '\\+')} +${image.manifest.digest} +\\S+ MiB +linux/${arch} +- +\\n`));
        }
        expect(stateOurs, what).toContain('$ ctr leases ls\nID CREATED AT LABELS \n--stderr--');
        const [treeTheirs, treeOurs] = await Promise.all([mountedTree(pair.ctr.socket, ref, image), mountedTree(pair.ctrTs.socket, ref, image)]);
        expect(treeOurs.length, what).toBeGreaterThan(50);
        expect(treeOurs.find((e) => e.path === '/bin/suid')?.mode, what).toBe(0o4755);
        expect(treeOurs.some((e) => e.path === '/opt/doomed'), what).toBe(false);
        expect(comparableTree(treeOurs), what).toEqual(comparableTree(treeTheirs));
        if (kind === 'index') {
          // The next pulls start from an empty store again.
          for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, 'images', 'rm', '--sync', ref)).code).toBe(0);
        }
      }
    }
  }, 600_000);

  it('pull --all-metadata of an index fetches every platform’s manifest and config but only this platform’s layers, as ctr does', async () => {
    // A namespace of its own: nothing pulled before is visible there.
    const ns = `allmeta-${process.pid}`;
    for (const pair of pairs) {
      const dirs = [pair.ctr.dir, pair.ctrTs.dir];
      const [theirs, ours] = await Promise.all([
        ctr(pair.ctr.socket, '-n', ns, 'images', 'pull', '--plain-http', '--all-metadata', refs.index),
        run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, 'images', 'pull', '--plain-http', '--all-metadata', refs.index]),
      ]);
      expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, pair.name).toEqual({ code: 0, stderr: '' });
      expect({ code: ours.code, stderr: ours.stderr }, pair.name).toEqual({ code: 0, stderr: '' });
      const summary = pullSummary(ours.stdout);
      expect(summary, pair.name).toEqual(pullSummary(theirs.stdout));
      // The ref, the index, both manifests, both configs (the fixtures share theirs), this platform's layers.
      const configs = new Set([gzip.config.digest, zstd.config.digest]);
      expect(summary.rows, pair.name).toHaveLength(1 + 1 + 2 + configs.size + gzip.layers.length);
      const state = async (socket: string) => {
        const parts: string[] = [];
        for (const args of [['images', 'ls'], ['images', 'check'], ['content', 'ls'], ['snapshots', 'ls'], ['leases', 'ls']]) {
          const r = await ctr(socket, '-n', ns, ...args);
          parts.push(`$ ctr ${args.join(' ')}\n${outputText(r)}`);
        }
        return comparableOutput(parts.join('\n'), dirs);
      };
      const [stateTheirs, stateOurs] = await Promise.all([state(pair.ctr.socket), state(pair.ctrTs.socket)]);
      expect(stateOurs, pair.name).toBe(stateTheirs);
      // What ctr's read-back holds: the other platform's manifest and config, none of its layers.
      const digests = stateOurs.split('$ ctr content ls')[1]!.split('$ ctr snapshots ls')[0]!.match(/^sha256:[0-9a-f]{64}/gm) ?? [];
      expect(digests.sort(), pair.name).toEqual(
        [indexDigest, gzip.manifest.digest, ...configs, ...gzip.layers.map((l) => l.digest), zstd.manifest.digest].sort(),
      );
      for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', refs.index)).code).toBe(0);
    }
  }, 600_000);

  it('content fetch stores what ctr’s content fetch stores (no unpack), with --all-metadata and --metadata-only; a bad reference is ctr’s one line', async () => {
    const configs = [...new Set([gzip.config.digest, zstd.config.digest])];
    const cases: Array<{ args: string[]; ref: string; content: string[] }> = [
      // A single manifest: it, its config and its layers.
      { args: [], ref: refs.gzip, content: [gzip.manifest.digest, gzip.config.digest, ...gzip.layers.map((l) => l.digest)] },
      // Every platform's manifest and config, this platform's layers.
      {
        args: ['--all-metadata'],
        ref: refs.index,
        content: [indexDigest, gzip.manifest.digest, zstd.manifest.digest, ...configs, ...gzip.layers.map((l) => l.digest)],
      },
      // Manifests and configs, no layer at all.
      { args: ['--metadata-only'], ref: refs.index, content: [indexDigest, gzip.manifest.digest, zstd.manifest.digest, ...configs] },
      // Two --platform values: every manifest matching either (no limit to one, unlike pull), with its layers.
      {
        args: ['--platform', 'linux/s390x', '--platform', `linux/${arch}`],
        ref: refs.index,
        content: [indexDigest, gzip.manifest.digest, zstd.manifest.digest, ...configs, ...gzip.layers.map((l) => l.digest), ...zstd.layers.map((l) => l.digest)],
      },
    ];
    for (const pair of pairs) {
      const dirs = [pair.ctr.dir, pair.ctrTs.dir];
      for (const [i, c] of cases.entries()) {
        // A namespace of its own per case: nothing fetched before is visible there.
        const ns = `cfetch-${process.pid}-${i}`;
        const what = `${pair.name}: content fetch ${[...c.args, c.ref].join(' ')}`;
        const [theirs, ours] = await Promise.all([
          ctr(pair.ctr.socket, '-n', ns, 'content', 'fetch', '--plain-http', ...c.args, c.ref),
          run(ctrTs, ['-a', pair.ctrTs.socket, '-n', ns, 'content', 'fetch', '--plain-http', ...c.args, c.ref]),
        ]);
        expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, what).toEqual({ code: 0, stderr: '' });
        expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
        // The last table, every job done, and nothing after it (no unpack).
        const summary = pullSummary(ours.stdout);
        expect(summary, what).toEqual(pullSummary(theirs.stdout));
        expect(summary.after, what).toEqual(['']);
        expect(summary.rows, what).toHaveLength(1 + c.content.length);
        const state = async (socket: string) => {
          const parts: string[] = [];
          for (const args of [['images', 'ls'], ['content', 'ls'], ['snapshots', 'ls'], ['leases', 'ls']]) {
            const r = await ctr(socket, '-n', ns, ...args);
            parts.push(`$ ctr ${args.join(' ')}\n${outputText(r)}`);
          }
          return comparableOutput(parts.join('\n'), dirs);
        };
        const [stateTheirs, stateOurs] = await Promise.all([state(pair.ctr.socket), state(pair.ctrTs.socket)]);
        expect(stateOurs, what).toBe(stateTheirs);
        // ctr's client.Fetch creates the image record; nothing is unpacked and no lease is left.
        const target = c.ref === refs.index ? indexDigest : gzip.manifest.digest;
        expect(stateOurs, what).toMatch(new RegExp(`\\$ ctr images ls\\nREF .*\\n${c.ref} +\\S+ +${target} `));
        expect(stateOurs, what).toContain('$ ctr snapshots ls\nKEY PARENT KIND \n--stderr--');
        expect(stateOurs, what).toContain('$ ctr leases ls\nID CREATED AT LABELS \n--stderr--');
        const digests = stateOurs.split('$ ctr content ls')[1]!.split('$ ctr snapshots ls')[0]!.match(/^sha256:[0-9a-f]{64}/gm) ?? [];
        expect(digests.sort(), what).toEqual([...new Set(c.content)].sort());
        for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', c.ref)).code).toBe(0);
      }
      for (const args of [['Bad Ref'], [`${registry.host}/fixture:nope`], [], ['--platform', 'linux/a/b/c', refs.gzip], ['--platform', 'linux/*', refs.gzip]]) {
        const [a, b] = await Promise.all([
          ctr(pair.ctr.socket, 'content', 'fetch', '--plain-http', ...args),
          run(ctrTs, ['-a', pair.ctrTs.socket, 'content', 'fetch', '--plain-http', ...args]),
        ]);
        const what = `${pair.name}: content fetch ${args.join(' ')}`;
        const lastLine = (s: string) => s.trim().split('\n').at(-1)!;
        expect(a.code, what).toBe(1);
        expect(b.code, what).toBe(1);
        expect(b.stderr.trim().split('\n'), what).toHaveLength(1);
        expect(lastLine(b.stderr).replace('ctr-ts: ', 'ctr: '), what).toBe(lastLine(a.stderr));
      }
      expect((await ctr(pair.ctrTs.socket, 'leases', 'ls', '-q')).stdout, pair.name).toBe('');
    }
    // Its help is ctr's, word for word (no --max-concurrent-downloads there either).
    const [a, b] = await Promise.all([ctr(ts1.socket, 'content', 'fetch', '--help'), run(ctrTs, ['-a', ts1.socket, 'content', 'fetch', '--help'])]);
    expect(a.code).toBe(0);
    expect({ code: b.code, help: b.stdout.replaceAll('ctr-ts ', 'ctr ') }).toEqual({ code: 0, help: a.stdout });
  }, 600_000);

  it('images ls [-q] and --format json print ctr’s rows; rm prints what ctr prints', async () => {
    for (const pair of pairs) {
      // Both images are there from the pulls above, on both daemons.
      for (const args of [['images', 'ls'], ['images', 'ls', '-q'], ['images', 'ls', `name==${refs.zstd}`], ['images', 'list', '--quiet']]) {
        const [a, b] = await Promise.all([ctr(pair.ctr.socket, ...args), run(ctrTs, ['-a', pair.ctrTs.socket, ...args])]);
        expect(outputText(b), `${pair.name}: ${args.join(' ')}`).toBe(outputText(a));
      }
      const json = await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'ls', '--format', 'json']);
      expect(json.code, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual(
        [gzip, zstd].map((image, i) => ({
          name: [refs.gzip, refs.zstd][i],
          mediaType: image.manifest.mediaType,
          digest: image.manifest.digest,
          size: image.manifest.size + image.config.size + image.layers.reduce((n, l) => n + l.size, 0),
          platforms: ['linux/amd64'],
          labels: {},
          createdAt: expect.any(String),
          updatedAt: expect.any(String),
        })),
      );
      const dirs = [pair.ctr.dir, pair.ctrTs.dir];
      for (const args of [
        ['images', 'rm', refs.zstd, 'example.com/missing:1'],
        ['images', 'rm', '--sync', refs.gzip],
        ['images', 'ls'],
        ['content', 'ls'],
      ]) {
        const [a, b] = await Promise.all([ctr(pair.ctr.socket, ...args), args[1] === 'ls' ? ctr(pair.ctrTs.socket, ...args) : run(ctrTs, ['-a', pair.ctrTs.socket, ...args])]);
        const norm = (r: RunResult) => comparableOutput(outputText(r), dirs).replace(/time="[^"]*"/g, 'time=<time>');
        expect(norm(b), `${pair.name}: ${args.join(' ')}`).toBe(norm(a));
      }
    }
  }, 300_000);

  it('pull --all-platforms fetches and unpacks every entry of an index, as ctr', async () => {
    for (const pair of pairs) {
      const dirs = [pair.ctr.dir, pair.ctrTs.dir];
      const what = `${pair.name} --all-platforms`;
      const [theirs, ours] = await Promise.all([
        ctr(pair.ctr.socket, 'images', 'pull', '--plain-http', '--all-platforms', refs.index),
        run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'pull', '--plain-http', '--all-platforms', refs.index]),
      ]);
      expect({ code: theirs.code, stderr: pullStderr(theirs.stderr) }, what).toEqual({ code: 0, stderr: '' });
      expect({ code: ours.code, stderr: ours.stderr }, what).toEqual({ code: 0, stderr: '' });
      const summary = pullSummary(ours.stdout);
      expect(summary, what).toEqual(pullSummary(theirs.stdout));
      // The ref, the index, each entry's manifest and layers, and the config both share (same JSON).
      expect(gzip.config.digest).toBe(zstd.config.digest);
      expect(summary.rows, what).toHaveLength(2 + 2 * (1 + gzip.layers.length) + 1);
      expect(summary.after, what).toEqual([`unpacking linux/s390x ${indexDigest}...`, `unpacking linux/${arch} ${indexDigest}...`, 'done: <duration>\t', '']);
      const chain = chainId(diffIdsOf(gzip));
      const [stateTheirs, stateOurs] = await Promise.all([storedState(pair.ctr.socket, chain, dirs), storedState(pair.ctrTs.socket, chain, dirs)]);
      expect(stateOurs, what).toBe(stateTheirs);
      expect(stateOurs, what).toMatch(new RegExp(`\\n${zstd.manifest.digest}\t`));
      for (const socket of [pair.ctr.socket, pair.ctrTs.socket]) expect((await ctr(socket, 'images', 'rm', '--sync', refs.index)).code).toBe(0);
    }
  }, 300_000);

  it('push --plain-http puts the image back with the same manifest digest', async () => {
    for (const pair of pairs) {
      // Without --plain-http: a loopback registry is spoken to over HTTP, as by ctr.
      const pulled = await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'pull', refs.gzip]);
      expect(pulled.code, pulled.stderr).toBe(0);
      const repo = `pushed-${pair.name}`;
      const pushed = await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'push', '--plain-http', `${registry.host}/${repo}:1`, refs.gzip]);
      expect({ code: pushed.code, stderr: pushed.stderr }).toEqual({ code: 0, stderr: '' });
      expect(pushed.stdout).toContain(`manifest-${gzip.manifest.digest}: done`);
      // The blobs came from the `fixture` repository of the same registry: mounted from there.
      for (const blob of [gzip.config, ...gzip.layers]) expect(pushed.stdout).toMatch(new RegExp(`(^|\\n)${blob === gzip.config ? 'config' : 'layer'}-${blob.digest}: +mounted `));
      const manifest = await fetch(`http://${registry.host}/v2/${repo}/manifests/1`, { headers: { accept: gzip.manifest.mediaType } });
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get('docker-content-digest')).toBe(gzip.manifest.digest);
      expect(Buffer.from(await manifest.arrayBuffer()).equals(gzip.manifest.data)).toBe(true);
      // Debian's ctr pulls the pushed copy back onto the other daemon: the same image.
      const back = await ctr(pair.ctr.socket, 'images', 'pull', '--plain-http', `${registry.host}/${repo}:1`);
      expect(back.code, back.stderr).toBe(0);
      const listed = await ctr(pair.ctr.socket, 'images', 'ls', '-q');
      expect(listed.stdout).toContain(`${registry.host}/${repo}:1\n`);
      const again = await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'push', '--plain-http', `${registry.host}/${repo}:1`, refs.gzip]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(new RegExp(`\\nlayer-${gzip.layers[0]!.digest}: +exists `));
      // Without the distribution source label there is nothing to mount from: the blobs are uploaded.
      for (const blob of [gzip.config, ...gzip.layers]) {
        expect((await ctr(pair.ctrTs.socket, 'content', 'label', blob.digest, 'containerd.io/distribution.source.127.0.0.1=')).code).toBe(0);
      }
      const uploaded = await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'push', '--plain-http', `${registry.host}/${repo}-upload:1`, refs.gzip]);
      expect(uploaded.code, uploaded.stderr).toBe(0);
      for (const blob of gzip.layers) expect(uploaded.stdout).toMatch(new RegExp(`\\nlayer-${blob.digest}: +done `));
      const copy = await fetch(`http://${registry.host}/v2/${repo}-upload/blobs/${gzip.layers[1]!.digest}`);
      expect(Buffer.from(await copy.arrayBuffer()).equals(gzip.layers[1]!.data)).toBe(true);
      for (const socket of [pair.ctr.socket]) await ctr(socket, 'images', 'rm', '--sync', `${registry.host}/${repo}:1`);
      await run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'rm', '--sync', refs.gzip]);
    }
  }, 300_000);

  it('containers ls and tasks ls print ctr’s rows, and --format json has them', async () => {
    const busybox = await pushImage(registry, 'busybox', '1', busyboxImage());
    const ns = `ctrts-images-${process.pid}`;
    for (const socket of [ts1.socket, ref1.socket]) {
      const n = ['-a', socket, '-n', ns];
      const pulled = await run(ctrTs, [...n, 'images', 'pull', '--plain-http', busybox]);
      expect(pulled.code, pulled.stderr).toBe(0);
      try {
        expect(await run('ctr', [...n, 'run', '-d', busybox, 'running', 'sleep', '300'])).toMatchObject({ code: 0, stderr: '' });
        expect(await run('ctr', [...n, 'containers', 'create', '--label', 'k=v', busybox, 'created'])).toMatchObject({ code: 0, stderr: '' });
        for (const args of [['containers', 'ls'], ['containers', 'ls', '-q'], ['c', 'list', 'id==created'], ['tasks', 'ls'], ['tasks', 'ls', '-q'], ['t', 'list']]) {
          const [a, b] = await Promise.all([run('ctr', [...n, ...args]), run(ctrTs, [...n, ...args])]);
          expect(outputText(b), `${socket}: ${args.join(' ')}`).toBe(outputText(a));
          // What ctr printed, so that two equally empty answers cannot pass.
          if (args.join(' ') === 'tasks ls') expect(a.stdout).toMatch(/^TASK +PID +STATUS +\nrunning +\d+ +RUNNING\n$/);
          if (args.join(' ') === 'containers ls') expect(a.stdout.split('\n').slice(1).map((l) => l.split(/ +/)[0])).toEqual(['created', 'running', '']);
        }
        const containers = await run(ctrTs, [...n, 'containers', 'ls', '--format', 'json']);
        expect(JSON.parse(containers.stdout)).toEqual(
          ['created', 'running'].map((id) => ({
            id,
            image: busybox,
            runtime: 'io.containerd.runc.v2',
            snapshotter: 'overlayfs',
            snapshotKey: id,
            labels: expect.objectContaining(id === 'created' ? { k: 'v' } : {}),
            createdAt: expect.any(String),
            updatedAt: expect.any(String),
          })),
        );
        const tasks = JSON.parse((await run(ctrTs, [...n, 'tasks', 'ls', '--format', 'json'])).stdout) as Array<{ id: string; pid: number; status: string }>;
        expect(tasks).toEqual([{ id: 'running', pid: expect.any(Number), status: 'RUNNING' }]);
        expect(tasks[0]!.pid).toBeGreaterThan(1);
      } finally {
        await run('ctr', [...n, 'tasks', 'rm', '-f', 'running']);
        await run('ctr', [...n, 'containers', 'rm', 'running', 'created']);
        await run(ctrTs, [...n, 'images', 'rm', '--sync', busybox]);
      }
      expect((await run(ctrTs, [...n, 'containers', 'ls', '-q'])).stdout).toBe('');
    }
  }, 300_000);

  it('--help of images ls/rm, containers ls and tasks ls is ctr’s; the groups list ctr’s subcommands in its words', async () => {
    const socket = ts1.socket;
    /** ctr-ts's help without its `--format` line, columns compared with single spaces. */
    const comparableHelp = (t: string) =>
      t
        .replaceAll('ctr-ts ', 'ctr ')
        .split('\n')
        .filter((l) => !l.startsWith('   --format value'))
        .map((l) => l.replace(/ {2,}/g, '  '))
        .join('\n');
    for (const args of [['images', 'ls'], ['images', 'rm'], ['containers', 'ls'], ['tasks', 'ls']]) {
      const [a, b] = await Promise.all([ctr(socket, ...args, '--help'), run(ctrTs, ['-a', socket, ...args, '--help'])]);
      expect(a.code).toBe(0);
      expect({ code: b.code, help: comparableHelp(b.stdout) }, args.join(' ')).toEqual({ code: 0, help: comparableHelp(a.stdout) });
    }
    for (const group of ['images', 'containers', 'tasks']) {
      const [a, b] = await Promise.all([ctr(socket, group, '--help'), run(ctrTs, ['-a', socket, group, '--help'])]);
      const commands = (t: string) => (t.split('COMMANDS:\n')[1] ?? '').split('\n\n')[0]!.split('\n').map((l) => l.trim().replace(/ {2,}/g, '  '));
      const ours = commands(b.stdout);
      expect(ours.length, group).toBeGreaterThanOrEqual(1);
      expect(ours, group).toEqual(commands(a.stdout).filter((l) => ours.includes(l)));
    }
    // pull and push take a subset of ctr's flags, each in ctr's words.
    for (const args of [['images', 'pull'], ['images', 'push']]) {
      const [a, b] = await Promise.all([ctr(socket, ...args, '--help'), run(ctrTs, ['-a', socket, ...args, '--help'])]);
      const flags = (t: string) => (t.split('OPTIONS:\n')[1] ?? '').split('\n').filter((l) => l.trim() !== '').map((l) => l.trim().replace(/ {2,}/g, '  '));
      for (const line of flags(b.stdout)) expect(flags(a.stdout), args.join(' ')).toContain(line);
      expect(comparableHelp(b.stdout).split('OPTIONS:')[0]).toBe(comparableHelp(a.stdout).split('OPTIONS:')[0]);
    }
  }, 120_000);

  it('on a terminal (a pty) the table is redrawn in place and every layer shows its bytes and unpack state', async () => {
    const ns = `ctrts-tty-${process.pid}`;
    for (const socket of [ts1.socket, ref1.socket]) {
      const command = `stty cols 250; exec ${ctrTs} -a ${socket} -n ${ns} images pull --plain-http ${refs.gzip}`;
      const r = await run('script', ['-qfec', command, '/dev/null']);
      expect(r.code, r.stderr).toBe(0);
      const out = r.stdout.replaceAll('\r\n', '\n');
      // Tables after the first are drawn over the one before.
      expect(out).toContain(`${ESC}[1A${ESC}[2K\r`);
      const tables = out.split(`${ESC}[1A${ESC}[2K\r`).filter((t) => t !== '');
      const last = tables.at(-1)!.split('\n');
      for (const layer of gzip.layers) {
        const row = last.find((l) => l.startsWith(`layer-${layer.digest}:`));
        expect(row, socket).toMatch(/: +unpacked +\|\S+\| +(\d+\.\d) (B|KiB|MiB)\/\1 \2 +$/);
      }
      expect(last.find((l) => l.startsWith(`config-${gzip.config.digest}:`))).toMatch(/ done +\|\S+\| +\d+\.\d B\/\d+\.\d B +$/);
      expect(last.slice(-3)).toEqual([`unpacking linux/${arch} ${gzip.manifest.digest}...`, expect.stringMatching(/^done: \S+\t$/), '']);
      // The image is there, for ctr too.
      expect((await ctr(socket, '-n', ns, 'images', 'ls', '-q')).stdout).toBe(`${refs.gzip}\n`);
      expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', refs.gzip)).code).toBe(0);
    }
  }, 120_000);

  it('a download the daemon has part of is resumed from where it stopped (Range), and the blob is whole', async () => {
    const ns = `ctrts-resume-${process.pid}`;
    const layer = zstd.layers[1]!;
    const half = Math.floor(layer.size / 2);
    for (const socket of [ts1.socket, ref1.socket]) {
      // An ingest cut off half-way, under the ref the pull writes the layer with.
      const dir = await mkdtemp(join(tmpdir(), 'ctr-ts-half-'));
      await writeFile(join(dir, 'half'), layer.data.subarray(0, half));
      const cut = await run('sh', [
        '-c',
        `ctr -a ${socket} -n ${ns} content ingest --expected-size ${layer.size} --expected-digest ${layer.digest} layer-${layer.digest} < ${join(dir, 'half')}`,
      ]);
      await rm(dir, { recursive: true, force: true });
      expect(cut.stderr).toContain('unexpected EOF');
      const active = await ctr(socket, '-n', ns, 'content', 'active');
      expect(active.stdout).toContain(`layer-${layer.digest}`);
      const pulled = await run(ctrTs, ['-a', socket, '-n', ns, 'images', 'pull', '--plain-http', refs.zstd]);
      expect({ code: pulled.code, stderr: pulled.stderr }).toEqual({ code: 0, stderr: '' });
      const got = await run('sh', ['-c', `ctr -a ${socket} -n ${ns} content get ${layer.digest} | sha256sum`]);
      expect(got.stdout.split(' ')[0]).toBe(layer.digest.slice('sha256:'.length));
      expect((await ctr(socket, '-n', ns, 'content', 'active')).stdout).not.toContain(layer.digest);
      expect((await ctr(socket, '-n', ns, 'images', 'check')).stdout).toMatch(/complete \(4\/4\) +\S+ MiB\/\S+ MiB +true/);
      expect((await ctr(socket, '-n', ns, 'images', 'rm', '--sync', refs.zstd)).code).toBe(0);
    }
  }, 120_000);

  it('bad input: one line and a non-zero exit, in ctr’s words', async () => {
    const cases = [
      [`${registry.host}/fixture:nope`],
      [`${registry.host}/nothere:1`],
      ['127.0.0.1:1/x:1'],
      ['Bad Ref'],
      ['foo'],
      [`${registry.host}/fixture`],
      [`${registry.host}/fixture@sha256:abc`],
      [],
    ];
    for (const pair of pairs) {
      for (const args of cases) {
        const [a, b] = await Promise.all([
          ctr(pair.ctr.socket, 'images', 'pull', '--plain-http', ...args),
          run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'pull', '--plain-http', ...args]),
        ]);
        const what = `${pair.name}: pull ${args.join(' ')}`;
        // ctr logs its tries at info level before the error; ctr-ts prints the error only.
        const lastLine = (s: string) => s.trim().split('\n').at(-1)!;
        expect(b.code, what).toBe(1);
        expect(b.stderr.trim().split('\n'), what).toHaveLength(1);
        expect(lastLine(b.stderr).replace('ctr-ts: ', 'ctr: '), what).toBe(lastLine(a.stderr));
        expect(a.code, what).toBe(1);
      }
      // The lease each failed pull took is gone again.
      expect((await ctr(pair.ctrTs.socket, 'leases', 'ls', '-q')).stdout, pair.name).toBe('');
      const missing = await Promise.all([
        ctr(pair.ctr.socket, 'images', 'push', '--plain-http', `${registry.host}/x:1`, 'example.com/none:1'),
        run(ctrTs, ['-a', pair.ctrTs.socket, 'images', 'push', '--plain-http', `${registry.host}/x:1`, 'example.com/none:1']),
      ]);
      expect(missing[1].stderr.replace('ctr-ts: ', 'ctr: ')).toBe(missing[0].stderr);
      expect(missing[1].code).toBe(missing[0].code);
    }
    // A daemon that is not there.
    const gone = await run(ctrTs, ['-a', '/nonexistent/containerd.sock', '--connect-timeout', '1s', 'images', 'ls']);
    expect(gone).toMatchObject({ code: 1, stderr: 'ctr-ts: failed to dial "/nonexistent/containerd.sock": context deadline exceeded\n' });
  }, 300_000);
});
