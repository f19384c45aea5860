// Issue 9: `kill -9` of containerd-ts is survivable at every step of a task's life. The
// daemon is made to SIGKILL itself at a precise step (CONTAINERD_TS_RUNTIME_CRASH_AT:
// the real shim and runc do their part up to there), or is killed from outside while
// idle; after a restart on the same root, state and socket, the task is either fully
// there and usable or fully gone, `ctr tasks ls` and `containers ls` agree, everything
// can be deleted, and nothing leaks (shim, socket, mount, runc state, bundle, work dir,
// cgroup).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, restartDaemon, serveBusybox, shimsOf } from './containers-run.js';
import { EventFollower } from './event-follower.js';
import { type Service, type StartedDaemon, ctr, startDaemon } from './harness.js';

const ns = `crash-ts-${process.pid}`;
const CRASH_AT = 'CONTAINERD_TS_RUNTIME_CRASH_AT';

type Expected = 'gone' | 'CREATED' | 'RUNNING' | 'STOPPED';

interface Case {
  /** The crash point, or `idle` for a kill -9 from outside with nothing in flight. */
  point: string;
  /** What must have run before the crashing step (the task id is appended where needed). */
  prepare: 'nothing' | 'running' | 'stopped';
  /** The ctr command during which the daemon dies. */
  op: (id: string, image: string) => string[] | 'kill -9';
  /** What a user finds after the restart. */
  expected: Expected;
}

const runDetached = (id: string, image: string) => ['run', '-d', image, id, 'sleep', '1000'];

const cases: Case[] = [
  { point: 'create:bundle', prepare: 'nothing', op: runDetached, expected: 'gone' },
  { point: 'create:shim-started', prepare: 'nothing', op: runDetached, expected: 'gone' },
  { point: 'create:task-created', prepare: 'nothing', op: runDetached, expected: 'CREATED' },
  { point: 'start', prepare: 'nothing', op: runDetached, expected: 'RUNNING' },
  { point: 'exec', prepare: 'running', op: (id) => ['tasks', 'exec', '--exec-id', 'e1', id, 'sleep', '1000'], expected: 'RUNNING' },
  { point: 'kill', prepare: 'running', op: (id) => ['tasks', 'kill', '-s', 'KILL', id], expected: 'STOPPED' },
  { point: 'delete:shim-deleted', prepare: 'stopped', op: (id) => ['tasks', 'delete', id], expected: 'gone' },
  { point: 'delete:shim-shutdown', prepare: 'stopped', op: (id) => ['tasks', 'delete', id], expected: 'gone' },
  { point: 'idle', prepare: 'running', op: () => 'kill -9', expected: 'RUNNING' },
];

describe('kill -9 of the daemon at every step', () => {
  let first: StartedDaemon;
  let image: ImageSource;
  let daemon: Service | undefined;
  const ids = cases.map((k) => `c-${k.point.replace(':', '-')}`);

  const c = (...args: string[]) => ctr(first.socket, '-n', ns, ...args);
  const status = async (id: string) =>
    (await c('tasks', 'ls')).stdout
      .split('\n')
      .find((l) => l.startsWith(`${id} `))
      ?.trim()
      .split(/\s+/)[2];

  async function waitStatus(id: string, want: string): Promise<string | undefined> {
    let s: string | undefined;
    for (let i = 0; i < 200; i++) {
      s = await status(id);
      if (s === want) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return s;
  }

  beforeAll(async () => {
    image = await serveBusybox();
    first = await startDaemon();
    await pullInto(first.socket, ns, image.ref);
    await first.stop('SIGTERM');
  }, 120_000);

  afterAll(async () => {
    daemon = await restartDaemon(first).catch(() => undefined);
    if (daemon) await removeContainers(first.socket, ns, ids);
    await daemon?.kill('SIGTERM');
    await first?.cleanup();
    await image?.registry.stop();
  }, 120_000);

  for (const [i, k] of cases.entries()) {
    const id = ids[i]!;
    it(`${k.point}: the task is ${k.expected === 'gone' ? 'fully gone' : `there, ${k.expected} and usable`}, nothing leaks`, async () => {
      daemon = await restartDaemon(first, k.point === 'idle' ? {} : { [CRASH_AT]: k.point });
      try {
        await crashAndRecover(id, k);
      } finally {
        // A failed case leaves no daemon behind for the next one.
        await daemon?.kill('SIGKILL');
        daemon = undefined;
      }
    }, 120_000);
  }

  async function crashAndRecover(id: string, k: Case): Promise<void> {
      if (!daemon) throw new Error('no daemon');
      if (k.prepare !== 'nothing') {
        const r = await c('run', '-d', image.ref, id, 'sleep', '1000');
        expect(r.code, r.stderr).toBe(0);
      }
      if (k.prepare === 'stopped') {
        expect((await c('tasks', 'kill', '-s', 'KILL', id)).code).toBe(0);
        expect(await waitStatus(id, 'STOPPED')).toBe('STOPPED');
      }
      const op = k.op(id, image.ref);
      if (op === 'kill -9') await daemon.kill('SIGKILL');
      else {
        const r = await c(...op);
        expect(r.code, `${op.join(' ')} should fail as the daemon dies: ${r.stdout}`).not.toBe(0);
      }
      await daemon.exited;
      // It died at the crash point, by SIGKILL (not by an error of its own).
      expect(daemon.child.signalCode).toBe('SIGKILL');
      daemon = await restartDaemon(first);
      const events = new EventFollower('ctr', first.socket, [`namespace==${ns}`]);
      try {
        if (k.point.startsWith('delete:') || k.point.startsWith('create:shim')) {
          // A task that was deleted (or never created) is not told to have exited after the
          // restart (recovered exits go out RECOVERED_EXIT_DELAY_MS = 2 s after loading).
          await new Promise((r) => setTimeout(r, 3000));
          expect(events.events().filter((l) => l.includes(`"container_id":"${id}"`))).toEqual([]);
        }
      } finally {
        events.stop();
      }

      // The container record is there (ctr creates it before the task) and consistent.
      expect((await c('containers', 'ls', '-q')).stdout.split('\n')).toContain(id);
      const s = k.expected === 'STOPPED' ? await waitStatus(id, 'STOPPED') : await status(id);
      expect(s ?? 'gone').toBe(k.expected);
      if (k.expected === 'gone') {
        expect((await c('tasks', 'ps', id)).code).not.toBe(0);
      } else {
        if (k.expected === 'RUNNING') {
          const ps = await c('tasks', 'ps', id);
          expect(ps.code, ps.stderr).toBe(0);
          const hi = await c('tasks', 'exec', '--exec-id', 'after', id, 'echo', 'hi');
          expect(hi.stdout, hi.stderr).toBe('hi\n');
          expect((await c('tasks', 'kill', '-s', 'KILL', id)).code).toBe(0);
          expect(await waitStatus(id, 'STOPPED')).toBe('STOPPED');
        }
        // A created task is deleted with -f (ctr refuses to delete it otherwise, with containerd too).
      const d = await c('tasks', 'delete', ...(k.expected === 'CREATED' ? ['-f'] : []), id);
        expect(d.code, d.stderr).toBe(0);
        if (k.expected !== 'CREATED') expect(d.stderr).toContain(`task ${id} exit with non-zero exit code 137`);
        expect(await status(id)).toBeUndefined();
      }
      const rm = await c('containers', 'rm', id);
      expect(rm.code, rm.stderr).toBe(0);
      expect(await leftovers(first, ns, [id])).toEqual([]);
      expect(shimsOf(first.socket)).toEqual([]);
      await daemon.kill('SIGTERM');
  }
});
