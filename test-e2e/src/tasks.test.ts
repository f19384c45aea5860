// Issue 9: containers run. The same `ctr` session (Debian's ctr) against containerd-ts and
// Debian's containerd, each in a namespace of its own (ctr writes the cgroup path
// /<namespace>/<id> into the spec): `ctr run` with its options, `ctr tasks` commands, a pty,
// `ctr events` — outputs, errors and exit codes must match, and containerd-ts must leave
// nothing behind (bundles, runc state, shims, mounts, cgroups, leases).
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Connection } from '@containerd-ts/client';
import type { ContainerdError } from '@containerd-ts/errdefs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, comparable, leftovers, pullInto, removeContainers, serveBusybox, shimsOf } from './containers-run.js';
import { EventFollower } from './event-follower.js';
import { type RunResult, type StartedDaemon, referenceConfig, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const suffix = `${process.pid}`;
const nsTs = `tasks-ts-${suffix}`;
const nsRef = `tasks-ref-${suffix}`;

describe('containers run: the same ctr session on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let image: ImageSource;
  let hostDir: string;
  const used: string[] = [];

  // ctr's stdin is always given (and closed): a container reading stdin would wait forever on an open pipe.
  const ctrOn = (which: 'ts' | 'ref', args: string[], input = ''): Promise<RunResult> =>
    run('ctr', ['-a', which === 'ts' ? ts.socket : ref.socket, '-n', which === 'ts' ? nsTs : nsRef, ...args], { input, timeoutMs: 60_000 });

  /** Runs `args` on both daemons (containerd-ts first) and returns both results, comparable. */
  const both = async (args: string[], normalize: (s: string) => string = (s) => s, input = '') => {
    const a = await ctrOn('ts', args, input);
    const b = await ctrOn('ref', args, input);
    return { ts: normalize(comparable(a, nsTs)), ref: normalize(comparable(b, nsRef)), raw: { ts: a, ref: b } };
  };

  // PIDs differ, and so may their widths (4 digits on one daemon, 5 on the other: pids wrap
  // at 32768 here), which changes how wide ctr pads the table's columns.
  const pids = (s: string) => s.replace(/\b\d{2,7}\b/g, '<pid>').replace(/ {2,}/g, '  ');

  beforeAll(async () => {
    image = await serveBusybox();
    ts = await startDaemon();
    ref = await startReference({ config: referenceConfig() });
    await pullInto(ts.socket, nsTs, image.ref);
    await pullInto(ref.socket, nsRef, image.ref);
    hostDir = await mkdtemp(join(tmpdir(), 'tasks-bind-'));
    await writeFile(join(hostDir, 'hello'), 'hello from the host\n');
  }, 180_000);

  afterAll(async () => {
    // Whatever a failed test left running goes.
    if (ts) await removeContainers(ts.socket, nsTs, used);
    if (ref) await removeContainers(ref.socket, nsRef, used);
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
  }, 120_000);

  it('ctr run --rm: output, exit codes, env, cwd, bind mounts, read-only, host network', async () => {
    const cases: string[][] = [
      ['run', '--rm', image.ref, 'echo1', 'echo', 'hi'],
      ['run', '--rm', image.ref, 'exit3', 'sh', '-c', 'exit 3'],
      ['run', '--rm', image.ref, 'false1', 'false'],
      ['run', '--rm', '--env', 'FOO=bar', '--cwd', '/tmp', image.ref, 'envcwd', 'sh', '-c', 'echo $FOO; pwd; env | grep -c FOO'],
      ['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/mnt,options=rbind:ro`, image.ref, 'bind1', 'cat', '/mnt/hello'],
      ['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/mnt,options=rbind:ro`, image.ref, 'bind2', 'touch', '/mnt/x'],
      ['run', '--rm', '--read-only', image.ref, 'ro1', 'touch', '/x'],
      ['run', '--rm', image.ref, 'rw1', 'sh', '-c', 'touch /x && echo written'],
      ['run', '--rm', '--net-host', image.ref, 'nethost', 'hostname'],
      ['run', '--rm', image.ref, 'nonet', 'sh', '-c', 'ls /sys/class/net'],
    ];
    for (const args of cases) {
      used.push(args[args.indexOf(image.ref) + 1]!);
      const r = await both(args);
      expect(r.ts, args.join(' ')).toBe(r.ref);
    }
    const first = await ctrOn('ts', ['run', '--rm', image.ref, 'echo2', 'echo', 'hi']);
    expect(first).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
    const exit = await ctrOn('ts', ['run', '--rm', image.ref, 'exit7', 'sh', '-c', 'exit 7']);
    expect(exit.code).toBe(7);
    used.push('echo2', 'exit7');
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 180_000);

  it('a failed create (missing binary) fails as on containerd and leaks nothing', async () => {
    used.push('missing1');
    const r = await both(['run', '--rm', image.ref, 'missing1', '/bin/nonexistent']);
    expect(r.raw.ts.code).toBe(r.raw.ref.code);
    expect(r.raw.ts.code).not.toBe(0);
    expect(r.raw.ts.stderr).toContain('/bin/nonexistent');
    // ctr leaves the container record behind after a failed task create, on both daemons.
    const listed = await both(['containers', 'ls', '-q']);
    expect(listed.ts).toBe(listed.ref);
    await both(['containers', 'rm', 'missing1']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  });

  it('ctr run --memory-limit sets the container cgroup limit', async () => {
    used.push('mem1');
    await both(['run', '-d', '--memory-limit', '67108864', image.ref, 'mem1', 'sleep', '1000']);
    const limit = async (ns: string) => {
      for (const p of [`/sys/fs/cgroup/memory/${ns}/mem1/memory.limit_in_bytes`, `/sys/fs/cgroup/${ns}/mem1/memory.max`]) {
        const text = await readFile(p, 'utf8').catch(() => undefined);
        if (text !== undefined) return text.trim();
      }
      return 'no cgroup';
    };
    expect(await limit(nsTs)).toBe('67108864');
    expect(await limit(nsTs)).toBe(await limit(nsRef));
    await both(['tasks', 'kill', '-s', 'KILL', 'mem1']);
    await waitStopped('mem1');
    const deleted = await both(['tasks', 'delete', 'mem1'], pids);
    expect(deleted.ts).toBe(deleted.ref);
    await both(['containers', 'rm', 'mem1']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  /** Polls until the task is STOPPED on both daemons. */
  async function waitStopped(id: string): Promise<void> {
    for (const which of ['ts', 'ref'] as const) {
      for (let i = 0; i < 100; i++) {
        const r = await ctrOn(which, ['tasks', 'ls']);
        if (r.stdout.split('\n').some((l) => l.startsWith(`${id} `) && l.includes('STOPPED'))) break;
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  it('ctr run -d and ctr tasks ls/ps/exec/pause/resume/metrics/kill/start/delete', async () => {
    used.push('d1');
    const steps: { args: string[]; normalize?: (s: string) => string }[] = [
      { args: ['run', '-d', image.ref, 'd1', 'sleep', '1000'] },
      { args: ['tasks', 'ls'], normalize: pids },
      { args: ['tasks', 'ps', 'd1'], normalize: pids },
      { args: ['tasks', 'exec', '--exec-id', 'e1', 'd1', 'sh', '-c', 'echo in-exec; exit 4'] },
      { args: ['tasks', 'exec', '--exec-id', 'e2', '--cwd', '/tmp', '--env', 'X=1', 'd1', 'sh', '-c', 'pwd; echo $X'] },
      { args: ['tasks', 'exec', '--exec-id', 'e3', '--user', '65534', 'd1', 'id'] },
      { args: ['tasks', 'exec', '--exec-id', '', 'd1', 'true'] },
      { args: ['tasks', 'pause', 'd1'] },
      { args: ['tasks', 'ls'], normalize: pids },
      { args: ['tasks', 'pause', 'd1'] },
      { args: ['tasks', 'resume', 'd1'] },
      { args: ['tasks', 'ls'], normalize: pids },
      { args: ['tasks', 'resume', 'd1'] },
      // Metric values differ from run to run; the set of metrics shown must not.
      { args: ['tasks', 'metrics', 'd1'], normalize: (s) => s.split('\n').map((l) => l.split(/\s+/)[0]).join('\n') },
      { args: ['tasks', 'start', 'd1'] },
      { args: ['tasks', 'delete', 'd1'] },
      { args: ['tasks', 'kill', 'd1', 'nope'] },
      { args: ['tasks', 'kill', '-s', 'KILL', 'nope'] },
      { args: ['tasks', 'kill', '-s', 'KILL', '-a', 'd1'] },
    ];
    for (const step of steps) {
      const r = await both(step.args, step.normalize);
      expect(r.ts, step.args.join(' ')).toBe(r.ref);
    }
    await waitStopped('d1');
    const after: { args: string[]; normalize?: (s: string) => string }[] = [
      { args: ['tasks', 'ls'], normalize: pids },
      { args: ['tasks', 'kill', 'd1'] },
      { args: ['tasks', 'exec', '--exec-id', 'late', 'd1', 'true'] },
      { args: ['tasks', 'delete', 'd1'], normalize: pids },
      { args: ['tasks', 'delete', 'd1'] },
      { args: ['tasks', 'ls'] },
      { args: ['containers', 'rm', 'd1'] },
      { args: ['tasks', 'kill', 'd1'] },
    ];
    for (const step of after) {
      const r = await both(step.args, step.normalize);
      expect(r.ts, step.args.join(' ')).toBe(r.ref);
    }
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 180_000);

  /** A cgroup v1 file of a container, or its cgroup v2 counterpart; 'no cgroup' when neither exists. */
  const cgroupFile = async (ns: string, id: string, v1: string, v2: string) => {
    for (const p of [`/sys/fs/cgroup/${v1}`.replace('<c>', `${ns}/${id}`), `/sys/fs/cgroup/${ns}/${id}/${v2}`]) {
      const text = await readFile(p, 'utf8').catch(() => undefined);
      if (text !== undefined) return text.trim();
    }
    return 'no cgroup';
  };

  it('ctr run --cpus sets the CFS quota of the container cgroup', async () => {
    used.push('cpus1');
    const r = await both(['run', '-d', '--cpus', '0.5', image.ref, 'cpus1', 'sleep', '1000']);
    expect(r.ts).toBe(r.ref);
    // 0.5 CPU: a quota of 50 ms per 100 ms period (cgroup v1 files, or v2's cpu.max).
    const quota = (ns: string) => cgroupFile(ns, 'cpus1', 'cpu/<c>/cpu.cfs_quota_us', 'cpu.max');
    const period = (ns: string) => cgroupFile(ns, 'cpus1', 'cpu/<c>/cpu.cfs_period_us', 'cpu.max');
    expect(`${await quota(nsTs)} ${await period(nsTs)}`).toMatch(/^50000 (100000|50000 100000 100000)$/);
    expect(await quota(nsTs)).toBe(await quota(nsRef));
    expect(await period(nsTs)).toBe(await period(nsRef));
    await both(['tasks', 'kill', '-s', 'KILL', 'cpus1']);
    await waitStopped('cpus1');
    const deleted = await both(['tasks', 'delete', 'cpus1'], pids);
    expect(deleted.ts).toBe(deleted.ref);
    await both(['containers', 'rm', 'cpus1']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  it('ctr run --runtime io.containerd.runc.v1 runs through containerd-shim-runc-v1', async () => {
    used.push('v1a', 'v1b');
    const echo = await both(['run', '--rm', '--runtime', 'io.containerd.runc.v1', image.ref, 'v1a', 'sh', '-c', 'echo hi; exit 3']);
    expect(echo.ts).toBe(echo.ref);
    expect(echo.raw.ts).toMatchObject({ code: 3, stdout: 'hi\n' });
    const steps: { args: string[]; normalize?: (s: string) => string }[] = [
      { args: ['run', '-d', '--runtime', 'io.containerd.runc.v1', image.ref, 'v1b', 'sleep', '1000'] },
      { args: ['containers', 'info', 'v1b'], normalize: (s) => s.replace(/"(CreatedAt|UpdatedAt)": "[^"]*"/g, '"$1": "<time>"') },
      { args: ['tasks', 'ls'], normalize: pids },
      { args: ['tasks', 'exec', '--exec-id', 'v1e', 'v1b', 'sh', '-c', 'echo from-exec; exit 2'] },
      { args: ['tasks', 'kill', '-s', 'KILL', 'v1b'] },
    ];
    for (const step of steps) {
      const r = await both(step.args, step.normalize);
      expect(r.ts, step.args.join(' ')).toBe(r.ref);
    }
    // The shim that serves the task is the v1 one.
    const shims = shimsOf(ts.socket).map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]);
    expect(shims).toEqual(['/usr/bin/containerd-shim-runc-v1']);
    await waitStopped('v1b');
    const deleted = await both(['tasks', 'delete', 'v1b'], pids);
    expect(deleted.ts).toBe(deleted.ref);
    await both(['containers', 'rm', 'v1b']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  it('ctr tasks attach: the output of a running task, its exit code, and the task deleted', async () => {
    used.push('att1');
    // Let go by a signal (through the daemons' Kill): a file an exec'd process touches is not
    // seen by the task when the daemons themselves run in a chroot (runc exec there).
    const script = "trap 'echo attached; echo to-stderr >&2; exit 5' USR1; while true; do sleep 0.1; done";
    const started = await both(['run', '-d', image.ref, 'att1', 'sh', '-c', script]);
    expect(started.ts).toBe(started.ref);
    const attach = async (which: 'ts' | 'ref') => {
      const attached = ctrOn(which, ['tasks', 'attach', 'att1']);
      // attach opens the task's fifos; then the task is let go.
      await new Promise((r) => setTimeout(r, 1000));
      const go = await ctrOn(which, ['tasks', 'kill', '-s', 'SIGUSR1', 'att1']);
      expect(go.code).toBe(0);
      return comparable(await attached, which === 'ts' ? nsTs : nsRef);
    };
    const a = await attach('ts');
    const b = await attach('ref');
    expect(a).toContain('attached\n');
    expect(a).toContain('--exit 5');
    expect(a).toBe(b);
    // attach deletes the task once it has exited.
    const ls = await both(['tasks', 'ls']);
    expect(ls.raw.ts.stdout).not.toContain('att1');
    expect(ls.raw.ref.stdout).not.toContain('att1');
    await both(['containers', 'rm', 'att1']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  it('ctr tasks checkpoint fails with the shim\'s error (no criu here) as on containerd, and the task runs on', async () => {
    used.push('ck1');
    await both(['run', '-d', image.ref, 'ck1', 'sleep', '1000']);
    const r = await both(['tasks', 'checkpoint', 'ck1'], (s) => s.replace(/\/\S*\/(refcd|ctdts)-[^/]+\//g, '<daemon dir>/'));
    // The shim's error, its gRPC code (unknown) passed through as containerd does.
    expect(r.ts).toContain('CRIU version check failed');
    // The same through the API: the shim's gRPC code and message, unchanged.
    const viaApi = async (socket: string, namespace: string) => {
      const conn = new Connection(socket, { namespace });
      try {
        await conn.unary(TasksService.checkpoint, { containerId: 'ck1', parentCheckpoint: '', options: undefined });
        return 'no error';
      } catch (err) {
        const e = err as ContainerdError;
        return `${e.code} ${e.message.replace(/\/\S*\/(refcd|ctdts)-[^/]+\//g, '<daemon dir>/').replaceAll(namespace, '<ns>')}`;
      } finally {
        conn.close();
      }
    };
    const api = { ts: await viaApi(ts.socket, nsTs), ref: await viaApi(ref.socket, nsRef) };
    expect(api.ts).toMatch(/^2 runc did not terminate successfully: exit status 1: CRIU version check failed/);
    expect(api.ts).toBe(api.ref);
    expect(r.raw.ts.code).not.toBe(0);
    expect(r.ts).toBe(r.ref);
    const ls = await both(['tasks', 'ls'], pids);
    expect(ls.ts).toBe(ls.ref);
    expect(ls.ts).toContain('RUNNING');
    await both(['tasks', 'kill', '-s', 'KILL', 'ck1']);
    await waitStopped('ck1');
    await both(['tasks', 'delete', 'ck1']);
    await both(['containers', 'rm', 'ck1']);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  it('ctr run -t runs the process on a pty', async () => {
    used.push('tty1');
    const viaScript = (which: 'ts' | 'ref') =>
      run('script', ['-qec', `ctr -a ${which === 'ts' ? ts.socket : ref.socket} -n ${which === 'ts' ? nsTs : nsRef} run --rm -t ${image.ref} tty1 sh -c 'tty; stty size'`, '/dev/null']);
    const a = await viaScript('ts');
    const b = await viaScript('ref');
    expect(a.stdout).toContain('/dev/pts/0');
    expect(a.stdout).toBe(b.stdout);
    expect(a.code).toBe(b.code);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  });

  it('ctr events: the same /tasks topics in the same order', async () => {
    used.push('ev1', 'ev2');
    const followers = {
      ts: new EventFollower('ctr', ts.socket, [`namespace==${nsTs}`]),
      ref: new EventFollower('ctr', ref.socket, [`namespace==${nsRef}`]),
    };
    try {
      await new Promise((r) => setTimeout(r, 300));
      const session: string[][] = [
        ['run', '--rm', image.ref, 'ev1', 'true'],
        ['run', '-d', image.ref, 'ev2', 'sleep', '1000'],
        ['tasks', 'exec', '--exec-id', 'x1', 'ev2', 'true'],
        ['tasks', 'pause', 'ev2'],
        ['tasks', 'resume', 'ev2'],
        ['tasks', 'kill', '-s', 'KILL', 'ev2'],
      ];
      for (const args of session) await both(args);
      await waitStopped('ev2');
      await both(['tasks', 'delete', 'ev2']);
      await both(['containers', 'rm', 'ev2']);
      for (const f of Object.values(followers)) expect(await f.waitFor('/containers/delete {"id":"ev2"}')).toBe(true);
      const topics = (f: EventFollower) =>
        f
          .events()
          .map((l) => l.split(' ')[1] ?? '')
          .filter((t) => t.startsWith('/tasks/'));
      expect(topics(followers.ts).length).toBeGreaterThan(10);
      expect(topics(followers.ts)).toEqual(topics(followers.ref));
    } finally {
      followers.ts.stop();
      followers.ref.stop();
    }
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 180_000);
});
