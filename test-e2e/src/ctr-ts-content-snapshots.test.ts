// Issue 11: ctr-ts's `content` and `snapshots` commands (`snapshots diff` and `unpack`
// included), its help and flag errors, and `--format json`. The same session runs with Debian's ctr and with ctr-ts, each on its own
// daemon, against containerd-ts and against Debian's containerd: ctr-ts must print what
// ctr prints (stdout, stderr and exit code), with only times, ages, daemon directories and
// the order Go happens to print a label map in made comparable.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunResult, type StartedDaemon, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';
import { buildImageArchive } from './oci-archive.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

interface Step {
  args: string[];
  input?: string;
  env?: Record<string, string>;
  /** stdout is a label list (`k=v,k2=v2`) that ctr prints in Go's map order. */
  labels?: boolean;
  /**
   * stdout is a tar: the time (and so the checksum) of whiteout entries is masked, which
   * containerd 1.6 writes as the time of the diff (containerd-ts writes the epoch, as later
   * containerd releases do).
   */
  tar?: boolean;
  /** stdout is a table whose last column is a label list (`content ls`), printed in Go's map order. */
  labelColumn?: boolean;
  /** stdout is a table whose rows containerd lists in Go's map order (ingests). */
  rows?: boolean;
  /** The output includes the help of a command that prints a table: ctr-ts lists its `--format` flag too. */
  help?: boolean;
}

const hello = 'hello from issue 11\n';
const helloDigest = `sha256:${createHash('sha256').update(hello).digest('hex')}`;
const other = 'another blob\n';
const missing = `sha256:${'0'.repeat(64)}`;

/** A help text without ctr-ts's `--format` line, columns compared with single spaces. */
const comparableHelp = (text: string) =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('   --format value'))
    .map((l) => l.replace(/ {2,}/g, '  '))
    .join('\n');

/** Table rows under the header, sorted. */
const sortRows = (text: string) => {
  const [header = '', ...rows] = text.split('\n');
  return `${[header, ...rows.filter((r) => r !== '').sort()].join('\n')}\n`;
};

function normalize(r: RunResult, client: 'ctr' | 'ctr-ts', dirs: string[], step: Step): string {
  let stdout = r.stdout;
  if (step.labels) stdout = stdout.split('\n').map((line) => line.split(',').sort().join(',')).join('\n');
  if (step.tar) {
    let masked = '';
    for (let off = 0; off < stdout.length; off += 512) {
      const block = stdout.slice(off, off + 512);
      const name = block.slice(0, 100).replace(/\0+$/, '');
      masked += block.length === 512 && /(^|\/)\.wh\./.test(name) ? `${block.slice(0, 136)}${'#'.repeat(20)}${block.slice(156)}` : block;
    }
    stdout = masked;
  }
  if (step.labelColumn) {
    const sortLast = (line: string) => {
      const cells = line.split('\t');
      cells.push(cells.pop()!.split(',').sort().join(','));
      return cells.join('\t');
    };
    stdout = stdout.split('\n').map(sortLast).join('\n');
  }
  if (step.rows) stdout = sortRows(stdout);
  if (step.help) stdout = comparableHelp(stdout);
  let text = `${stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`;
  if (client === 'ctr-ts') text = text.replaceAll('ctr-ts: ', 'ctr: ').replace(/\bctr-ts (content|snapshots)/g, 'ctr $1');
  for (const d of dirs) text = text.replaceAll(d, '<dir>');
  return text
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/time="[^"]*"/g, 'time=<time>')
    .replace(/Less than a second|About a minute|\d+ (?:seconds?|minutes?)/g, '<age>')
    .replace(/\t+/g, '\t');
}

