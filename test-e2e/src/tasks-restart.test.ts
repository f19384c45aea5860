// Issue 9: restart recovery, the same ctr session against containerd-ts and Debian's
// containerd side by side. Each daemon runs 5 containers and is killed with SIGKILL; one
// container exits while the daemons are down, and they stay down until the shim's own
// publish retry has given up (containerd 1.6's shim retries for about 21 s). After a
// restart on the same root, state and socket: 4 tasks are RUNNING and answer `ctr tasks
// ps` (served by the same shims), the fifth is STOPPED with its exit status (Wait answers
// it), `tasks kill` stops the others and their /tasks/exit arrive (`ctr events`), and
// nothing leaks. The one difference, asserted: containerd-ts publishes the fifth's
// /tasks/exit from the shim's state; containerd 1.6 only relays the shim's retry, which
// gave up, so its clients never see that exit.
import { join } from 'node:path';
import { TasksService } from '@containerd-ts/api/services/tasks';
import { Connection } from '@containerd-ts/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, restartDaemon, serveBusybox, shimsOf } from './containers-run.js';
import { EventFollower } from './event-follower.js';
import { type Reference, type Service, type StartedDaemon, ctr, spawnService, startDaemon, startReference } from './harness.js';

const LIVE = ['live1', 'live2', 'live3', 'live4'];
const EXITS = 'exits';
const IDS = [...LIVE, EXITS];
/** The fifth exits 3 s after its start; the shim retries its publish for ~21 s after that. */
const DOWN_MS = 28_000;

