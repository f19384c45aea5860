// Issue 10: the runtime v1 `io.containerd.runtime.v1.linux` with Debian's `containerd-shim`.
// The same `ctr run --runtime io.containerd.runtime.v1.linux` session (Debian's ctr) against
// containerd-ts and Debian's containerd, each in a namespace of its own: outputs and the
// `ctr events` topics must match — /tasks/exit reaches containerd-ts only through
// `containerd-ts publish`, which the v1 shim executes — and containerd-ts must leave nothing
// behind (shims, bundles, work dirs, runc state, mounts, sockets).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { rmdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, comparable, leftovers, pullInto, removeContainers, restartDaemon, serveBusybox, shimSocket, shimsOf } from './containers-run.js';
import { EventFollower } from './event-follower.js';
import { type RunResult, type Service, type StartedDaemon, containerdTs, ctr, referenceConfig, requireTools, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const V1 = 'io.containerd.runtime.v1.linux';
const suffix = `${process.pid}`;
const nsTs = `v1-ts-${suffix}`;
const nsRef = `v1-ref-${suffix}`;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** The `container_*` exposition lines of one container, without their values, the namespace neutral. */
async function containerLines(address: string, ns: string, id: string): Promise<string[]> {
  const text = await (await fetch(`http://${address}/v1/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('container_') && l.includes(`container_id="${id}"`) && l.includes(`namespace="${ns}"`))
    .map((l) => l.replace(ns, 'NS').replace(/ \S+$/, ''))
    .sort();
}

const list = (dir: string): string[] => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

describe('runtime v1 (containerd-shim): the same ctr session on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let image: ImageSource;
  /** `[metrics] address` of each daemon. */
  let tsMetrics = '';
  let refMetrics = '';
  /** containerd-ts started again on the same directories (the restart test). */
  let restarted: Service | undefined;
  const used: string[] = [];

  const ctrOn = (which: 'ts' | 'ref', args: string[]): Promise<RunResult> =>
    run('ctr', ['-a', which === 'ts' ? ts.socket : ref.socket, '-n', which === 'ts' ? nsTs : nsRef, ...args], { input: '', timeoutMs: 60_000 });

  const both = async (args: string[]) => {
    const a = await ctrOn('ts', args);
    const b = await ctrOn('ref', args);
    return { ts: comparable(a, nsTs), ref: comparable(b, nsRef), raw: { ts: a, ref: b } };
  };

  /** What runtime v1 tasks of containerd-ts left behind, besides what every runtime checks. */
  const v1Leftovers = async (ids: readonly string[]): Promise<string[]> => {
    const out = await leftovers(ts, nsTs, ids);
    for (const e of list(join(ts.state, V1, nsTs))) out.push(`v1 bundle ${e}`);
    for (const e of list(join(ts.root, V1, nsTs))) out.push(`v1 work dir ${e}`);
    // The v1 shim keeps runc's state in its default root, the same for every daemon.
    for (const id of ids) if (existsSync(join('/run/containerd/runc', nsTs, id))) out.push(`runc state ${id}`);
    for (const id of ids) if (existsSync(shimSocket(ts.socket, nsTs, id))) out.push(`v1 shim socket of ${id}`);
    return out;
  };

  /** The topics of the events about container `id` (a late exit of an earlier test's task is left out). */
  const topics = (f: EventFollower, id: string) =>
    f
      .events()
      .filter((l) => l.includes(`"${id}"`))
      .map((l) => l.split(' ')[1] ?? '')
      .filter((t) => t !== '');

  const followBoth = () => ({
    ts: new EventFollower('ctr', ts.socket, [`namespace==${nsTs}`]),
    ref: new EventFollower('ctr', ref.socket, [`namespace==${nsRef}`]),
  });

  beforeAll(async () => {
    requireTools('runtime v1 tests', 'containerd-shim', 'runc', 'ctr');
    image = await serveBusybox();
    tsMetrics = `127.0.0.1:${await freePort()}`;
    refMetrics = `127.0.0.1:${await freePort()}`;
    ts = await startDaemon({ config: `version = 2\n[metrics]\n  address = "${tsMetrics}"\n` });
    ref = await startReference({ config: referenceConfig('[metrics]', `  address = "${refMetrics}"`) });
    await pullInto(ts.socket, nsTs, image.ref);
    await pullInto(ref.socket, nsRef, image.ref);
  }, 180_000);

  afterAll(async () => {
    if (ts) await removeContainers(ts.socket, nsTs, used);
    if (ref) await removeContainers(ref.socket, nsRef, used);
    await restarted?.stop();
    // runc leaves the namespace's (empty) state directory in the shared root, for both daemons.
    for (const ns of [nsTs, nsRef]) await rmdir(join('/run/containerd/runc', ns)).catch(() => {});
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
  }, 120_000);

  it('ctr plugins ls: io.containerd.runtime.v1 linux as on containerd', async () => {
    const line = (r: RunResult) => r.stdout.split('\n').find((l) => /^io\.containerd\.runtime\.v1\s/.test(l))?.replace(/\s+/g, ' ').trim();
    const a = await ctr(ts.socket, 'plugins', 'ls');
    const b = await ctr(ref.socket, 'plugins', 'ls');
    expect(line(a)).toBe('io.containerd.runtime.v1 linux linux/amd64 ok');
    expect(line(a)).toBe(line(b));
  });

  it('ctr run --runtime v1 --rm echo hi: prints hi, the same events as containerd, nothing left', async () => {
    used.push('v1echo');
    const followers = followBoth();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await both(['run', '--runtime', V1, '--rm', image.ref, 'v1echo', 'echo', 'hi']);
      expect(r.raw.ts.stdout).toBe('hi\n');
      expect(r.raw.ts.code).toBe(0);
      expect(r.ts).toBe(r.ref);
      for (const f of Object.values(followers)) expect(await f.waitFor('/containers/delete {"id":"v1echo"}')).toBe(true);
      // The shim's exit event arrives through `containerd-ts publish`; give it time to land.
      // The shim's exit event arrives through `containerd-ts publish` (containerd: `containerd
      // publish`), a process the shim starts when the task exits, while ctr goes on to delete
      // the task and the container: on both daemons it lands somewhere after /tasks/start.
      for (const f of Object.values(followers)) expect(await f.waitFor('/tasks/exit')).toBe(true);
      const withoutExit = (t: string[]) => t.filter((x) => x !== '/tasks/exit');
      const exitAfterStart = (t: string[]) => t.filter((x) => x === '/tasks/exit').length === 1 && t.indexOf('/tasks/exit') > t.indexOf('/tasks/start');
      expect(withoutExit(topics(followers.ts, 'v1echo'))).toEqual([
        '/snapshot/prepare',
        '/containers/create',
        '/tasks/create',
        '/tasks/start',
        '/tasks/delete',
        '/snapshot/remove',
        '/containers/delete',
      ]);
      expect(withoutExit(topics(followers.ts, 'v1echo'))).toEqual(withoutExit(topics(followers.ref, 'v1echo')));
      expect(exitAfterStart(topics(followers.ts, 'v1echo'))).toBe(true);
      expect(exitAfterStart(topics(followers.ref, 'v1echo'))).toBe(true);
      // The exit the shim published: the container's init, status 0.
      const exit = followers.ts.events().find((l) => l.includes('/tasks/exit'));
      expect(exit).toMatch(/"container_id":"v1echo","id":"v1echo","pid":\d+,"exited_at":/);
    } finally {
      followers.ts.stop();
      followers.ref.stop();
    }
    expect(await v1Leftovers(['v1echo'])).toEqual([]);
  }, 120_000);

  it('ctr run --runtime v1: exit codes, env and cwd as on containerd', async () => {
    const cases: string[][] = [
      ['run', '--rm', '--runtime', V1, image.ref, 'v1exit3', 'sh', '-c', 'exit 3'],
      ['run', '--rm', '--runtime', V1, '--env', 'FOO=bar', '--cwd', '/tmp', image.ref, 'v1env', 'sh', '-c', 'echo $FOO; pwd'],
    ];
    for (const args of cases) {
      used.push(args[args.indexOf(image.ref) + 1]!);
      const r = await both(args);
      expect(r.ts, args.join(' ')).toBe(r.ref);
    }
    expect((await ctrOn('ts', cases[0]!.map((a) => (a === 'v1exit3' ? 'v1exit3b' : a)))).code).toBe(3);
    used.push('v1exit3b');
    expect(await v1Leftovers(['v1exit3', 'v1exit3b', 'v1env'])).toEqual([]);
  }, 120_000);

  it('a v1 task killed by its memory limit: 137 and one /tasks/oom from the monitor, as on containerd', async () => {
    used.push('v1oom');
    const followers = followBoth();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const args = ['run', '--rm', '--runtime', V1, '--memory-limit', String(16 << 20), image.ref, 'v1oom', 'dd', 'if=/dev/zero', 'of=/dev/null', `bs=${64 << 20}`, 'count=1'];
      const [a, b] = [await ctrOn('ts', args), await ctrOn('ref', args)];
      expect(b.code).toBe(137);
      expect(a.code).toBe(137);
      for (const f of Object.values(followers)) expect(await f.waitFor('/tasks/delete')).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      const ooms = (f: EventFollower) => topics(f, 'v1oom').filter((t) => t === '/tasks/oom').length;
      expect(ooms(followers.ref)).toBe(1);
      expect(ooms(followers.ts)).toBe(1);
      // the OOM before the exit, as containerd's monitor publishes it when the kernel tells
      const order = (f: EventFollower) => topics(f, 'v1oom').filter((t) => t === '/tasks/oom' || t === '/tasks/exit');
      expect(order(followers.ts)).toEqual(['/tasks/oom', '/tasks/exit']);
      expect(order(followers.ref)).toEqual(['/tasks/oom', '/tasks/exit']);
    } finally {
      for (const f of Object.values(followers)) f.stop();
    }
    expect(await v1Leftovers(['v1oom'])).toEqual([]);
  }, 120_000);

  it('a failed v1 create (missing binary) fails as on containerd and leaks nothing', async () => {
    used.push('v1missing');
    const r = await both(['run', '--rm', '--runtime', V1, image.ref, 'v1missing', '/bin/nonexistent']);
    expect(r.raw.ts.code).not.toBe(0);
    expect(r.raw.ts.stderr).toContain('/bin/nonexistent');
    expect(r.ts).toBe(r.ref);
    // ctr leaves the container record behind after a failed task create, on both daemons.
    await both(['containers', 'rm', 'v1missing']);
    expect(await v1Leftovers(['v1missing'])).toEqual([]);
  }, 60_000);

  it('ctr run --runtime v1 -t runs the process on a pty, as on containerd', async () => {
    used.push('v1tty');
    const viaScript = (which: 'ts' | 'ref') =>
      run('script', [
        '-qec',
        `ctr -a ${which === 'ts' ? ts.socket : ref.socket} -n ${which === 'ts' ? nsTs : nsRef} run --rm -t --runtime ${V1} ${image.ref} v1tty sh -c 'tty; stty size'`,
        '/dev/null',
      ]);
    const a = await viaScript('ts');
    const b = await viaScript('ref');
    expect(a.stdout).toContain('/dev/pts/0');
    expect(a.stdout).toBe(b.stdout);
    expect(a.code).toBe(b.code);
    expect(await v1Leftovers(['v1tty'])).toEqual([]);
  }, 60_000);

  it('ctr tasks kill of a running v1 task: its exit event (137), the same session as on containerd', async () => {
    used.push('v1kill');
    const followers = followBoth();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const started = await both(['run', '-d', '--runtime', V1, image.ref, 'v1kill', 'sleep', '1000']);
      expect(started.raw.ts.code).toBe(0);
      expect(started.ts).toBe(started.ref);
      const tsShims = shimsOf(ts.socket);
      expect(tsShims.length).toBe(1);
      // containerd's command line, the daemon's own executable as the publish binary
      const cmdline = readFileSync(`/proc/${tsShims[0]}/cmdline`, 'utf8').split('\0').slice(1, -1);
      expect(cmdline).toEqual([
        '-namespace',
        nsTs,
        '-workdir',
        join(ts.root, V1, nsTs, 'v1kill'),
        '-address',
        ts.socket,
        '-containerd-binary',
        containerdTs,
        '-socket',
        `unix://${shimSocket(ts.socket, nsTs, 'v1kill')}`,
      ]);
      const listed = await both(['tasks', 'ls']);
      expect(listed.raw.ts.stdout).toMatch(/v1kill\s+\d+\s+RUNNING/);
      const exec = await both(['tasks', 'exec', '--exec-id', 'x1', 'v1kill', 'sh', '-c', 'echo in; exit 4']);
      expect(exec.raw.ts.stdout).toBe('in\n');
      expect(exec.raw.ts.code).toBe(4);
      expect(exec.ts).toBe(exec.ref);
      // the exec's exit, published by the shim, before the session goes on (same order on both)
      for (const f of Object.values(followers)) expect(await f.waitFor('"exec_id":"x1"')).toBe(true);
      for (const f of Object.values(followers)) expect(await f.waitFor('"id":"x1"')).toBe(true);
      for (const args of [['tasks', 'pause', 'v1kill'], ['tasks', 'resume', 'v1kill']]) {
        const r = await both(args);
        expect(r.raw.ts.code, r.raw.ts.stderr).toBe(0);
        expect(r.ts).toBe(r.ref);
      }
      const ps = await both(['tasks', 'ps', 'v1kill']);
      // the shim's ProcessDetails (runctypes) in INFO, as ctr prints it for containerd
      expect(ps.raw.ts.stdout).toMatch(/^PID\s+INFO\n\d+\s+&ProcessDetails\{ExecID:v1kill,XXX_unrecognized:\[\],\}\n$/);
      const pids = (t: string) => t.replace(/\b\d{2,7}\b/g, '<pid>').replace(/ {2,}/g, '  '); // and their widths, in the padding
      expect(pids(ps.ts)).toBe(pids(ps.ref));
      // metrics from the task's cgroup: values differ from run to run, the metrics shown must not
      const metrics = await both(['tasks', 'metrics', 'v1kill']);
      const names = (t: string) =>
        t
          .split('\n')
          .map((l) => l.split(/\s+/)[0])
          .join('\n');
      expect(metrics.raw.ts.code, metrics.raw.ts.stderr).toBe(0);
      expect(metrics.raw.ts.stdout).toMatch(/memory\.usage_in_bytes\s+\d+/);
      expect(names(metrics.ts)).toBe(names(metrics.ref));
      // its samples at [metrics] address: the same families and labels as containerd's
      // (containerd-ts has no oom counter for v1 tasks yet)
      const tsLines = (await containerLines(tsMetrics, nsTs, 'v1kill')).filter((l) => !l.startsWith('container_memory_oom_total{'));
      const refLines = (await containerLines(refMetrics, nsRef, 'v1kill')).filter((l) => !l.startsWith('container_memory_oom_total{'));
      expect(tsLines.length).toBeGreaterThanOrEqual(50);
      expect(tsLines.some((l) => l.includes('runtime="io.containerd.runtime.v1.linux"'))).toBe(true);
      expect(tsLines).toEqual(refLines);
      const killed = await both(['tasks', 'kill', '-s', 'KILL', 'v1kill']);
      expect(killed.raw.ts.code).toBe(0);
      for (const f of Object.values(followers)) expect(await f.waitFor('"id":"v1kill","pid"')).toBe(true);
      const exit = followers.ts.events().find((l) => l.includes('/tasks/exit') && l.includes('"id":"v1kill","pid"'));
      expect(exit).toContain('"container_id":"v1kill"');
      expect(exit).toContain('"exit_status":137');
      const stopped = await both(['tasks', 'ls']);
      expect(stopped.raw.ts.stdout).toMatch(/v1kill\s+\d+\s+STOPPED/);
      const deleted = await both(['tasks', 'delete', 'v1kill']);
      expect(deleted.ts).toBe(deleted.ref);
      await both(['containers', 'rm', 'v1kill']);
      for (const f of Object.values(followers)) expect(await f.waitFor('/containers/delete {"id":"v1kill"}')).toBe(true);
      expect(topics(followers.ts, 'v1kill')).toEqual(topics(followers.ref, 'v1kill'));
    } finally {
      followers.ts.stop();
      followers.ref.stop();
    }
    expect(await v1Leftovers(['v1kill'])).toEqual([]);
  }, 120_000);

  it('a v1 shim killed under its running task: cleaned up after, /tasks/exit and /tasks/delete (137) as on containerd', async () => {
    used.push('v1dead');
    const followers = followBoth();
    try {
      await new Promise((r) => setTimeout(r, 300));
      const started = await both(['run', '-d', '--runtime', V1, image.ref, 'v1dead', 'sleep', '1000']);
      expect(started.raw.ts.code, started.raw.ts.stderr).toBe(0);
      for (const socket of [ts.socket, ref.socket]) {
        const shims = shimsOf(socket);
        expect(shims.length).toBe(1);
        process.kill(shims[0]!, 'SIGKILL');
      }
      for (const f of Object.values(followers)) expect(await f.waitFor('/tasks/delete', 20_000)).toBe(true);
      const exit = followers.ts.events().find((l) => l.includes('/tasks/exit'));
      expect(exit).toContain('"container_id":"v1dead"');
      expect(exit).toContain('"exit_status":137');
      expect(topics(followers.ts, 'v1dead')).toEqual(topics(followers.ref, 'v1dead'));
      const listed = await both(['tasks', 'ls']);
      expect(listed.raw.ts.stdout).not.toContain('v1dead');
      expect(listed.ts).toBe(listed.ref);
      await both(['containers', 'rm', 'v1dead']);
    } finally {
      followers.ts.stop();
      followers.ref.stop();
    }
    expect(await v1Leftovers(['v1dead'])).toEqual([]);
  }, 120_000);

  it('a running v1 task survives a daemon restart: reconnected, killed, its exit published, deleted, nothing left', async () => {
    used.push('v1keep');
    const r = await ctrOn('ts', ['run', '-d', '--runtime', V1, image.ref, 'v1keep', 'sleep', '1000']);
    expect(r.code, r.stderr).toBe(0);
    const shims = shimsOf(ts.socket);
    expect(shims.length).toBe(1);
    await ts.stop();
    restarted = await restartDaemon(ts);
    expect(shimsOf(ts.socket)).toEqual(shims);
    expect((await ctrOn('ts', ['tasks', 'ls'])).stdout).toMatch(/v1keep\s+\d+\s+RUNNING/);
    const follower = new EventFollower('ctr', ts.socket, [`namespace==${nsTs}`]);
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect((await ctrOn('ts', ['tasks', 'kill', '-s', 'KILL', 'v1keep'])).code).toBe(0);
      // The shim publishes the exit to the new daemon through `containerd-ts publish`.
      expect(await follower.waitFor('/tasks/exit')).toBe(true);
      expect(follower.events().find((l) => l.includes('/tasks/exit'))).toContain('"exit_status":137');
      expect((await ctrOn('ts', ['tasks', 'delete', 'v1keep'])).code).toBe(0);
      expect((await ctrOn('ts', ['containers', 'rm', 'v1keep'])).code).toBe(0);
      expect(await follower.waitFor('/tasks/delete')).toBe(true);
    } finally {
      follower.stop();
    }
    expect(await v1Leftovers(['v1keep'])).toEqual([]);
  }, 120_000);
});