function contentSession(digest: string): Step[] {
  const c = (...args: string[]) => ({ args: ['content', ...args] });
  return [
    c('ls'),
    c('ls', '-q'),
    { ...c('ingest', 'blob-1'), input: hello },
    { ...c('ingest', '--expected-digest', digest, 'blob-1'), input: hello },
    { ...c('ingest', 'blob-2', '--expected-size', String(other.length)), input: other },
    { ...c('ingest', '--expected-digest', missing, 'blob-3'), input: 'x' },
    { ...c('ingest', '--expected-size', '100', 'blob-4'), input: 'short' },
    { ...c('ingest', '--expected-digest', 'sha256:abc', 'blob-5'), input: 'x' },
    { ...c('ingest', '--expected-digest=md5:abc', 'blob-5'), input: 'x' },
    { ...c('ingest'), input: 'x' },
    c('ingest', '--expected-size', 'abc', 'k'),
    c('ingest', '--expected-size'),
    c('ls'),
    c('ls', '--quiet'),
    c('ls', `digest==${digest}`),
    c('get', digest),
    c('get', missing),
    c('get', 'nope'),
    c('get'),
    { ...c('label', digest, 'owner=alice'), labels: true },
    { ...c('label', digest, 'a=1', 'flag'), labels: true },
    { ...c('label', digest), labels: true },
    { ...c('label', digest, 'a=', 'flag='), labels: true },
    c('label', missing, 'x=1'),
    c('label', 'bad', 'x=1'),
    c('ls'),
    c('ls', 'labels.owner==alice'),
    { ...c('active'), rows: true },
    { ...c('active', 'blob'), rows: true },
    // A layer reference label goes, the config's (index 0) stays.
    { ...c('label', digest, 'owner=', `containerd.io/gc.ref.content.l.0=${missing}`), labels: true },
    c('prune', 'references', '--dry'),
    c('ls'),
    c('prune', 'references'),
    c('ls'),
    c('rm', missing),
    c('rm', 'bad', digest),
    c('rm', digest),
    c('del'),
    { ...c('ls', '-x'), help: true },
    { ...c('ls', '-q=maybe'), help: true },
    c('nope'),
    { ...c('help', 'ls'), help: true },
    c('help', 'nope'),
    c('help', 'get'),
    c('prune'),
    c('prune', '--nope'),
    { ...c('ls', '--help'), help: true },
    c('ingest', '-h'),
    c('rm', '-h', 'x'),
  ];
}

function snapshotSession(): Step[] {
  const s = (...args: string[]) => ({ args: ['snapshots', '--snapshotter', 'native', ...args] });
  return [
    s('ls'),
    s('prepare', 'base-tmp'),
    s('prepare', 'base-tmp'),
    s('commit', 'base', 'base-tmp'),
    s('prepare', '--mounts', 'work', 'base'),
    s('prepare', '--target', '/mnt/x', 'work2', 'base'),
    s('prepare', 'child', 'nope'),
    s('view', 'v', 'base'),
    s('view', '--mounts', '-t', '/mnt/v', 'v2', 'base'),
    // ctr labels what it prepares and commits as a GC root, not what it views: without these
    // the first removal below lets the collector take v2 before it is removed by name.
    { ...s('label', 'v', 'containerd.io/gc.root=test'), labels: true },
    { ...s('label', 'v2', 'containerd.io/gc.root=test'), labels: true },
    s('ls'),
    s('tree'),
    s('info', 'base'),
    s('info', 'work'),
    s('info', 'nope'),
    s('info'),
    s('usage'),
    s('usage', '-b'),
    s('usage', 'base', 'work'),
    s('usage', 'nope'),
    s('mounts', '/mnt', 'work'),
    s('m', '/mnt', 'v'),
    s('mounts', '/mnt', 'base'),
    s('mounts', '/mnt'),
    { ...s('label', 'base', 'foo=bar', 'x=1'), labels: true },
    { ...s('label', 'base', 'foo='), labels: true },
    { ...s('label', 'base'), labels: true },
    s('label', 'nope', 'x=1'),
    s('info', 'base'),
    s('rm', 'base'),
    s('rm', 'nope'),
    s('commit', 'layer2', 'work'),
    s('commit', 'layer2'),
    s('tree'),
    s('rm', 'v', 'v2', 'work2'),
    s('rm', 'layer2', 'base'),
    s('ls'),
    // The snapshotter from the environment, and the default one.
    { args: ['snapshots', 'prepare', 'env-key'], env: { CONTAINERD_SNAPSHOTTER: 'native' } },
    { args: ['snapshots', 'ls'], env: { CONTAINERD_SNAPSHOTTER: 'native' } },
    { args: ['snapshots', '--snapshotter', 'native', 'rm', 'env-key'] },
    { args: ['snapshot', '--snapshotter', 'nope', 'ls'] },
    // Flags of the group go before the subcommand; a leaf's flags anywhere after it.
    { args: ['snapshots', 'tree', '--snapshotter', 'native'] },
    { args: ['snapshots', 'prepare'] },
    { args: ['snapshots', 'nope'] },
    { args: ['snapshots', 'usage', '--help'], help: true },
    { args: ['snapshots', 'prepare', '--target'] },
  ];
}

