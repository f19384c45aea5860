// Issue 11: `ctr-ts shim exec` (ttrpc to the task's shim, as ctr 1.6 sends it) and `ctr-ts
// tasks checkpoint` (task.Checkpoint: lease, pause, the daemon's Checkpoint, resume) with
// Debian's ctr and with ctr-ts, each in a namespace of its own, on containerd-ts and on
// Debian's containerd. criu is not usable on this host: what is compared is the error that
// reaches the user (one line, ctr's words, exit 1) and what is left afterwards — the task
// running again (not left paused), no lease, no checkpoint image, no fifo the call made.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sessions, startSessions } from './ctr-sessions.js';

describe('ctr-ts shim exec and tasks checkpoint: the same errors as ctr on containerd-ts and containerd, nothing left', () => {
  let sessions: Sessions | undefined;
  let work: string;
  const vars: Record<string, string> = {};

  beforeAll(async () => {
    sessions = await startSessions({ namespace: 'ck', tag: 'c', pids: true });
    work = await mkdtemp(join(tmpdir(), 'ctr-ts-shim-ckpt-'));
    vars.work = work;
    vars.spec = join(work, 'process.json');
    await writeFile(vars.spec, JSON.stringify({ user: { uid: 0, gid: 0 }, args: ['echo', 'from shim exec'], cwd: '/', env: ['PATH=/bin'] }));
  }, 180_000);

  afterAll(async () => {
    await sessions?.stop(['svc']);
    if (work) await rm(work, { recursive: true, force: true });
  }, 300_000);

  it('tasks checkpoint and shim exec fail as ctr does; the task runs on, no lease, image or fifo is left', async () => {
    const steps: string[][] = [
      ['run', '-d', '{img}', 'svc-{id}', 'sleep', '1000'],
      ['tasks', 'checkpoint'],
      ['tasks', 'checkpoint', 'nope-{id}'],
      ['tasks', 'checkpoint', 'svc-{id}'],
      ['tasks', 'checkpoint', '--exit', '--image-path', '{work}/img-{id}', '--work-path', '{work}/wk-{id}', 'svc-{id}'],
      ['tasks', 'ls'],
      ['leases', 'ls'],
      ['images', 'ls', '-q'],
      ['shim', 'exec', 'e1'],
      ['shim', '--id', 'svc-{id}', 'exec'],
      ['shim', '--id', 'svc-{id}', 'exec', 'e1'],
      ['shim', '--id', 'svc-{id}', 'exec', '--stdin', '{work}/{id}-in', '--stdout', '{work}/{id}-out', '--stderr', '{work}/{id}-err', 'e1'],
      ['shim', '--id', 'nope-{id}', 'exec', 'e1'],
      ['tasks', 'ls'],
    ];
    const { daemons, image, tag } = sessions!;
    const runStep = sessions!.run;
    for (const d of daemons) {
      const differing = await sessions!.compare(d, steps, { ...vars, img: image.ref }, (args, b) => {
        if (args[0] !== 'run' && args[1] !== 'ls' && args[2] !== '-q' && !(args[0] === 'tasks' && args[1] === 'ls')) {
          expect(b.code, `${d.name}: ${args.join(' ')}: ${b.stderr}`).toBe(1);
          expect(b.stderr.trim().split('\n'), `${d.name}: ${args.join(' ')}`).toHaveLength(1);
        }
      });
      expect(differing).toEqual([]);
      // ctr-ts removed the fifos it made for an exec that did not run.
      for (const f of ['in', 'out', 'err']) expect(existsSync(join(work, `${tag('ctr-ts')}-${f}`)), f).toBe(false);
      // With a process spec, ctr 1.6 panics (typeurl.TypeURL of a non-pointer) before it sends
      // anything; ctr-ts sends Exec and Start for the container's exec ID and, attached, copies
      // the process's output.
      const fifos = (n: string) => ['--stdin', `{work}/{id}-in${n}`, '--stdout', `{work}/{id}-out${n}`, '--stderr', `{work}/{id}-err${n}`];
      const theirs = await runStep('ctr', d, ['shim', '--id', 'svc-{id}', 'exec', ...fifos('2'), '--spec', '{spec}', 'e2'], vars);
      expect({ code: theirs.code, panic: theirs.stderr.startsWith('panic: v is not a pointer to a type') }).toEqual({ code: 2, panic: true });
      const ours = await runStep('ctr-ts', d, ['shim', '--id', 'svc-{id}', 'exec', '-a', ...fifos(`3${d.name}`), '--spec', '{spec}', 'e3'], vars);
      expect({ code: ours.code, stderr: ours.stderr }, d.name).toEqual({ code: 0, stderr: '' });
      expect(ours.stdout, d.name).toMatch(/^exec running with pid \d+\nfrom shim exec\n$/);
      const again = await runStep('ctr-ts', d, ['shim', '--id', 'svc-{id}', 'exec', ...fifos(`4${d.name}`), '--spec', '{spec}', 'e3'], vars);
      expect({ code: again.code, stderr: again.stderr }, d.name).toEqual({ code: 1, stderr: 'ctr-ts: rpc error: code = AlreadyExists desc = id e3: already exists\n' });
      const tasks = await runStep('ctr-ts', d, ['tasks', 'ls'], {});
      expect(tasks.stdout).toMatch(new RegExp(`svc-${tag('ctr-ts')} +\\d+ +RUNNING`));
      const leases = await runStep('ctr-ts', d, ['leases', 'ls', '-q'], {});
      expect(leases.stdout).toBe('');
    }
  }, 600_000);
});