describe('runtime v1 with no_shim = true', () => {
  it('is refused with the reason; the tasks service fails as containerd does without a v1 runtime', async () => {
    const d = await startDaemon({ config: 'version = 2\n[plugins."io.containerd.runtime.v1.linux"]\n  no_shim = true\n' });
    try {
      const ls = await ctr(d.socket, 'plugins', 'ls');
      const row = (prefix: string) =>
        ls.stdout
          .split('\n')
          .map((l) => l.replace(/\s+/g, ' ').trim())
          .find((l) => l.startsWith(prefix));
      expect(row('io.containerd.runtime.v1 ')).toBe('io.containerd.runtime.v1 linux linux/amd64 error');
      expect(row('io.containerd.service.v1 tasks-service')).toBe('io.containerd.service.v1 tasks-service - error');
      const v1 = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==linux');
      expect(v1.stdout).toContain('no_shim = true is not supported');
      const tasks = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==tasks-service');
      expect(tasks.stdout).toContain('no runtimes available to create task service');
    } finally {
      await d.cleanup();
    }
  }, 60_000);
});

describe('runtime v1 without its shim', () => {
  it('reports skip with the reason in ctr plugins ls', async () => {
    const d = await startDaemon({ config: 'version = 2\n[plugins."io.containerd.runtime.v1.linux"]\n  shim = "/nonexistent/containerd-shim"\n' });
    try {
      const ls = await ctr(d.socket, 'plugins', 'ls');
      expect(ls.stdout.split('\n').find((l) => l.startsWith('io.containerd.runtime.v1 '))?.replace(/\s+/g, ' ').trim()).toBe('io.containerd.runtime.v1 linux linux/amd64 skip');
      const r = await ctr(d.socket, 'plugins', 'ls', '-d', 'id==linux');
      expect(r.stdout).toMatch(/Type:\s+io\.containerd\.runtime\.v1/);
      expect(r.stdout).toContain('runtime v1 shim "/nonexistent/containerd-shim" not found');
      expect(r.stdout).toContain('skip plugin');
      // The other runtime and the tasks service are there as before.
      expect(ls.stdout).toMatch(/io\.containerd\.runtime\.v2\s+task\s+linux\/amd64\s+ok/);
      expect(ls.stdout).toMatch(/io\.containerd\.service\.v1\s+tasks-service\s+-\s+ok/);
    } finally {
      await d.cleanup();
    }
  }, 60_000);
});