/**
 * The diff session: `base` (committed: a directory and two files) and `work` on it (active:
 * a changed file, a new one, one removed), made alike on each daemon with fixed times so
 * that the layers are the same bytes; `manifest` is an image imported without unpacking.
 */
function diffSession(manifest: string): Step[] {
  const s = (...args: string[]) => ({ args: ['snapshots', '--snapshotter', 'native', ...args] });
  const tar = (...args: string[]) => ({ ...s('diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', ...args), tar: true });
  return [
    tar('work'),
    tar('base'),
    tar('base', 'work'),
    tar('work', 'base'),
    // Kept under a GC root with the labels given (gzip, the default: a layer without
    // whiteouts, so containerd's bytes do not depend on the time). A blob that exists
    // already keeps its labels, on both daemons, so this is the first gzip diff of `base`.
    s('diff', '--keep', '--label', 'team=a', '--ref', 'diff-1', 'base'),
    // A collection before the listing, so that what the earlier diffs' leases held is gone
    // on both sides: without --keep nothing is left.
    { args: ['leases', 'create', '--id', 'gc-now'] },
    { args: ['leases', 'rm', '--sync', 'gc-now'] },
    { args: ['content', 'ls'], labelColumn: true },
    s('diff', 'base'),
    s('diff', 'nope'),
    s('diff', 'base', 'nope'),
    s('diff'),
    s('diff', '--help'),
    s('ls'),
    s('unpack', '--snapshotter', 'native', manifest),
    s('ls'),
    s('unpack', '--snapshotter', 'native', manifest),
    s('unpack', `sha256:${'0'.repeat(64)}`),
    s('unpack', 'nope'),
    s('unpack'),
    s('unpack', '--help'),
  ];
}

