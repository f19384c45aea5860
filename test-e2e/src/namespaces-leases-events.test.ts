// Issue 3: namespaces, leases and events. The same `ctr` session (Debian's ctr) against
// containerd-ts and against Debian's containerd in one test: outputs, error messages and
// exit codes must match; `ctr events` must print the same topics and payloads for the
// same actions. ctr-ts runs the same session against containerd and must print what ctr
// prints there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventFollower } from './event-follower.js';
import { type RunResult, type StartedDaemon, ctr, ctrTs, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

/** One ctr invocation: arguments after `-a <socket>`, and optional stdin. */
interface Step {
  args: string[];
  input?: string;
}

const hello = 'hello from issue 3\n';
// sha256 of `hello`, as `ctr content ingest` stores it.
const helloDigest = 'sha256:cdbbdc76b10147c03c184a20a58b6a7ffef575e8a819054a9ea58428b53c5368';

/** Times in ctr's output (lease creation and expiry, log lines) differ between runs. */
const normalize = (r: RunResult, client: 'ctr' | 'ctr-ts') => {
  let text = `${r.stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`;
  if (client === 'ctr-ts') text = text.replaceAll('ctr-ts: ', 'ctr: ').replaceAll('ctr-ts leases', 'ctr leases');
  return text.replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})/g, '<time>');
};

function session(digest: string): Step[] {
  return [
    { args: ['namespaces', 'ls'] },
    { args: ['namespaces', 'create', 'team-a', 'owner=alice', 'tier'] },
    { args: ['namespaces', 'create', 'team-a'] },
    { args: ['namespaces', 'create'] },
    { args: ['namespaces', 'create', 'bad..name'] },
    { args: ['ns', 'create', 'Team_B', 'x=1'] },
    { args: ['namespaces', 'ls'] },
    { args: ['namespace', 'ls', '-q'] },
    { args: ['namespaces', 'label', 'team-a', 'owner='] },
    { args: ['namespaces', 'label', 'team-a', 'cost=12'] },
    { args: ['namespaces', 'label'] },
    // Labelling an unknown namespace creates it.
    { args: ['namespaces', 'label', 'ghost', 'k=v'] },
    { args: ['namespaces', 'ls'] },
    { args: ['-n', 'team-a', 'content', 'ingest', 'blob-1'], input: hello },
    { args: ['namespaces', 'rm', 'team-a'] },
    { args: ['namespaces', 'rm', 'nope', 'Team_B', 'team-a'] },
    { args: ['-n', 'team-a', 'content', 'rm', digest] },
    { args: ['namespaces', 'rm', 'team-a', 'ghost'] },
    { args: ['namespaces', 'ls'] },
    { args: ['leases', 'ls'] },
    { args: ['leases', 'create', '--id', 'pull-1', 'app=web', 'empty'] },
    { args: ['leases', 'create', '--id', 'forever', '--expires', '0'] },
    { args: ['leases', 'create', '--id', 'short', '-x', '30m', 'k=v'] },
    { args: ['leases', 'create', '--id', 'pull-1'] },
    { args: ['leases', 'ls'] },
    { args: ['leases', 'ls', '-q'] },
    { args: ['leases', 'ls', 'id==short'] },
    { args: ['leases', 'ls', 'labels.app==web', 'id==forever'] },
    { args: ['leases', 'ls', 'id=='] },
    { args: ['leases', 'rm', 'nope'] },
    { args: ['leases', 'rm'] },
    { args: ['leases', 'rm', 'short', 'forever', '--sync'] },
    { args: ['leases', 'ls'] },
    { args: ['-n', 'other', 'leases', 'ls'] },
    { args: ['leases', 'rm', 'pull-1'] },
    { args: ['namespaces', 'rm', 'default'] },
    { args: ['namespaces', 'ls'] },
  ];
}

// Content commands are not part of this comparison: they always run with Debian's ctr.
const runStep = (client: 'ctr' | 'ctr-ts', socket: string, step: Step) =>
  run(client === 'ctr' || step.args.includes('content') ? 'ctr' : ctrTs, ['-a', socket, ...step.args], step.input === undefined ? {} : { input: step.input });

