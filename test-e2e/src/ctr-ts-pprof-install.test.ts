// Issue 11: `ctr-ts pprof` against the daemons' `[debug] address` and `ctr-ts install` into
// the opt plugin's path, beside Debian's ctr. pprof: the same bytes for what is text
// (goroutine dumps), profiles `go tool pprof` reads, ctr's errors for a missing socket and
// a profile the daemon does not serve. install: on twin daemons (ctr on one, ctr-ts on the
// other), the same tree under each opt directory, with --libs, --path and --replace, and
// ctr's error for a file that exists.
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TreeEntry, snapshotTree } from '@containerd-ts/archive/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDockerArchive } from './docker-archive.js';
import { type RunResult, ctr, ctrTs, referenceConfig, run, startDaemon, startReference } from './harness.js';
import { fixtureImage } from './image-fixture.js';

interface Daemon {
  name: string;
  socket: string;
  dir: string;
}

const text = (r: RunResult) => `${r.stdout}--stderr--\n${r.stderr}--exit ${r.code}`;
const debugOf = (d: Daemon) => join(d.dir, 'debug.sock');
const optOf = (d: Daemon) => join(d.dir, 'opt');

/** A tree relative to its root; directories the install created (mtime now) compared by the rest. */
const comparableInstall = (tree: TreeEntry[]) => tree.map((e) => (e.type === 'dir' ? { ...e, mtimeNs: '<dir>' } : e));