/** Makes `base` and `work` of the diff session on a daemon, through ctr and the native snapshotter's directories. */
async function diffTrees(socket: string): Promise<void> {
  const sn = ['snapshots', '--snapshotter', 'native'];
  const must = async (...args: string[]) => {
    const r = await ctr(socket, ...sn, ...args);
    if (r.code !== 0) throw new Error(`ctr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const dirOf = async (key: string) => (await must('mounts', '/x', key)).split(' ')[3]!;
  const at = (secs: number) => new Date(secs * 1000);
  await must('prepare', 'base-tmp');
  const base = await dirOf('base-tmp');
  await mkdir(join(base, 'etc'));
  await writeFile(join(base, 'etc', 'hosts'), '127.0.0.1 localhost\n');
  await writeFile(join(base, 'etc', 'motd'), 'welcome\n');
  for (const p of ['etc/hosts', 'etc/motd', 'etc', '.']) await utimes(join(base, p), at(1000), at(1000));
  await must('commit', 'base', 'base-tmp');
  await must('prepare', 'work', 'base');
  const work = await dirOf('work');
  await writeFile(join(work, 'etc', 'hosts'), '127.0.0.1 localhost work\n');
  await rm(join(work, 'etc', 'motd'));
  await writeFile(join(work, 'new'), 'a new file\n');
  for (const p of ['etc/hosts', 'new', 'etc', '.']) await utimes(join(work, p), at(2000), at(2000));
}

const runStep = (client: 'ctr' | 'ctr-ts', socket: string, step: Step) =>
  run(client === 'ctr' ? 'ctr' : ctrTs, ['-a', socket, ...step.args], {
    ...(step.input === undefined ? {} : { input: step.input }),
    ...(step.env ? { env: { ...process.env, ...step.env } } : {}),
  });

interface Pair {
  name: string;
  ctr: { socket: string; dir: string };
  ctrTs: { socket: string; dir: string };
}

/** Runs the session with ctr on one daemon and ctr-ts on its twin; returns ctr's outputs by step. */
async function compare(pair: Pair, steps: Step[]) {
  const outputs: Array<{ step: string; ctr: string; ctrTs: string }> = [];
  const dirs = [pair.ctr.dir, pair.ctrTs.dir];
  for (const step of steps) {
    const [a, b] = await Promise.all([runStep('ctr', pair.ctr.socket, step), runStep('ctr-ts', pair.ctrTs.socket, step)]);
    outputs.push({ step: step.args.join(' '), ctr: normalize(a, 'ctr', dirs, step), ctrTs: normalize(b, 'ctr-ts', dirs, step) });
  }
  for (const o of outputs) expect(o.ctrTs, `${pair.name}: ${o.step}`).toBe(o.ctr);
  return (args: string) => outputs.filter((o) => o.step === args).map((o) => o.ctr);
}

describe('ctr-ts content and snapshots print what ctr prints, on containerd-ts and on containerd', () => {
  let ts1: StartedDaemon;
  let ts2: StartedDaemon;
  let ref1: Reference;
  let ref2: Reference;
  let pairs: Pair[] = [];
  beforeAll(async () => {
    [ts1, ts2, ref1, ref2] = await Promise.all([startDaemon(), startDaemon(), startReference(), startReference()]);
    pairs = [
      { name: 'containerd-ts', ctr: { socket: ts1.socket, dir: ts1.dir }, ctrTs: { socket: ts2.socket, dir: ts2.dir } },
      { name: 'containerd', ctr: { socket: ref1.socket, dir: ref1.dir }, ctrTs: { socket: ref2.socket, dir: ref2.dir } },
    ];
  });
  afterAll(async () => {
    await Promise.all([ts1?.cleanup(), ts2?.cleanup(), ref1?.stop(), ref2?.stop()]);
  });

  it('content: ls/get/ingest/rm/label/active/prune references, errors and help', async () => {
    for (const pair of pairs) {
      const out = await compare(pair, contentSession(helloDigest));
      // What ctr printed, so that two equally wrong answers cannot pass.
      expect(out(`content get ${helloDigest}`)[0]).toBe(`${hello}\n--stderr--\n\n--exit 0`);
      const otherDigest = `sha256:${createHash('sha256').update(other).digest('hex')}`;
      expect(out('content ls --quiet')[0]).toBe(`${[helloDigest, otherDigest].sort().join('\n')}\n\n--stderr--\n\n--exit 0`);
      expect(out(`content rm ${helloDigest}`)[0]).toBe('\n--stderr--\n\n--exit 0');
      expect(out('content nope')[0]).toBe("\n--stderr--\nNo help topic for 'nope'\n\n--exit 3");
      expect(out('content ls -x')[0]).toMatch(/^Incorrect Usage: flag provided but not defined: -x\n\nNAME:\n +ctr content list - /);
      expect(out('content ingest --expected-digest sha256:abc blob-5')[0]).toContain('ctr: invalid checksum digest length\n');
    }
  }, 600_000);

  it('snapshots --snapshotter: ls/info/prepare/view/mounts/commit/rm/label/usage/tree, errors and help', async () => {
    for (const pair of pairs) {
      const out = await compare(pair, snapshotSession());
      const s = (args: string) => out(`snapshots --snapshotter native ${args}`);
      expect(s('tree')[0]).toMatch(/^ base\n( {2}\\_ (v|v2|work|work2)\n){4}\n--stderr--/);
      expect(s('mounts /mnt work')[0]).toMatch(/^mount -t bind \S+ \/mnt -o rbind,rw\n/);
      expect(s('info base')[0]).toMatch(/^\{\n {4}"Kind": "Committed",\n {4}"Name": "base",\n/);
      expect(s('usage -b')[0]).toMatch(/^KEY +SIZE +INODES +\n/);
    }
  }, 600_000);

  it('snapshots diff (one snapshot or two, active or committed, --keep, --label) and unpack: the same bytes, labels and snapshots', async () => {
    const work = await mkdtemp(join(tmpdir(), 'ctr-ts-diff-'));
    try {
      const archive = await buildImageArchive(work, 'docker.io/library/diff-unpack:1');
      for (const pair of pairs) {
        for (const side of [pair.ctr, pair.ctrTs]) {
          await diffTrees(side.socket);
          const imported = await ctr(side.socket, 'images', 'import', '--no-unpack', archive.file);
          expect(imported.code, imported.stderr).toBe(0);
        }
        const out = await compare(pair, diffSession(archive.manifest));
        const s = (args: string) => out(`snapshots --snapshotter native ${args}`)[0] ?? '';
        // What ctr printed, so that two equally wrong answers cannot pass.
        const tar = '--media-type application/vnd.oci.image.layer.v1.tar';
        expect(s(`diff ${tar} work`)).toMatch(/^etc\/\0[\s\S]*etc\/\.wh\.motd\0[\s\S]*new\0[\s\S]*--exit 0$/);
        expect(s(`diff ${tar} work`)).toContain('127.0.0.1 localhost work\n');
        expect(s(`diff ${tar} base`)).toContain('welcome\n');
        expect(s(`diff ${tar} base work`)).toBe(s(`diff ${tar} work`));
        expect(s(`diff ${tar} work base`)).toMatch(/etc\/motd\0[\s\S]*welcome\n[\s\S]*\.wh\.new\0/);
        expect(s('diff base').charCodeAt(0)).toBe(0x1f); // gzip
        expect(out('content ls')[0]).toMatch(/containerd\.io\/gc\.root=<time>/);
        expect(out('content ls')[0]).toContain('team=a');
        expect(s('diff')).toBe('\n--stderr--\nctr: snapshot id must be provided\n\n--exit 1');
        expect(s(`unpack --snapshotter native ${archive.manifest}`)).toBe(
          `unpacking ${archive.manifest} (application/vnd.oci.image.manifest.v1+json)...done\n\n--stderr--\n\n--exit 0`,
        );
        // The second listing, after the unpack: the image's layer committed under its chain ID.
        expect(out('snapshots --snapshotter native ls')[1]?.split('\n--stderr')[0]).toMatch(/\nsha256:[0-9a-f]{64} +Committed/);
        expect(s(`unpack sha256:${'0'.repeat(64)}`)).toBe('\n--stderr--\nctr: manifest not found\n\n--exit 1');
        expect(s('unpack nope')).toBe('\n--stderr--\nctr: invalid checksum digest format\n\n--exit 1');
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 600_000);
});

describe('ctr-ts help and flag parsing as ctr', () => {
  let ts: StartedDaemon;
  beforeAll(async () => {
    ts = await startDaemon();
  });
  afterAll(async () => {
    await ts?.cleanup();
  });

  // The help of every command ctr-ts shares with ctr (the groups whose subcommands it has
  // in full); ctr-ts adds `--format` to commands that print a table.
  const helps = [
    ['plugins'],
    ['plugins', 'ls'],
    ['version'],
    ['events'],
    ['namespaces'],
    ...['create', 'ls', 'rm', 'label'].map((c) => ['namespaces', c]),
    ['leases'],
    ...['ls', 'create', 'rm'].map((c) => ['leases', c]),
    ...['ls', 'get', 'ingest', 'rm', 'label', 'active', 'prune', 'edit', 'fetch-object', 'push-object'].map((c) => ['content', c]),
    ['content', 'prune', 'references'],
    ...['info', 'prepare', 'view', 'mounts', 'commit', 'rm', 'label', 'usage', 'tree', 'diff', 'unpack'].map((c) => ['snapshots', c]),
    ...['check', 'export', 'import', 'tag', 'label'].map((c) => ['images', c]),
    ...['block', 'goroutines', 'heap', 'profile', 'threadcreate', 'trace'].map((c) => ['pprof', c]),
    ['install'],
  ];
  /** ctr-ts's help without its `--format` line, columns compared with single spaces. */
  const comparable = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('   --format value'))
      .map((l) => l.replace(/ {2,}/g, '  '))
      .join('\n');

  it('--help of each command is ctr’s', async () => {
    for (const args of helps) {
      const [a, b] = await Promise.all([ctr(ts.socket, ...args, '--help'), run(ctrTs, ['-a', ts.socket, ...args, '--help'])]);
      expect(a.code).toBe(0);
      expect({ code: b.code, help: comparable(b.stdout.replaceAll('ctr-ts ', 'ctr ')) }, args.join(' ')).toEqual({ code: 0, help: comparable(a.stdout) });
    }
  }, 300_000);

  it('the content and snapshots groups list ctr’s subcommands, in ctr’s words', async () => {
    for (const group of ['content', 'snapshots']) {
      const [a, b] = await Promise.all([ctr(ts.socket, group, '--help'), run(ctrTs, ['-a', ts.socket, group, '--help'])]);
      const commands = (text: string) => (text.split('COMMANDS:\n')[1] ?? '').split('\n\n')[0]!.split('\n').map((l) => l.trim().replace(/ {2,}/g, '  '));
      const theirs = commands(a.stdout);
      const ours = commands(b.stdout);
      expect(ours.length, group).toBeGreaterThanOrEqual(7);
      for (const line of ours) expect(theirs, group).toContain(line);
      // In ctr's order.
      expect(ours, group).toEqual(theirs.filter((l) => ours.includes(l)));
      // Both groups have every subcommand of ctr's.
      expect(ours, group).toEqual(theirs);
      expect(b.stdout.split('OPTIONS:')[1], group).toBe(a.stdout.split('OPTIONS:')[1]);
    }
  }, 300_000);

  it('a reader that goes away ends the command as it ends ctr: status 141 (SIGPIPE), nothing on stderr', async () => {
    const blob = Buffer.alloc(4 << 20, 'x');
    const ingested = await run(ctrTs, ['-a', ts.socket, 'content', 'ingest', 'sigpipe-blob'], { input: blob.toString() });
    expect(ingested.code, ingested.stderr).toBe(0);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    const piped = async (client: string) => {
      const r = await run('bash', ['-c', `"${client}" -a "${ts.socket}" content get ${digest} | head -c 10; echo " status \${PIPESTATUS[0]}"`]);
      return `${r.stdout}|${r.stderr}`;
    };
    const [a, b] = [await piped('ctr'), await piped(ctrTs)];
    expect(a).toBe('xxxxxxxxxx status 141\n|');
    expect(b).toBe(a);
    await run(ctrTs, ['-a', ts.socket, 'content', 'rm', digest]);
  }, 60_000);

  it('flag errors, unknown commands and global flags as ctr', async () => {
    const cases = [
      ['-x'],
      ['nope'],
      ['namespaces', 'ls', '-x'],
      ['leases', 'create', '--expires=bad'],
      ['leases', 'create', '--id'],
      ['namespaces', '--bad'],
      ['version', '-a', 'x'],
      ['plugins', 'nope'],
      ['namespaces', 'ls', '---q'],
      ['help', 'nope'],
    ];
    for (const args of cases) {
      const [a, b] = await Promise.all([ctr(ts.socket, ...args), run(ctrTs, ['-a', ts.socket, ...args])]);
      const text = (r: RunResult) => `${r.stdout}--stderr--\n${r.stderr}--exit ${r.code}`;
      // ctr-ts's help of `namespaces ls` also lists its --format flag.
      const ours = comparable(text(b).replaceAll('ctr-ts', 'ctr'));
      if (args[0] === '-x') {
        // The application's own help differs (name, version, commands); the error does not.
        expect(ours.split('\n')[0]).toBe(text(a).split('\n')[0]);
        expect(ours.endsWith('--stderr--\nctr: flag provided but not defined: -x\n--exit 1')).toBe(true);
        continue;
      }
      expect(ours, args.join(' ')).toBe(comparable(text(a)));
    }
    // Global flags from the environment, and flags after a leaf's positionals.
    const env = { ...process.env, CONTAINERD_ADDRESS: ts.socket, CONTAINERD_NAMESPACE: 'env-ns' };
    expect(await run(ctrTs, ['namespaces', 'create', 'env-ns'], { env })).toMatchObject({ code: 0 });
    expect(await run(ctrTs, ['leases', 'create', 'k=v', '--id', 'late-flag'], { env })).toMatchObject({ code: 0, stdout: 'late-flag\n' });
    expect(await run(ctrTs, ['leases', 'ls', '-q'], { env })).toMatchObject({ code: 0, stdout: 'late-flag\n' });
    expect(await run(ctrTs, ['--timeout', 'x', 'version'], { env })).toMatchObject({ code: 1, stderr: 'ctr-ts: invalid value "x" for flag -timeout: parse error\n' });
  }, 300_000);

  it('--format json prints the rows of every table as one object each', async () => {
    const a = ['-a', ts.socket, '-n', 'json-ns'];
    await run(ctrTs, [...a, 'content', 'ingest', 'j1'], { input: hello });
    await run(ctrTs, [...a, 'content', 'label', helloDigest, 'k=v']);
    await run(ctrTs, [...a, 'leases', 'create', '--id', 'jl', 'x=y']);
    await run(ctrTs, [...a, 'snapshots', '--snapshotter', 'native', 'prepare', 'js']);
    const json = async (...args: string[]) => {
      const r = await run(ctrTs, [...a, ...args]);
      expect(r, args.join(' ')).toMatchObject({ code: 0, stderr: '' });
      return JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    };
    expect(await json('content', 'ls', '--format', 'json')).toEqual([
      { digest: helloDigest, size: hello.length, createdAt: expect.any(String), updatedAt: expect.any(String), labels: { k: 'v' } },
    ]);
    expect(await json('leases', 'ls', '--format=json')).toEqual([{ id: 'jl', createdAt: expect.any(String), labels: expect.objectContaining({ x: 'y' }) }]);
    expect(await json('namespaces', 'ls', '--format', 'json')).toContainEqual({ name: 'json-ns', labels: {} });
    expect(await json('snapshots', '--snapshotter', 'native', 'ls', '--format', 'json')).toEqual([
      { key: 'js', parent: '', kind: 'Active', createdAt: expect.any(String), updatedAt: expect.any(String), labels: { 'containerd.io/gc.root': expect.any(String) } },
    ]);
    expect(await json('snapshots', '--snapshotter', 'native', 'usage', '--format', 'json')).toEqual([{ key: 'js', size: expect.any(Number), inodes: expect.any(Number) }]);
    expect(await json('content', 'active', '--format', 'json')).toEqual([]);
    const plugins = await json('plugins', 'ls', '--format', 'json');
    const table = await run(ctrTs, [...a, 'plugins', 'ls']);
    expect(plugins.map((p) => `${p.type} ${p.id} ${p.status}`)).toEqual(
      table.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(/\s+/))
        .map(([type, id, , status]) => `${type} ${id} ${status}`),
    );
    expect(await run(ctrTs, [...a, 'content', 'ls', '--format', 'yaml'])).toMatchObject({ code: 1, stderr: 'ctr-ts: unknown format "yaml": table or json\n' });
  }, 300_000);
});
