// Issue 9: restart recovery. containerd-ts is killed with SIGKILL while its tasks run; one
// task exits while the daemon is down. After a restart on the same root, state and socket
// the live tasks are RUNNING and answer `ctr tasks ps`, the exited one reports its exit
// status, `tasks kill` stops the others with their exits delivered, and nothing leaks.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, serveBusybox, shimsOf } from './containers-run.js';
import { type Service, type StartedDaemon, containerdTs, ctr, spawnService, startDaemon } from './harness.js';

const ns = `restart-ts-${process.pid}`;

describe('restart recovery', () => {
  let first: StartedDaemon;
  let second: Service | undefined;
  let image: ImageSource;

  const c = (...args: string[]) => ctr(first.socket, '-n', ns, ...args);

  async function restart(): Promise<Service> {
    const svc = spawnService(containerdTs, ['--root', first.root, '--state', first.state, '--address', first.socket]);
    for (let i = 0; i < 200; i++) {
      if (svc.child.exitCode !== null) throw new Error(`containerd-ts exited: ${svc.logs()}`);
      if ((await ctr(first.socket, 'version')).code === 0) return svc;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`containerd-ts did not answer after restart: ${svc.logs()}`);
  }

  beforeAll(async () => {
    image = await serveBusybox();
    first = await startDaemon();
    await pullInto(first.socket, ns, image.ref);
  }, 120_000);

  afterAll(async () => {
    for (const id of ['live1', 'live2', 'exits']) {
      await c('tasks', 'kill', '-s', 'KILL', id).catch(() => {});
      await c('tasks', 'delete', '-f', id).catch(() => {});
      await c('containers', 'delete', id).catch(() => {});
    }
    await second?.kill('SIGTERM');
    await first?.cleanup();
    await image?.registry.stop();
  }, 60_000);

  it('kill -9 of the daemon: live tasks keep running, an exit while down is reported, nothing leaks', async () => {
    for (const [id, cmd] of [
      ['live1', ['sleep', '1000']],
      ['live2', ['sleep', '1000']],
      ['exits', ['sh', '-c', 'sleep 2; exit 5']],
    ] as const) {
      const r = await c('run', '-d', image.ref, id, ...cmd);
      expect(r.code, r.stderr).toBe(0);
    }
    const before = await c('tasks', 'ls');
    expect(before.stdout.match(/RUNNING/g)?.length).toBe(3);
    const shims = shimsOf(first.socket);
    expect(shims.length).toBe(3);

    await first.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 3000)); // `exits` ends meanwhile
    second = await restart();

    const after = await c('tasks', 'ls');
    const status = (id: string) => after.stdout.split('\n').find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[2];
    expect(status('live1')).toBe('RUNNING');
    expect(status('live2')).toBe('RUNNING');
    expect(status('exits')).toBe('STOPPED');
    for (const id of ['live1', 'live2']) {
      const ps = await c('tasks', 'ps', id);
      expect(ps.code, ps.stderr).toBe(0);
      expect(ps.stdout).toMatch(/^PID\s+INFO\n\d+\s+-\n$/);
    }
    // The same shims serve the tasks: none was restarted.
    expect(shimsOf(first.socket).sort()).toEqual(shims.sort());

    const deleted = await c('tasks', 'delete', 'exits');
    expect(deleted.code).toBe(0);
    expect(deleted.stderr).toContain('task exits exit with non-zero exit code 5');

    // Kills reach the reconnected shims and their exits arrive (Wait answers).
    for (const id of ['live1', 'live2']) expect((await c('tasks', 'kill', '-s', 'KILL', id)).code).toBe(0);
    for (const id of ['live1', 'live2']) {
      let stopped = false;
      for (let i = 0; i < 100 && !stopped; i++) {
        stopped = (await c('tasks', 'ls')).stdout.split('\n').some((l) => l.startsWith(`${id} `) && l.includes('STOPPED'));
        if (!stopped) await new Promise((r) => setTimeout(r, 50));
      }
      expect(stopped).toBe(true);
      const d = await c('tasks', 'delete', id);
      expect(d.stderr).toContain(`task ${id} exit with non-zero exit code 137`);
    }
    for (const id of ['live1', 'live2', 'exits']) expect((await c('containers', 'rm', id)).code).toBe(0);
    expect(await leftovers(first, ns, ['live1', 'live2', 'exits'])).toEqual([]);
  }, 120_000);
});