describe('namespaces and leases: the same session on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  // ctr-ts runs the session against ref2 while ctr runs it against ref3.
  let ref2: Reference;
  let ref3: Reference;
  beforeAll(async () => {
    [ts, ref, ref2, ref3] = await Promise.all([startDaemon(), startReference(), startReference(), startReference()]);
  });
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop(), ref2?.stop(), ref3?.stop()]);
  });

  it('Debian ctr prints the same output, errors and exit codes against both daemons', async () => {
    const steps = session(helloDigest);
    const outputs: Array<{ step: string; ref: string; ts: string }> = [];
    for (const step of steps) {
      const [a, b] = await Promise.all([runStep('ctr', ref.socket, step), runStep('ctr', ts.socket, step)]);
      outputs.push({ step: step.args.join(' '), ref: normalize(a, 'ctr'), ts: normalize(b, 'ctr') });
    }
    for (const o of outputs) expect(o.ts, o.step).toBe(o.ref);

    // What containerd printed, so that two equally wrong answers cannot pass.
    const out = (args: string) => outputs.filter((o) => o.step === args).map((o) => o.ref);
    const table = (widths: number[], rows: string[][]) =>
      rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('')).join('\n');
    expect(out('namespaces ls')[1]).toBe(
      `${table([7, 22], [['NAME', 'LABELS'], ['Team_B', 'x=1'], ['team-a', 'owner=alice,tier=true']])}\n\n--stderr--\n\n--exit 0`,
    );
    expect(out('namespaces create team-a')[0]).toBe('\n--stderr--\nctr: namespace "team-a": already exists\n\n--exit 1');
    expect(out('namespaces rm team-a')[0]).toMatch(
      /^\n--stderr--\ntime="<time>" level=error msg="unable to delete team-a" error="namespace \\"team-a\\" must be empty, but it still has blobs: failed precondition"\nctr: unable to delete team-a: namespace "team-a" must be empty, but it still has blobs: failed precondition\n\n--exit 1$/,
    );
    expect(out('namespaces rm nope Team_B team-a')[0]).toMatch(/^nope\nTeam_B\n\n--stderr--\ntime=.*\nctr: unable to delete team-a: .*\n\n--exit 1$/);
    // Columns are aligned on the real times (20 characters) before they are normalized.
    const t = '2000-01-01T00:00:00Z';
    const leaseTable = table(
      [8, 21, 53],
      [
        ['ID', 'CREATED AT', 'LABELS'],
        ['forever', t, '-'],
        ['pull-1', t, `app=web,containerd.io/gc.expire=${t}`],
        ['short', t, `containerd.io/gc.expire=${t},k=v`],
      ],
    );
    expect(out('leases ls')[1]).toBe(normalize({ code: 0, stdout: `${leaseTable}\n`, stderr: '' }, 'ctr'));
    // helloDigest is what `ctr content ingest` stored: removing it succeeded.
    expect(out(`-n team-a content rm ${helloDigest}`)[0]).toBe(`${helloDigest}\n\n--stderr--\n\n--exit 0`);
    expect(out('leases ls id==')[0]).toContain('ctr: failed to list leases: filters: parse error: [id==]: expected value or quoted: invalid argument: invalid argument');
    expect(out('leases rm short forever --sync')[0]).toBe('short\nforever\n\n--stderr--\n\n--exit 0');
  });

  it('ctr-ts prints what ctr prints, against containerd', async () => {
    for (const step of session(helloDigest)) {
      const [a, b] = await Promise.all([runStep('ctr', ref3.socket, step), runStep('ctr-ts', ref2.socket, step)]);
      expect(normalize(b, 'ctr-ts'), step.args.join(' ')).toBe(normalize(a, 'ctr'));
    }
    // 38 steps, each a start of ctr-ts (node): over a minute on a loaded 2-core machine
  }, 240_000);

  it('a random lease ID has containerd\'s form, and --expires sets gc.expire from now', async () => {
    for (const socket of [ref.socket, ts.socket]) {
      const created = await ctr(socket, '-n', 'rand', 'leases', 'create');
      expect(created.code).toBe(0);
      expect(created.stdout).toMatch(/^\d{1,9}-[A-Za-z0-9_-]{4}\n$/);
      const before = Date.now();
      await ctr(socket, '-n', 'rand', 'leases', 'create', '--id', 'x', '-x', '2h');
      const ls = await ctr(socket, '-n', 'rand', 'leases', 'ls', 'id==x');
      const expire = /containerd\.io\/gc\.expire=(\S+?)\s/.exec(ls.stdout)?.[1];
      const at = Date.parse(expire ?? '');
      expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 2 * 3600_000 - 1000);
      expect(at).toBeLessThanOrEqual(Date.now() + 2 * 3600_000);
    }
  });

  it('a namespace that holds only leases: containerd 1.6 deletes it, containerd-ts refuses (documented)', async () => {
    for (const socket of [ref.socket, ts.socket]) expect((await ctr(socket, '-n', 'lease-only', 'leases', 'create', '--id', 'l')).code).toBe(0);
    const a = await ctr(ref.socket, 'namespaces', 'rm', 'lease-only');
    expect(a).toMatchObject({ code: 0, stdout: 'lease-only\n' });
    const b = await ctr(ts.socket, 'namespaces', 'rm', 'lease-only');
    expect(b.code).toBe(1);
    expect(b.stderr).toContain('ctr: unable to delete lease-only: namespace "lease-only" must be empty, but it still has leases: failed precondition\n');
    await ctr(ts.socket, '-n', 'lease-only', 'leases', 'rm', 'l');
    expect(await ctr(ts.socket, 'namespaces', 'rm', 'lease-only')).toMatchObject({ code: 0, stdout: 'lease-only\n' });
  });
});

