// Issue 9: 50 containers started at once on containerd-ts with Debian's `ctr run -d`, then
// all killed, their tasks deleted and their containers removed, each step 50 ctr processes
// in parallel: every command succeeds, and afterwards nothing is left — no shim process,
// mount, stdio fifo, runc state, cgroup, bundle or work dir, lease or container.
import { existsSync } from 'node:fs';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Status } from '@containerd-ts/api/types/task';
import { Connection } from '@containerd-ts/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, serveBusybox, shimsOf } from './containers-run.js';
import { type RunResult, type StartedDaemon, run, startDaemon } from './harness.js';

const count = 50;
const ns = `scale-ts-${process.pid}`;
const ids = Array.from({ length: count }, (_, i) => `sc${i}`);

describe('50 containers at once on containerd-ts', () => {
  let ts: StartedDaemon;
  let image: ImageSource;

  const ctrTs = (args: string[]): Promise<RunResult> => run('ctr', ['-a', ts.socket, '-n', ns, ...args], { input: '', timeoutMs: 180_000 });

  /** Runs `args(id)` for every id at once; returns the failures, `id: exit stderr`. */
  const all = async (args: (id: string) => string[]): Promise<string[]> => {
    const results = await Promise.all(ids.map(async (id) => ({ id, r: await ctrTs(args(id)) })));
    return results.filter(({ r }) => r.code !== 0).map(({ id, r }) => `${id}: ${r.code} ${r.stderr.trim()}`);
  };

  beforeAll(async () => {
    image = await serveBusybox();
    ts = await startDaemon();
    await pullInto(ts.socket, ns, image.ref);
  }, 180_000);

  afterAll(async () => {
    if (ts) {
      await removeContainers(ts.socket, ns, ids, { concurrent: true });
    }
    await ts?.cleanup();
    await image?.registry.stop();
  }, 300_000);

  it('starts 50 with ctr run -d, kills, deletes and removes them all, and leaks nothing', async () => {
    expect(await all((id) => ['run', '-d', image.ref, id, 'sleep', '1000'])).toEqual([]);

    const conn = new Connection(ts.socket, { namespace: ns });
    let fifos: string[];
    try {
      const { tasks } = await conn.unary(TasksService.list, { filter: '' });
      expect(tasks.map((t) => t.id).sort()).toEqual([...ids].sort());
      expect(tasks.filter((t) => t.status !== Status.RUNNING).map((t) => `${t.id} ${t.status}`)).toEqual([]);
      // ctr's stdio fifos: the client removes them when it deletes the task.
      fifos = tasks.flatMap((t) => [t.stdin, t.stdout, t.stderr]).filter((p) => p !== '');
      expect(fifos.length).toBeGreaterThanOrEqual(count);
      expect(fifos.filter((p) => !existsSync(p))).toEqual([]);
    } finally {
      conn.close();
    }
    expect(shimsOf(ts.socket).length).toBe(count);
    const ps = await ctrTs(['tasks', 'ps', 'sc7']);
    expect(ps.code).toBe(0);
    expect(ps.stdout).toMatch(/^PID\s+INFO\n\d+\s+-\n$/);

    expect(await all((id) => ['tasks', 'kill', '-s', 'KILL', id])).toEqual([]);
    // Each task is STOPPED once its exit is known; then the deletes report exit status 137.
    for (let i = 0; i < 200; i++) {
      const ls = await ctrTs(['tasks', 'ls']);
      if (ls.stdout.split('\n').filter((l) => / STOPPED$/.test(l.trim())).length === count) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const deletes = await Promise.all(ids.map((id) => ctrTs(['tasks', 'delete', id])));
    expect(deletes.filter((r) => r.code !== 0).map((r) => r.stderr)).toEqual([]);
    expect(deletes.filter((r) => !/exit with non-zero exit code 137/.test(r.stdout + r.stderr)).map((r) => r.stdout + r.stderr)).toEqual([]);
    expect(await all((id) => ['containers', 'rm', id])).toEqual([]);

    expect((await ctrTs(['tasks', 'ls', '-q'])).stdout).toBe('');
    expect(await leftovers(ts, ns, ids)).toEqual([]);
    expect(fifos.filter((p) => existsSync(p))).toEqual([]);
  }, 600_000);
});
