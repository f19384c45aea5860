// The runtime v1 OOM watcher on this host's cgroup v1 memory controller: a process killed
// by its cgroup's memory limit is one notification; removing the cgroup is none.
import { spawn } from 'node:child_process';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { MonitoredTask } from './monitor.js';
import { OOMWatcherV1 } from './oom-v1.js';

const memoryRoot = '/sys/fs/cgroup/memory';
const task = (id: string): MonitoredTask => ({ namespace: 'oom-test', id, initPid: 0, pid: async () => 0 });
const eventfds = () => readdirSync('/proc/self/fd').filter((fd) => { try { return readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:[eventfd]'; } catch { return false; } }).length;

let dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs) await rmdir(dir).catch(() => {});
  dirs = [];
});

async function cgroup(name: string, limit: number): Promise<string> {
  const dir = join(memoryRoot, `${name}-${process.pid}`);
  await mkdir(dir);
  dirs.push(dir);
  await writeFile(join(dir, 'memory.limit_in_bytes'), String(limit));
  // no swap to fall back on: the limit is hit at once
  await writeFile(join(dir, 'memory.swappiness'), '0').catch(() => {});
  return dir;
}

/** Runs a process in `dir` that allocates `bytes`; resolves with how it ended. */
async function allocateIn(dir: string, bytes: number): Promise<string | null> {
  const script = `process.stdin.once('data', () => { const b = Buffer.alloc(${bytes}, 1); console.log(b.length); process.exit(0); })`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  await writeFile(join(dir, 'cgroup.procs'), String(child.pid));
  const ended = new Promise<string | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  child.stdin?.write('go\n');
  return ended;
}

describe('OOMWatcherV1', () => {
  it('one notification for a process killed by its memory limit; none for the removal of the cgroup', async () => {
    const dir = await cgroup('oom-watch', 64 << 20);
    const t = task('killed');
    const ooms: string[] = [];
    const watcher = new OOMWatcherV1({ tasks: () => [t], memoryDir: async () => dir, onOOM: (x) => ooms.push(x.id) });
    const before = eventfds();
    await watcher.poll();
    expect(watcher.watched).toBe(1);
    expect(eventfds()).toBe(before + 1);
    expect(await allocateIn(dir, 256 << 20)).toBe('SIGKILL');
    expect((await readFile(join(dir, 'memory.oom_control'), 'utf8')).match(/oom_kill (\d+)/)?.[1]).toBe('1');
    await watcher.poll();
    expect(ooms).toEqual(['killed']);
    await watcher.poll();
    expect(ooms).toEqual(['killed']);
    await rmdir(dir);
    // the kernel signals the removal from a work queue: shortly after rmdir returns
    for (let i = 0; i < 40 && watcher.watched > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      await watcher.poll();
    }
    expect(ooms).toEqual(['killed']);
    expect(watcher.watched).toBe(0);
    expect(eventfds()).toBe(before);
    await watcher.close();
  });

  it('releases a task the runtime no longer lists, and retries one whose cgroup is not there yet', async () => {
    let listed: MonitoredTask[] = [task('a')];
    let dir: string | undefined;
    const watcher = new OOMWatcherV1({ tasks: () => listed, memoryDir: async () => dir, onOOM: () => {} });
    const before = eventfds();
    await watcher.poll();
    expect(watcher.watched).toBe(0);
    dir = await cgroup('oom-later', 64 << 20);
    await new Promise((r) => setTimeout(r, 150));
    await watcher.poll();
    expect(watcher.watched).toBe(1);
    listed = [];
    await watcher.poll();
    expect(watcher.watched).toBe(0);
    expect(eventfds()).toBe(before);
    await watcher.close();
  });

  it('watch registers a task at once; unwatch delivers an OOM that came just before the cgroup goes', async () => {
    const dir = await cgroup('oom-unwatch', 64 << 20);
    const t = task('quick');
    const ooms: string[] = [];
    const watcher = new OOMWatcherV1({ tasks: () => [], memoryDir: async () => dir, onOOM: (x) => ooms.push(x.id) });
    const before = eventfds();
    await watcher.watch(t);
    expect(watcher.watched).toBe(1);
    expect(await allocateIn(dir, 256 << 20)).toBe('SIGKILL');
    watcher.unwatch(t);
    expect(ooms).toEqual(['quick']);
    expect(watcher.watched).toBe(0);
    expect(eventfds()).toBe(before);
    await watcher.close();
  });

  it('polls only while there are tasks: a round with none stops the timer, watch starts it again', async () => {
    const dir = await cgroup('oom-idle', 64 << 20);
    let listed: MonitoredTask[] = [];
    let rounds = 0;
    const watcher = new OOMWatcherV1({
      tasks: () => {
        rounds++;
        return listed;
      },
      memoryDir: async () => dir,
      onOOM: () => {},
      intervalMs: 10,
    });
    watcher.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.pollingTimer).toBe(false);
    const idle = rounds;
    expect(idle).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(rounds).toBe(idle);
    // a task created: watched at once, and polled from then on
    const t = task('created');
    listed = [t];
    await watcher.watch(t);
    expect(watcher.pollingTimer).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    expect(rounds).toBeGreaterThan(idle + 2);
    expect(watcher.watched).toBe(1);
    // its removal: released, and the timer stops again
    listed = [];
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.watched).toBe(0);
    expect(watcher.pollingTimer).toBe(false);
    await watcher.close();
  });

  it('close stops polling and closes every eventfd', async () => {
    const dir = await cgroup('oom-close', 64 << 20);
    const watcher = new OOMWatcherV1({ tasks: () => [task('x')], memoryDir: async () => dir, onOOM: () => {}, intervalMs: 10 });
    const before = eventfds();
    watcher.start();
    await new Promise((r) => setTimeout(r, 100));
    expect(watcher.watched).toBe(1);
    await watcher.close();
    expect(watcher.watched).toBe(0);
    expect(eventfds()).toBe(before);
  });
});