describe('ctr events: the same topics for the same actions', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  beforeAll(async () => {
    [ts, ref] = await Promise.all([startDaemon(), startReference()]);
  });
  afterAll(async () => {
    await Promise.all([ts?.cleanup(), ref?.stop()]);
  });

  const filtered = ['topic=="/namespaces/delete"', 'event.name==ev-a,topic~="update$"', 'event.name==sync-marker'];

  /** Starts followers, waits until each sees a marker event, runs the actions, waits for an end marker. */
  async function record(socket: string, followers: EventFollower[], actions: Step[]): Promise<void> {
    let seen = false;
    for (let i = 0; i < 100 && !seen; i++) {
      await ctr(socket, 'namespaces', 'label', 'sync-marker', `start=${i}`);
      seen = (await Promise.all(followers.map((f) => f.waitFor(`"start":"${i}"`, 200)))).every(Boolean);
    }
    expect(seen).toBe(true);
    for (const step of actions) await runStep('ctr', socket, step);
    await ctr(socket, 'namespaces', 'label', 'sync-marker', 'end=1');
    for (const f of followers) expect(await f.waitFor('"end":"1"')).toBe(true);
    for (const f of followers) f.stop();
  }

  it('namespace, content and lease actions publish what containerd publishes', async () => {
    const actions: Step[] = [
      { args: ['namespaces', 'create', 'ev-a', 'x=1', 'y=2'] },
      { args: ['namespaces', 'label', 'ev-a', 'x='] },
      { args: ['namespaces', 'label', 'ev-a', 'z=3'] },
      { args: ['namespaces', 'create', 'ev-a'] },
      { args: ['-n', 'ev-a', 'content', 'ingest', 'r1'], input: hello },
      { args: ['namespaces', 'rm', 'ev-a'] },
      { args: ['-n', 'ev-a', 'content', 'rm', helloDigest] },
      { args: ['-n', 'ev-a', 'leases', 'create', '--id', 'l1', 'k=v'] },
      { args: ['-n', 'ev-a', 'leases', 'rm', 'l1', '--sync'] },
      { args: ['namespaces', 'rm', 'ev-a'] },
      { args: ['namespaces', 'rm', 'ev-a'] },
      { args: ['-n', 'ev-b', 'namespaces', 'create', 'ev-c'] },
    ];
    const sessions = await Promise.all(
      [ref.socket, ts.socket].map(async (socket) => {
        const all = new EventFollower('ctr', socket, []);
        const some = new EventFollower('ctr', socket, filtered);
        const viaCtrTs = new EventFollower(ctrTs, socket, []);
        await record(socket, [all, some, viaCtrTs], actions);
        return { all: all.events(), some: some.events(), viaCtrTs: viaCtrTs.events() };
      }),
    );
    const [a, b] = sessions as [(typeof sessions)[0], (typeof sessions)[0]];
    expect(b.all).toEqual(a.all);
    expect(b.some).toEqual(a.some);
    // What containerd published.
    expect(a.all).toEqual([
      'default /namespaces/create {"name":"ev-a","labels":{"x":"1","y":"2"}}',
      'default /namespaces/update {"name":"ev-a","labels":{"x":""}}',
      'default /namespaces/update {"name":"ev-a","labels":{"z":"3"}}',
      `ev-a /content/delete {"digest":"${helloDigest}"}`,
      'ev-a /namespaces/delete {"name":"ev-a"}',
      'ev-b /namespaces/create {"name":"ev-c"}',
    ]);
    expect(a.some).toEqual([
      'default /namespaces/update {"name":"ev-a","labels":{"x":""}}',
      'default /namespaces/update {"name":"ev-a","labels":{"z":"3"}}',
      'ev-a /namespaces/delete {"name":"ev-a"}',
    ]);
    // ctr-ts events prints ctr's lines (the timestamps only have milliseconds).
    expect(a.viaCtrTs).toEqual(a.all);
    expect(b.viaCtrTs).toEqual(a.all);
  });

  it('a malformed filter fails as containerd fails it', async () => {
    const [a, b] = await Promise.all([ref.socket, ts.socket].map((s) => run('ctr', ['-a', s, 'events', 'topic=='], { timeoutMs: 5000 })));
    expect(a?.code).toBe(1);
    expect(b).toEqual(a);
    expect(a?.stderr).toBe(
      'ctr: rpc error: code = Unknown desc = subscription error: failed parsing subscription filters: filters: parse error: [topic==]: expected value or quoted: invalid argument\n',
    );
  });
});
