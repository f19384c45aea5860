// Issue 10: the restart monitor and the opt directory. containerd-ts and Debian's
// containerd run the same containers labelled containerd.io/restart.status (each daemon in
// a namespace of its own, reconciling every second): a killed container comes back within
// the interval with its output in restart.logpath, one labelled `stopped` is stopped;
// containerd 1.7's restart.policy=on-failure:2 (containerd-ts only) stops after two
// restarts. `ctr install` puts an image's bin/ under the opt plugin's path; `ctr plugins
// ls` lists both plugins where containerd does.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, serveBusybox } from './containers-run.js';
import { type RunResult, type StartedDaemon, ctr, referenceConfig, run, startDaemon, startReference } from './harness.js';
import { fixtureImage } from './image-fixture.js';
import { pushImage } from './registry.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const suffix = `${process.pid}`;
const nsTs = `restart-ts-${suffix}`;
const nsRef = `restart-ref-${suffix}`;
const restartSection = ['[plugins."io.containerd.internal.v1.restart"]', '  interval = "1s"', '[plugins."io.containerd.internal.v1.opt"]', '  path = "{{dir}}/opt"'];

describe('restart monitor and opt, on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let image: ImageSource;
  let logs: string;
  const used: string[] = [];

  const ctrOn = (which: 'ts' | 'ref', args: string[]): Promise<RunResult> =>
    run('ctr', ['-a', which === 'ts' ? ts.socket : ref.socket, '-n', which === 'ts' ? nsTs : nsRef, ...args], { input: '', timeoutMs: 60_000 });

  /** `ctr tasks ls` of one container: [pid, status], or undefined when it has no task. */
  const taskOf = async (which: 'ts' | 'ref', id: string): Promise<[number, string] | undefined> => {
    const line = (await ctrOn(which, ['tasks', 'ls'])).stdout.split('\n').find((l) => l.startsWith(`${id} `));
    if (!line) return undefined;
    const [, pid, status] = line.trim().split(/\s+/);
    return [Number(pid), status ?? ''];
  };

  /** Polls until `check` holds; resolves with the milliseconds it took, or -1 after `ms`. */
  const until = async (check: () => Promise<boolean>, ms: number): Promise<number> => {
    const started = performance.now();
    while (performance.now() - started < ms) {
      if (await check()) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 100));
    }
    return -1;
  };

  beforeAll(async () => {
    image = await serveBusybox();
    logs = await mkdtemp(join(tmpdir(), 'restart-logs-'));
    [ts, ref] = await Promise.all([
      startDaemon({ config: ['version = 2', ...restartSection].join('\n') }),
      startReference({ config: referenceConfig(...restartSection) }),
    ]);
    await pullInto(ts.socket, nsTs, image.ref);
    await pullInto(ref.socket, nsRef, image.ref);
  }, 180_000);

  afterAll(async () => {
    if (ts) await removeContainers(ts.socket, nsTs, used, { unlabelRestart: true });
    if (ref) await removeContainers(ref.socket, nsRef, used, { unlabelRestart: true });
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
    if (logs) await rm(logs, { recursive: true, force: true });
  }, 120_000);

  it('ctr plugins ls lists restart and opt where containerd does', async () => {
    const [a, b] = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, 'plugins', 'ls')));
    // TYPE and ID columns, in order; containerd-ts has a gc gRPC service of its own
    const columns = (s: string) =>
      s
        .split('\n')
        .map((l) => l.split(/\s+/).slice(0, 2).join(' '))
        .filter((l) => l.trim() !== '' && l !== 'io.containerd.grpc.v1 gc');
    expect(columns(b?.stdout ?? '')).toEqual(columns(a?.stdout ?? ''));
    expect(b?.stdout).toMatch(/io\.containerd\.internal\.v1 +restart +- +ok/);
    expect(b?.stdout).toMatch(/io\.containerd\.internal\.v1 +opt +- +ok/);
    const [x, y] = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, 'plugins', 'ls', '-d', 'id==restart')));
    expect(y?.stdout).toBe(x?.stdout);
    const [p, q] = await Promise.all([ref, ts].map((d) => ctr(d.socket, 'plugins', 'ls', '-d', 'id==opt')));
    expect(q?.stdout.replace(ts.dir, 'DIR')).toBe(p?.stdout.replace(ref.dir, 'DIR'));
    expect(q?.stdout).toContain(`path      ${join(ts.dir, 'opt')}`);
  });

  it('a killed container labelled restart.status=running comes back within the interval, its output in restart.logpath', async () => {
    used.push('keep1');
    const started: Record<string, number> = {};
    for (const which of ['ts', 'ref'] as const) {
      const log = join(logs, `${which}.log`);
      // labelled once running: a pass between ctr's create and start would see `created`
      // and replace the task, on either daemon
      const r = await ctrOn(which, ['run', '-d', '--label', `containerd.io/restart.logpath=${log}`, image.ref, 'keep1', 'sh', '-c', 'echo started; sleep 1000']);
      expect(r.code, r.stderr).toBe(0);
      expect((await ctrOn(which, ['containers', 'label', 'keep1', 'containerd.io/restart.status=running'])).code).toBe(0);
      started[which] = (await taskOf(which, 'keep1'))?.[0] ?? 0;
      expect(started[which]).toBeGreaterThan(0);
    }
    for (const which of ['ts', 'ref'] as const) expect((await ctrOn(which, ['tasks', 'kill', '-s', 'KILL', 'keep1'])).code).toBe(0);
    const back = await Promise.all(
      (['ts', 'ref'] as const).map((which) =>
        until(async () => {
          const t = await taskOf(which, 'keep1');
          return t !== undefined && t[1] === 'RUNNING' && t[0] !== started[which];
        }, 10_000),
      ),
    );
    // interval 1 s: back within 1 s after the kill is seen, plus a pass and a start
    expect(back[1]).toBeGreaterThanOrEqual(0);
    expect(back[0]).toBeGreaterThanOrEqual(0);
    expect(back[0]).toBeLessThan(3000);
    for (const which of ['ts', 'ref'] as const) {
      const log = join(logs, `${which}.log`);
      expect(await until(async () => (await readFile(log, 'utf8').catch(() => '')) === 'started\n', 5000), which).toBeGreaterThanOrEqual(0);
    }
    // containerd 1.7 counts the restarts in a label; 1.6 does not
    expect((await ctrOn('ts', ['containers', 'info', 'keep1'])).stdout).toContain('"containerd.io/restart.count": "1"');
  }, 60_000);

  it('a container labelled restart.status=stopped has its task killed and deleted', async () => {
    used.push('stop1');
    for (const which of ['ts', 'ref'] as const) {
      expect((await ctrOn(which, ['run', '-d', image.ref, 'stop1', 'sleep', '1000'])).code).toBe(0);
      expect((await ctrOn(which, ['containers', 'label', 'stop1', 'containerd.io/restart.status=stopped'])).code).toBe(0);
    }
    const gone = await Promise.all((['ts', 'ref'] as const).map((which) => until(async () => (await taskOf(which, 'stop1')) === undefined, 10_000)));
    expect(gone[1]).toBeGreaterThanOrEqual(0);
    expect(gone[0]).toBeGreaterThanOrEqual(0);
    expect(gone[0]).toBeLessThan(3000);
    for (const which of ['ts', 'ref'] as const) await ctrOn(which, ['containers', 'rm', 'stop1']);
  }, 60_000);

  it('restart.policy=on-failure:2 restarts a failing container twice, then leaves it stopped', async () => {
    used.push('fail2', 'ok1', 'never1');
    const runLabelled = async (policy: string, id: string, ...cmd: string[]) => {
      expect((await ctrOn('ts', ['run', '-d', '--label', `containerd.io/restart.policy=${policy}`, image.ref, id, ...cmd])).code).toBe(0);
      expect((await ctrOn('ts', ['containers', 'label', id, 'containerd.io/restart.status=running'])).code).toBe(0);
    };
    await runLabelled('on-failure:2', 'fail2', 'sh', '-c', 'sleep 0.3; exit 3');
    await runLabelled('on-failure', 'ok1', 'true');
    await runLabelled('no', 'never1', 'sh', '-c', 'exit 1');
    const count = async (id: string) => /"containerd\.io\/restart\.count": "(\d+)"/.exec((await ctrOn('ts', ['containers', 'info', id])).stdout)?.[1];
    expect(await until(async () => (await count('fail2')) === '2' && (await taskOf('ts', 'fail2'))?.[1] === 'STOPPED', 15_000)).toBeGreaterThanOrEqual(0);
    // three more intervals: no third restart
    await new Promise((r) => setTimeout(r, 3500));
    expect(await count('fail2')).toBe('2');
    expect((await taskOf('ts', 'fail2'))?.[1]).toBe('STOPPED');
    // exit 0 under on-failure, and `no`: never restarted
    expect(await count('ok1')).toBeUndefined();
    expect(await count('never1')).toBeUndefined();
    expect((await taskOf('ts', 'ok1'))?.[1]).toBe('STOPPED');
  }, 60_000);

  it('ctr install puts the image\'s bin/ under the opt path', async () => {
    const tools = await pushImage(image.registry, 'tools', '1', fixtureImage({ compression: 'gzip' }));
    for (const which of ['ts', 'ref'] as const) {
      const d = which === 'ts' ? ts : ref;
      await pullInto(d.socket, which === 'ts' ? nsTs : nsRef, tools);
      const r = await ctrOn(which, ['install', tools]);
      expect(r.code, r.stderr).toBe(0);
      expect(await readFile(join(d.dir, 'opt', 'bin', 'tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
      expect(existsSync(join(d.dir, 'opt', 'lib'))).toBe(true);
      // a second install refuses to replace, as containerd's client does
      const again = await ctrOn(which, ['install', tools]);
      expect(again.code).toBe(1);
      expect(again.stderr).toContain(`cannot replace bin/tool in ${join(d.dir, 'opt')}`);
    }
  }, 120_000);

  it('leaves nothing behind once the labelled containers are removed', async () => {
    for (const id of used) {
      await ctrOn('ts', ['containers', 'label', id, 'containerd.io/restart.status=']);
      await ctrOn('ts', ['tasks', 'kill', '-s', 'KILL', id]);
      await until(async () => (await taskOf('ts', id))?.[1] !== 'RUNNING', 5000);
      await ctrOn('ts', ['tasks', 'delete', id]);
      await ctrOn('ts', ['containers', 'rm', id]);
    }
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 60_000);
});