interface Side {
  name: string;
  socket: string;
  ns: string;
  kill9(): Promise<void>;
  restart(): Promise<void>;
  events?: EventFollower;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `ctr events` lines as `<topic> <container_id>` for the /tasks/* topics of a namespace. */
function taskEvents(f: EventFollower, ns: string): string[] {
  const out: string[] = [];
  for (const line of f.events()) {
    const [lineNs, topic, ...rest] = line.split(' ');
    if (lineNs !== ns || !topic?.startsWith('/tasks/')) continue;
    const json = JSON.parse(rest.join(' ')) as { container_id?: string; exit_status?: number };
    out.push(`${topic} ${json.container_id}${json.exit_status !== undefined ? ` ${json.exit_status}` : ''}`);
  }
  return out;
}

async function waitStatus(side: Side, id: string, want: string): Promise<string | undefined> {
  let s: string | undefined;
  for (let i = 0; i < 200; i++) {
    s = statusOf((await ctr(side.socket, '-n', side.ns, 'tasks', 'ls')).stdout, id);
    if (s === want) break;
    await sleep(50);
  }
  return s;
}

const statusOf = (ls: string, id: string) =>
  ls
    .split('\n')
    .find((l) => l.startsWith(`${id} `))
    ?.trim()
    .split(/\s+/)[2];

describe('restart recovery: kill -9 with 5 running containers, compared with containerd', () => {
  let image: ImageSource;
  let ts: StartedDaemon;
  let tsAgain: Service | undefined;
  let ref: Reference;
  let refAgain: Service | undefined;
  const sides: Side[] = [];

  beforeAll(async () => {
    image = await serveBusybox();
    ts = await startDaemon();
    ref = await startReference();
    sides.push(
      {
        name: 'containerd-ts',
        socket: ts.socket,
        ns: `restart-ts-${process.pid}`,
        kill9: async () => {
          await ts.stop('SIGKILL');
        },
        restart: async () => {
          tsAgain = await restartDaemon(ts);
        },
      },
      {
        name: 'containerd',
        socket: ref.socket,
        // Different namespaces: runc's state and the cgroup path /<ns>/<id> are host-wide.
        ns: `restart-ref-${process.pid}`,
        kill9: async () => {
          process.kill(ref.pid, 'SIGKILL');
          for (let i = 0; i < 100; i++) {
            try {
              process.kill(ref.pid, 0);
            } catch {
              return;
            }
            await sleep(20);
          }
        },
        restart: async () => {
          refAgain = spawnService('containerd', ['--config', join(ref.dir, 'config.toml')]);
          for (let i = 0; i < 400; i++) {
            if ((await ctr(ref.socket, 'version')).code === 0) return;
            await sleep(25);
          }
          throw new Error(`containerd did not answer after restart: ${refAgain.logs()}`);
        },
      },
    );
    await Promise.all(sides.map((s) => pullInto(s.socket, s.ns, image.ref)));
  }, 120_000);

  afterAll(async () => {
    for (const s of sides) {
      s.events?.stop();
      await removeContainers(s.socket, s.ns, IDS);
    }
    await tsAgain?.kill('SIGTERM');
    await refAgain?.stop();
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
  }, 120_000);

  it('4 keep running and answer, the fifth reports its exit, kills are delivered, nothing leaks', async () => {
    const session = async (side: Side) => {
      const c = (...args: string[]) => ctr(side.socket, '-n', side.ns, ...args);
      for (const id of LIVE) {
        const r = await c('run', '-d', image.ref, id, 'sleep', '1000');
        expect(r.code, `${side.name}: ${r.stderr}`).toBe(0);
      }
      const r = await c('run', '-d', image.ref, EXITS, 'sh', '-c', 'sleep 3; exit 5');
      expect(r.code, `${side.name}: ${r.stderr}`).toBe(0);
      const before = (await c('tasks', 'ls')).stdout;
      expect(IDS.map((id) => statusOf(before, id))).toEqual(IDS.map(() => 'RUNNING'));
      const shims = shimsOf(side.socket).sort();
      expect(shims.length).toBe(5);
      await side.kill9();
      return shims;
    };
    const shimsBefore = await Promise.all(sides.map(session));

    await sleep(DOWN_MS); // `exits` ends, and its shim's publish retries give up
    await Promise.all(sides.map((s) => s.restart()));
    for (const s of sides) s.events = new EventFollower('ctr', s.socket, []);

    const recovered = async (side: Side, i: number) => {
      const c = (...args: string[]) => ctr(side.socket, '-n', side.ns, ...args);
      const after = (await c('tasks', 'ls')).stdout;
      expect(IDS.map((id) => `${id} ${statusOf(after, id)}`), side.name).toEqual([...LIVE.map((id) => `${id} RUNNING`), `${EXITS} STOPPED`]);
      for (const id of LIVE) {
        const ps = await c('tasks', 'ps', id);
        expect(ps.code, `${side.name}: ${ps.stderr}`).toBe(0);
        expect(ps.stdout).toMatch(/^PID\s+INFO\n\d+\s+-\n$/);
      }
      // The same shims serve the tasks (the fifth's too: it was not deleted).
      expect(shimsOf(side.socket).sort(), side.name).toEqual(shimsBefore[i]);
      // Wait answers the exit from the shim's state.
      const conn = new Connection(side.socket, { namespace: side.ns });
      try {
        const waited = await conn.unary(TasksService.wait, { containerId: EXITS, execId: '' });
        expect(waited.exitStatus, side.name).toBe(5);
        expect(waited.exitedAt?.seconds ?? 0).toBeGreaterThan(0);
      } finally {
        conn.close();
      }
    };
    await Promise.all(sides.map(recovered));

    // containerd-ts tells the exit that happened while it was down; containerd 1.6 does not
    // (its shim's retry gave up while it was down).
    const [tsSide, refSide] = sides as [Side, Side];
    expect(await tsSide.events!.waitFor(`"container_id":"${EXITS}"`, 10_000)).toBe(true);
    expect(await refSide.events!.waitFor(`"container_id":"${EXITS}"`, 500)).toBe(false);

    const finish = async (side: Side) => {
      const c = (...args: string[]) => ctr(side.socket, '-n', side.ns, ...args);
      for (const id of LIVE) {
        expect((await c('tasks', 'kill', '-s', 'KILL', id)).code).toBe(0);
        // Its exit arrives over `ctr events`.
        expect(await side.events!.waitFor(`"container_id":"${id}","id":"${id}"`, 10_000), `${side.name} ${id}`).toBe(true);
        expect(await waitStatus(side, id, 'STOPPED')).toBe('STOPPED');
      }
      const d = await c('tasks', 'delete', EXITS);
      expect(d.code, d.stderr).toBe(0);
      expect(d.stderr).toContain(`task ${EXITS} exit with non-zero exit code 5`);
      for (const id of LIVE) {
        const del = await c('tasks', 'delete', id);
        expect(del.stderr).toContain(`task ${id} exit with non-zero exit code 137`);
      }
      for (const id of IDS) expect((await c('containers', 'rm', id)).code).toBe(0);
      for (let i = 0; i < 100 && shimsOf(side.socket).length > 0; i++) await sleep(100);
      expect(shimsOf(side.socket), side.name).toEqual([]);
    };
    await Promise.all(sides.map(finish));
    await sleep(500);

    const tsEvents = taskEvents(tsSide.events!, tsSide.ns);
    const refEvents = taskEvents(refSide.events!, refSide.ns);
    expect(tsEvents[0]).toBe(`/tasks/exit ${EXITS} 5`);
    // Apart from that exit, the same events in the same order.
    expect(tsEvents.slice(1)).toEqual(refEvents);
    expect(refEvents).toEqual([
      ...LIVE.map((id) => `/tasks/exit ${id} 137`),
      `/tasks/delete ${EXITS} 5`,
      ...LIVE.map((id) => `/tasks/delete ${id} 137`),
    ]);
    expect(await leftovers(ts, tsSide.ns, IDS)).toEqual([]);
  }, 180_000);
});
