// Issue 11: `ctr-ts run`, `containers`, `tasks`, `oci spec` and `shim state`. The same session
// runs with Debian's ctr and with ctr-ts, each in a namespace of its own, on containerd-ts and
// on Debian's containerd: outputs, errors and exit codes must match with only pids, times,
// namespaces and container IDs made comparable; `containers info` of what ctr-ts created must
// equal what ctr created for the same flags (the generated OCI spec included). Nothing may be
// left behind (tasks, containers, snapshots' mounts, shims, runc state, fifos).
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Connection, FifoIO, Task, createContainer, deleteContainer, subscribeEvents } from '@containerd-ts/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, serveBusybox } from './containers-run.js';
import { type RunResult, type StartedDaemon, ctrTs, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;
type Client = 'ctr' | 'ctr-ts';

const pid = process.pid;
const tagOf = (client: Client) => (client === 'ctr' ? `go${pid}` : `ts${pid}`);
const FIFO_ROOT = '/run/containerd/fifo';

interface Step {
  args: string[];
  /** The output is a label list ctr prints in Go's map order. */
  labels?: boolean;
  /** Every number made neutral (metrics). */
  numbers?: boolean;
  /** Wait until the task of this container is stopped before the step. */
  waitStopped?: string;
}

interface Daemon {
  name: string;
  socket: string;
  namespaces: Record<Client, string>;
}

/** Runs one step; `{id}` in the arguments becomes the client's container ID suffix. */
function runStep(client: Client, d: Daemon, step: Step, image: string): Promise<RunResult> {
  const args = step.args.map((a) => a.replaceAll('{id}', tagOf(client)).replaceAll('{img}', image));
  return run(client === 'ctr' ? 'ctr' : ctrTs, ['-a', d.socket, '-n', d.namespaces[client], ...args], { input: '', timeoutMs: 60_000 });
}

function normalize(r: RunResult, client: Client, d: Daemon, step: Step): string {
  let stdout = r.stdout;
  if (step.labels) stdout = stdout.split('\n').map((line) => line.split(',').sort().join(',')).join('\n');
  // Metrics: values and the column widths they make vary.
  if (step.numbers) {
    stdout = stdout
      .replaceAll(tagOf(client), '<id>')
      .replace(/\d{4}-\d{2}-\d{2} [\d:.]+ \+0000 UTC/g, '<time>')
      .replace(/\d+/g, 'N')
      .replace(/ {2,}/g, '  ');
  }
  let text = `${stdout}\n--stderr--\n${r.stderr}\n--exit ${r.code}`;
  if (client === 'ctr-ts') text = text.replaceAll('ctr-ts: ', 'ctr: ').replace(/\bctr-ts (?=[a-z])/g, 'ctr ');
  return text
    .replaceAll(d.namespaces[client], '<ns>')
    .replaceAll(tagOf(client), '<id>')
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})/g, '<time>')
    .replace(/time="[^"]*"/g, 'time=<time>')
    .replace(/\b\d{3,7}\b/g, '<pid>');
}

async function waitStopped(client: Client, d: Daemon, id: string, image: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const r = await runStep(client, d, { args: ['tasks', 'ls'] }, image);
    const line = r.stdout.split('\n').find((l) => l.startsWith(`${id.replaceAll('{id}', tagOf(client))} `));
    if (!line || /STOPPED/.test(line)) return;
    await new Promise((res) => setTimeout(res, 50));
  }
}