describe('ctr-ts pprof and install, against ctr on containerd-ts and on containerd', () => {
  let work: string;
  const stops: Array<() => Promise<void>> = [];
  /** [ctr's daemon, ctr-ts's daemon] for containerd-ts and for containerd. */
  let pairs: Array<[Daemon, Daemon]> = [];
  const image = 'docker.io/library/tools:1';
  const ns = `install-${process.pid}`;

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-pprof-install-'));
    const sections = ['[debug]', '  address = "{{dir}}/debug.sock"', '[plugins."io.containerd.internal.v1.opt"]', '  path = "{{dir}}/opt"'];
    const started = await Promise.all([
      startDaemon({ config: ['version = 2', ...sections].join('\n') }),
      startDaemon({ config: ['version = 2', ...sections].join('\n') }),
      startReference({ config: referenceConfig(...sections) }),
      startReference({ config: referenceConfig(...sections) }),
    ]);
    const [ts1, ts2, ref1, ref2] = started;
    stops.push(ts1.cleanup, ts2.cleanup, ref1.stop, ref2.stop);
    pairs = [
      [
        { name: 'containerd-ts', socket: ts1.socket, dir: ts1.dir },
        { name: 'containerd-ts', socket: ts2.socket, dir: ts2.dir },
      ],
      [
        { name: 'containerd', socket: ref1.socket, dir: ref1.dir },
        { name: 'containerd', socket: ref2.socket, dir: ref2.dir },
      ],
    ];
    // The fixture image (its bin/ has files, hard and symbolic links, setuid and setgid bits; lib/ none) on every daemon.
    const archive = await buildDockerArchive(work, 'tools', [{ image: fixtureImage({ compression: 'gzip' }), repoTags: ['tools:1'], layers: 'gzip' }]);
    for (const d of pairs.flat()) expect((await ctr(d.socket, '-n', ns, 'images', 'import', '--no-unpack', archive)).code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(stops.map((s) => s()));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('pprof: goroutines and heap from containerd, heap and profile from containerd-ts, errors as ctr', async () => {
    const [[ts], [ref]] = pairs as [[Daemon, Daemon], [Daemon, Daemon]];
    const goroutines = await run(ctrTs, ['pprof', '-d', debugOf(ref), 'goroutines']);
    expect(goroutines.code, goroutines.stderr).toBe(0);
    expect(goroutines.stdout).toMatch(/^goroutine \d+ \[running\]:\n/);
    for (const d of [ts, ref]) {
      for (const args of [['heap'], ['profile', '--seconds', '1s']]) {
        const file = join(work, `${d.name}-${args[0]}.pb.gz`);
        // Through the shell: the profile is binary, written to stdout.
        const r = await run('sh', ['-c', 'exe="$0"; sock="$1"; shift; "$exe" pprof --debug-socket "$sock" "$@" > "$OUT"', ctrTs, debugOf(d), ...args], {
          env: { ...process.env, OUT: file },
        });
        expect(r.code, r.stderr).toBe(0);
        const bytes = await stat(file);
        expect(bytes.size, `${d.name} ${args[0]}`).toBeGreaterThan(0);
        // A gzipped protobuf, as net/http/pprof sends it.
        const head = await run('sh', ['-c', 'head -c 2 "$0" | od -An -tx1', file]);
        expect(head.stdout.trim(), `${d.name} ${args[0]}`).toBe('1f 8b');
        const go = await run('sh', ['-c', 'command -v go']);
        if (go.code === 0) {
          const top = await run('go', ['tool', 'pprof', '-top', file], { timeoutMs: 120_000 });
          expect(top.code, top.stderr).toBe(0);
        }
      }
    }
    // Errors: no socket, a profile containerd-ts does not serve, a flag ctr does not have.
    for (const [d, args] of [
      [ts, ['-d', join(work, 'none.sock'), 'heap']],
      [ts, ['-d', debugOf(ts), 'goroutines']],
      [ts, ['-d', debugOf(ts), 'threadcreate']],
      [ref, ['-d', debugOf(ref), 'heap', '--nope']],
    ] as const) {
      const [a, b] = await Promise.all([run('ctr', ['-a', d.socket, 'pprof', ...args]), run(ctrTs, ['-a', d.socket, 'pprof', ...args])]);
      expect(text(b).replace('ctr-ts: ', 'ctr: ').replaceAll('ctr-ts pprof', 'ctr pprof'), `${d.name} pprof ${args.join(' ')}`).toBe(text(a));
      expect(a.code).not.toBe(0);
    }
    // The help, ctr's but for the default socket (containerd-ts's own).
    for (const args of [['pprof', '--help'], ['pprof', 'profile', '--help'], ['pprof', 'trace', '--help'], ['pprof', 'heap', '--help']]) {
      const [a, b] = await Promise.all([run('ctr', args), run(ctrTs, args)]);
      expect(b.stdout.replaceAll('ctr-ts', 'ctr').replace('/run/containerd-ts/debug.sock', '/run/containerd/debug.sock'), args.join(' ')).toBe(a.stdout);
    }
  }, 300_000);

  it('install: the same files under each opt directory as ctr install, with --libs, --path, --replace and ctr’s errors', async () => {
    for (const [theirs, ours] of pairs) {
      const what = theirs.name;
      const both = (...args: string[]) =>
        Promise.all([ctr(theirs.socket, '-n', ns, 'install', ...args), run(ctrTs, ['-a', ours.socket, '-n', ns, 'install', ...args])]);
      const [a, b] = await both(image);
      expect(text(b), what).toBe(text(a));
      expect(a.code, a.stderr).toBe(0);
      const [t1, t2] = [snapshotTree(optOf(theirs)), snapshotTree(optOf(ours))];
      // The hard link's entry (mode 0644) comes after the file's (0755): containerd's applier chmods the shared inode.
      expect(t2.find((e) => e.path === '/bin/tool')).toMatchObject({ type: 'file', mode: 0o644, hardlinks: ['/bin/tool-link'] });
      expect(t2.find((e) => e.path === '/bin/suid')).toMatchObject({ mode: 0o4755 });
      expect(t2.find((e) => e.path === '/bin/rel')).toMatchObject({ type: 'symlink', linkname: '../etc/hostname' });
      expect(t2.some((e) => e.path.startsWith('/etc'))).toBe(false);
      expect(comparableInstall(t2), what).toEqual(comparableInstall(t1));
      // Again: a file is there, ctr's error (the path differs: each daemon has its own opt).
      const [a2, b2] = await both(image);
      expect(b2.code, what).toBe(1);
      expect(b2.stderr.replace(optOf(ours), '<opt>').replace('ctr-ts: ', 'ctr: '), what).toBe(a2.stderr.replace(optOf(theirs), '<opt>'));
      expect(a2.stderr, what).toMatch(/^ctr: cannot replace bin\/\S+ in /);
      // --replace --libs: replaced, lib/ too.
      const [a3, b3] = await both('--replace', '--libs', image);
      expect(text(b3), what).toBe(text(a3));
      expect(comparableInstall(snapshotTree(optOf(ours))), what).toEqual(comparableInstall(snapshotTree(optOf(theirs))));
      // --path: somewhere else; it must exist.
      const paths = [join(work, `${what}-ctr`), join(work, `${what}-ctr-ts`)];
      const [a0, b0] = await Promise.all([
        ctr(theirs.socket, '-n', ns, 'install', '--path', paths[0]!, image),
        run(ctrTs, ['-a', ours.socket, '-n', ns, 'install', '--path', paths[0]!, image]),
      ]);
      expect(text(b0).replace('ctr-ts: ', 'ctr: '), what).toBe(text(a0));
      expect(a0).toMatchObject({ code: 1, stderr: `ctr: mkdir ${paths[0]}/bin: no such file or directory\n` });
      for (const p of paths) await mkdir(p);
      const [a4, b4] = await Promise.all([
        ctr(theirs.socket, '-n', ns, 'install', '--path', paths[0]!, image),
        run(ctrTs, ['-a', ours.socket, '-n', ns, 'install', '--path', paths[1]!, image]),
      ]);
      expect(text(b4), what).toBe(text(a4));
      expect(comparableInstall(snapshotTree(paths[1]!)), what).toEqual(comparableInstall(snapshotTree(paths[0]!)));
      // An unknown image.
      const [a5, b5] = await both('example.com/none:1');
      expect(text(b5).replace('ctr-ts: ', 'ctr: '), what).toBe(text(a5));
      expect(a5.code).toBe(1);
    }
    const [a, b] = await Promise.all([run('ctr', ['install', '--help']), run(ctrTs, ['install', '--help'])]);
    expect(b.stdout.replaceAll('ctr-ts', 'ctr')).toBe(a.stdout);
  }, 300_000);
});