function session(hostDir: string): Step[] {
  return [
    { args: ['run', '--rm', '{img}', 'echo-{id}', 'echo', 'hi'] },
    { args: ['run', '--rm', '{img}', 'exit-{id}', 'sh', '-c', 'exit 3'] },
    { args: ['run', '--rm', '--env', 'FOO=bar', '--cwd', '/tmp', '{img}', 'env-{id}', 'sh', '-c', 'echo $FOO; pwd; id'] },
    { args: ['run', '--rm', '--read-only', '{img}', 'ro-{id}', 'touch', '/x'] },
    { args: ['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/mnt,options=rbind:ro`, '{img}', 'bind-{id}', 'cat', '/mnt/hello'] },
    { args: ['run', '--rm', '--net-host', '{img}', 'net-{id}', 'sh', '-c', 'hostname; echo $HOSTNAME'] },
    { args: ['run', '--rm', '--memory-limit', '67108864', '--cpus', '0.5', '{img}', 'lim-{id}', 'echo', 'limited'] },
    // A container created with many flags: its record and spec must be the same as ctr's.
    {
      args: [
        'containers',
        'create',
        '--label',
        'team=a',
        '--label',
        'flag',
        '--env',
        'X=1',
        '--env',
        'PATH=/bin:/sbin',
        '--cwd',
        '/tmp',
        '--read-only',
        '--net-host',
        '--tty',
        '--memory-limit',
        '33554432',
        '--cap-add',
        'CAP_SYS_ADMIN',
        '--cap-drop',
        'CAP_NET_RAW',
        '--allow-new-privs',
        '--annotation',
        'note=x',
        '--mount',
        `type=bind,src=${hostDir},dst=/mnt,options=rbind:ro`,
        '{img}',
        'full-{id}',
        'sleep',
        '1000',
      ],
    },
    // Flags after the container ID are flags (no SkipArgReorder): `-c` is --config.
    { args: ['containers', 'create', '{img}', 'cfg-{id}', 'sh', '-c', 'true'] },
    { args: ['containers', 'info', 'full-{id}'] },
    { args: ['containers', 'info', '--spec', 'full-{id}'] },
    { args: ['containers', 'create', '{img}', 'plain-{id}'] },
    { args: ['containers', 'info', 'plain-{id}'] },
    { args: ['containers', 'ls'] },
    { args: ['containers', 'label', 'plain-{id}', 'owner=me'], labels: true },
    { args: ['containers', 'rm', 'plain-{id}'] },
    // A task started detached, then ps, exec, kill and delete.
    { args: ['containers', 'create', '{img}', 'svc-{id}', 'sleep', '1000'] },
    { args: ['tasks', 'start', '-d', 'svc-{id}'] },
    { args: ['tasks', 'ls'] },
    { args: ['tasks', 'ps', 'svc-{id}'] },
    { args: ['tasks', 'metrics', 'svc-{id}'], numbers: true },
    { args: ['tasks', 'exec', '--exec-id', 'e1', 'svc-{id}', 'echo', 'from exec'] },
    { args: ['tasks', 'exec', '--exec-id', 'e2', 'svc-{id}', 'sh', '-c', 'exit 4'] },
    { args: ['tasks', 'exec', '--exec-id', 'e3', '--user', 'nobody', 'svc-{id}', 'id'] },
    { args: ['tasks', 'exec', 'svc-{id}', 'true'] },
    { args: ['tasks', 'delete', 'svc-{id}'] },
    { args: ['containers', 'rm', 'svc-{id}'] },
    { args: ['tasks', 'pause', 'svc-{id}'] },
    { args: ['tasks', 'resume', 'svc-{id}'] },
    { args: ['tasks', 'kill', '-s', 'KILL', 'svc-{id}'] },
    { args: ['tasks', 'ls'], waitStopped: 'svc-{id}' },
    { args: ['tasks', 'delete', 'svc-{id}'] },
    { args: ['containers', 'rm', 'svc-{id}', 'full-{id}'] },
    // run -d, then kill -a with the image's stop signal, delete.
    { args: ['run', '-d', '{img}', 'det-{id}', 'sleep', '1000'] },
    { args: ['tasks', 'kill', '-a', '-s', '9', 'det-{id}'] },
    { args: ['tasks', 'delete', '-f', 'det-{id}'] },
    { args: ['containers', 'delete', 'det-{id}'] },
    // Attached later to a detached task: its output, its exit code, the task deleted. The
    // task waits 5 s before it prints, so that the attach (a new client process, slow to start
    // on a loaded machine) is there first; with 2 s ctr-ts once came late and saw no output.
    { args: ['run', '-d', '{img}', 'att-{id}', 'sh', '-c', 'sleep 5; echo late; exit 6'] },
    { args: ['tasks', 'attach', 'att-{id}'] },
    { args: ['tasks', 'ls'] },
    { args: ['containers', 'rm', 'att-{id}'] },
    // Bad input: one line, a non-zero exit.
    { args: ['run', '--rm', 'nope.example/none:1', 'bad-{id}', 'true'] },
    { args: ['run', '--rm', '{img}'] },
    { args: ['run', '--rm', '-d', '{img}', 'x-{id}'] },
    { args: ['containers', 'info', 'nope-{id}'] },
    { args: ['containers', 'rm', 'nope-{id}'] },
    { args: ['tasks', 'kill', 'nope-{id}'] },
    { args: ['tasks', 'ps', 'nope-{id}'] },
    { args: ['tasks', 'kill', '-s', 'NOPE', 'nope-{id}'] },
    { args: ['containers', 'ls'] },
    { args: ['tasks', 'ls'] },
  ];
}

/** Fifo directories under containerd's fifo root holding fifos of `tag`'s containers. */
function fifosOf(tag: string): string[] {
  const out: string[] = [];
  for (const d of existsSync(FIFO_ROOT) ? readdirSync(FIFO_ROOT) : []) {
    let files: string[] = [];
    try {
      files = readdirSync(join(FIFO_ROOT, d));
    } catch {}
    if (files.some((f) => f.includes(tag))) out.push(join(FIFO_ROOT, d));
  }
  return out;
}

describe('ctr-ts run, containers, tasks: the same session as ctr on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let image: ImageSource;
  let hostDir: string;
  let daemons: Daemon[] = [];

  beforeAll(async () => {
    image = await serveBusybox();
    [ts, ref] = await Promise.all([startDaemon(), startReference()]);
    daemons = [
      { name: 'containerd-ts', socket: ts.socket, namespaces: { ctr: `runts-go-${pid}`, 'ctr-ts': `runts-ts-${pid}` } },
      { name: 'containerd', socket: ref.socket, namespaces: { ctr: `runref-go-${pid}`, 'ctr-ts': `runref-ts-${pid}` } },
    ];
    for (const d of daemons) for (const ns of Object.values(d.namespaces)) await pullInto(d.socket, ns, image.ref);
    hostDir = await mkdtemp(join(tmpdir(), 'ctr-ts-run-'));
    await writeFile(join(hostDir, 'hello'), 'hello from the host\n');
  }, 180_000);

  afterAll(async () => {
    const names = ['echo', 'exit', 'env', 'ro', 'bind', 'net', 'lim', 'full', 'plain', 'cfg', 'att', 'svc', 'det', 'bad', 'x', 'tty', 'ttyd', 'hi', 'three', 'cat', 'miss', 'lib', 'shim'];
    for (const d of daemons) {
      for (const client of ['ctr', 'ctr-ts'] as const) {
        await removeContainers(
          d.socket,
          d.namespaces[client],
          names.map((n) => `${n}-${tagOf(client)}`),
        );
      }
    }
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
    if (hostDir) await rm(hostDir, { recursive: true, force: true });
  }, 120_000);

  it('ctr-ts run --rm prints the output and passes the exit code through', async () => {
    for (const d of daemons) {
      const ns = d.namespaces['ctr-ts'];
      const hi = await run(ctrTs, ['-a', d.socket, '-n', ns, 'run', '--rm', image.ref, `hi-${tagOf('ctr-ts')}`, 'echo', 'hi'], { input: '' });
      expect(hi, d.name).toEqual({ code: 0, stdout: 'hi\n', stderr: '' });
      const three = await run(ctrTs, ['-a', d.socket, '-n', ns, 'run', '--rm', image.ref, `three-${tagOf('ctr-ts')}`, 'sh', '-c', 'echo out; echo err >&2; exit 3'], {
        input: '',
      });
      expect(three, d.name).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
      const stdin = await run(ctrTs, ['-a', d.socket, '-n', ns, 'run', '--rm', image.ref, `cat-${tagOf('ctr-ts')}`, 'cat'], { input: 'piped in\n' });
      expect(stdin, d.name).toEqual({ code: 0, stdout: 'piped in\n', stderr: '' });
      // A task that cannot be created: one line, exit 1, and (unlike ctr) no container left.
      const missing = await run(ctrTs, ['-a', d.socket, '-n', ns, 'run', '--rm', image.ref, `miss-${tagOf('ctr-ts')}`, '/bin/nonexistent'], { input: '' });
      expect(missing.code, d.name).toBe(1);
      expect(missing.stderr.trim().split('\n'), d.name).toHaveLength(1);
      expect(missing.stderr, d.name).toContain('/bin/nonexistent');
      const listed = await run(ctrTs, ['-a', d.socket, '-n', ns, 'containers', 'ls', '-q']);
      expect(listed.stdout, d.name).toBe('');
    }
  }, 120_000);

  it('the same session prints the same with ctr and ctr-ts on both daemons', async () => {
    for (const d of daemons) {
      const steps = session(hostDir);
      const outputs: Array<{ step: string; ctr: string; ctrTs: string }> = [];
      for (const step of steps) {
        if (step.waitStopped) {
          await waitStopped('ctr', d, step.waitStopped, image.ref);
          await waitStopped('ctr-ts', d, step.waitStopped, image.ref);
        }
        const a = await runStep('ctr', d, step, image.ref);
        const b = await runStep('ctr-ts', d, step, image.ref);
        outputs.push({ step: step.args.join(' '), ctr: normalize(a, 'ctr', d, step), ctrTs: normalize(b, 'ctr-ts', d, step) });
      }
      // Every differing step is listed (ctr's output, then ctr-ts's).
      const differing = outputs.filter((o) => o.ctrTs !== o.ctr).map((o) => `${d.name}: ${o.step}\n${o.ctr}\n≠\n${o.ctrTs}`);
      expect(differing).toEqual([]);
    }
    const tsDaemon = daemons[0]!;
    expect(await leftovers(ts, tsDaemon.namespaces['ctr-ts'], [])).toEqual([]);
    expect(fifosOf(tagOf('ctr-ts'))).toEqual([]);
  }, 600_000);

  it('run -t and tasks exec -t run the process on a pty, as ctr does', async () => {
    for (const d of daemons) {
      const inPty = (client: Client, command: string) => {
        const bin = client === 'ctr' ? 'ctr' : ctrTs;
        return run('script', ['-qec', `${bin} -a ${d.socket} -n ${d.namespaces[client]} ${command.replaceAll('{id}', tagOf(client))}`, '/dev/null'], {
          timeoutMs: 60_000,
        });
      };
      // The processes sleep first: ctr logs an error when one is gone before its pty is resized.
      for (const command of [
        `run --rm -t ${image.ref} tty-{id} sh -c 'sleep 1; tty; stty size; exit 5'`,
        `run -d -t ${image.ref} ttyd-{id} sleep 1000`,
        `tasks exec -t --exec-id t1 ttyd-{id} sh -c 'sleep 1; tty; echo $TERM'`,
        'tasks kill -s KILL ttyd-{id}',
      ]) {
        const a = await inPty('ctr', command);
        const b = await inPty('ctr-ts', command);
        expect(normalize(b, 'ctr-ts', d, { args: [] }), `${d.name}: ${command}`).toBe(normalize(a, 'ctr', d, { args: [] }));
      }
      for (const client of ['ctr', 'ctr-ts'] as const) {
        await waitStopped(client, d, 'ttyd-{id}', image.ref);
        await runStep(client, d, { args: ['tasks', 'delete', 'ttyd-{id}'] }, image.ref);
        await runStep(client, d, { args: ['containers', 'rm', 'ttyd-{id}'] }, image.ref);
      }
      const first = await inPty('ctr-ts', `run --rm -t ${image.ref} tty-{id} tty`);
      expect(first.stdout, d.name).toContain('/dev/pts/0');
    }
    expect(await leftovers(ts, daemons[0]!.namespaces['ctr-ts'], [])).toEqual([]);
    expect(fifosOf(tagOf('ctr-ts'))).toEqual([]);
  }, 180_000);

  it('--help of run, containers, tasks, oci and shim commands is ctr’s', async () => {
    const commands = [
      ['run'],
      ['containers', 'create'],
      ['containers', 'info'],
      ['containers', 'label'],
      ['containers', 'rm'],
      ['tasks', 'start'],
      ['tasks', 'kill'],
      ['tasks', 'ps'],
      ['tasks', 'exec'],
      ['tasks', 'delete'],
      ['tasks', 'pause'],
      ['tasks', 'resume'],
      ['tasks', 'metrics'],
      ['tasks', 'attach'],
      ['oci'],
      ['oci', 'spec'],
      ['shim', 'state'],
    ];
    for (const args of commands) {
      const a = await run('ctr', [...args, '--help']);
      const b = await run(ctrTs, [...args, '--help']);
      expect({ ...b, stdout: b.stdout.replace(/\bctr-ts (?=[a-z])/g, 'ctr ') }, args.join(' ')).toEqual(a);
    }
  });

  it('the client library runs a container and reports its events on both daemons', async () => {
    for (const d of daemons) {
      const ns = d.namespaces['ctr-ts'];
      const id = `lib-${tagOf('ctr-ts')}`;
      const conn = new Connection(d.socket, { namespace: ns });
      const ac = new AbortController();
      const topics: string[] = [];
      const exits: unknown[] = [];
      const following = (async () => {
        for await (const e of subscribeEvents(conn, [`namespace==${ns}`], { signal: ac.signal })) {
          topics.push(e.topic);
          if (e.topic === '/tasks/exit') exits.push(e.event);
        }
      })().catch(() => {});
      try {
        await new Promise((r) => setTimeout(r, 200));
        await createContainer(conn, ns, id, { image: image.ref, args: ['sh', '-c', 'echo lib; exit 2'], cpuShares: 1024 });
        const out = new PassThrough();
        let text = '';
        out.on('data', (c: Buffer) => (text += c.toString()));
        const io = await FifoIO.create(id, { streams: { stdout: out } });
        const task = await Task.create(conn, id, io.paths);
        io.start();
        const exited = task.wait();
        await task.start();
        const status = await exited;
        await io.wait();
        await io.close();
        expect(existsSync(io.dir), d.name).toBe(false);
        expect((await task.delete()).code, d.name).toBe(2);
        await deleteContainer(conn, id);
        expect({ code: status.code, text }, d.name).toEqual({ code: 2, text: 'lib\n' });
        for (let i = 0; i < 50 && !topics.includes('/containers/delete'); i++) await new Promise((r) => setTimeout(r, 100));
        // The snapshot's prepare and remove come in between.
        expect(topics.filter((t) => !t.startsWith('/snapshot/')), d.name).toEqual(['/containers/create', '/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete', '/containers/delete']);
        expect(topics.filter((t) => t.startsWith('/snapshot/')), d.name).toEqual(['/snapshot/prepare', '/snapshot/remove']);
        expect(exits, d.name).toEqual([expect.objectContaining({ containerId: id, exitStatus: 2 })]);
      } finally {
        ac.abort();
        await following;
        conn.close();
      }
    }
  }, 120_000);

  it('oci spec prints what ctr prints, byte for byte', async () => {
    for (const ns of ['default', `spec-${pid}`]) {
      const a = await run('ctr', ['-n', ns, 'oci', 'spec']);
      const b = await run(ctrTs, ['-n', ns, 'oci', 'spec']);
      expect(b).toEqual(a);
      expect(a.code).toBe(0);
    }
  });

  it('shim state answers from the shim of a running task', async () => {
    for (const d of daemons) {
      const ns = d.namespaces['ctr-ts'];
      const id = `shim-${tagOf('ctr-ts')}`;
      const c = (...args: string[]) => run(ctrTs, ['-a', d.socket, '-n', ns, ...args], { input: '' });
      expect((await c('run', '-d', image.ref, id, 'sleep', '1000')).code).toBe(0);
      const ours = await c('shim', '--id', id, 'state');
      const theirs = await run('ctr', ['-a', d.socket, '-n', ns, 'shim', '--id', id, 'state']);
      expect(normalize(ours, 'ctr-ts', d, { args: [] }), d.name).toBe(normalize(theirs, 'ctr-ts', d, { args: [] }));
      expect(JSON.parse(ours.stdout).status, d.name).toBe(2);
      await c('tasks', 'kill', '-s', 'KILL', id);
      await waitStopped('ctr-ts', d, id, image.ref);
      expect((await c('tasks', 'delete', id)).code).toBe(0);
      expect((await c('containers', 'rm', id)).code).toBe(0);
      const gone = await c('shim', '--id', id, 'state');
      expect(gone.code).not.toBe(0);
      expect(gone.stderr.trim().split('\n')).toHaveLength(1);
    }
  }, 120_000);

  it('a daemon that is not running: one line and a non-zero exit', async () => {
    const r = await run(ctrTs, ['-a', join(tmpdir(), 'none.sock'), '--connect-timeout', '1s', 'run', '--rm', image.ref, 'x', 'true'], { input: '' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('failed to dial');
  });
});
