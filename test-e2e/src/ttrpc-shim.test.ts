// Issue 9: our ttrpc client against Debian's real containerd-shim-runc-v2, started as
// containerd 1.6 starts it (`start` in the bundle, TTRPC_ADDRESS, the `log` fifo): Connect,
// State of a task that does not exist, Shutdown and the shim's own `delete`; then a real
// runc task driven over ttrpc, whose events the shim (a Go ttrpc client) forwards to
// containerd-ts's ttrpc socket, where `ctr events` sees them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync, openSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packAny } from '@containerd-ts/api';
import { Options as RuncOptions } from '@containerd-ts/api/runtime/runc-options';
import { DeleteResponse, TaskService } from '@containerd-ts/api/runtime/task';
import { GrpcCode, isNotFound, toGrpcStatus } from '@containerd-ts/errdefs';
import { mknod } from '@containerd-ts/sys';
import { TtrpcClient, TtrpcStatusError, isTtrpcClosed, serviceClient } from '@containerd-ts/ttrpc';
import { afterEach, describe, expect, it } from 'vitest';
import { ctr, run, startDaemon } from './harness.js';

const SHIM = 'containerd-shim-runc-v2';
const S_IFIFO = 0o010000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Exec {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs the shim binary as containerd's shim.Command does: own process group, GOMAXPROCS=2, TTRPC_ADDRESS. */
function runShim(cwd: string, args: string[], env: Record<string, string>): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(SHIM, args, { cwd, env: { ...process.env, GOMAXPROCS: '2', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (err) {
      console.error('cleanup failed:', err);
    }
  }
});

/** A shim started by `start`, as containerd 1.6 runs it, with its bundle and log fifo. */
interface StartedShim {
  namespace: string;
  id: string;
  bundle: string;
  /** The daemon gRPC address the shim was given (-address); TTRPC_ADDRESS is `<it>.ttrpc`. */
  grpcAddress: string;
  runcRoot: string;
  address: string;
  socketPath: string;
  common: string[];
  env: Record<string, string>;
  log(): string;
}

/**
 * Makes `<tmp>/<namespace>/<id>` a bundle (spec, runtime binary, runc options with a runc
 * root under `tmp`, the `log` fifo containerd reads) and runs `shim start` in it.
 */
async function startShim(tmp: string, namespace: string, id: string, grpcAddress: string, spec: object): Promise<StartedShim> {
  const bundle = join(tmp, namespace, id);
  await mkdir(bundle, { recursive: true });
  const runcRoot = join(tmp, 'runc');
  // what the shim reads: the spec (start), the runtime binary and its options (delete);
  // runc's root under the test's own directory, so nothing is left in /run/containerd/runc
  await writeFile(join(bundle, 'config.json'), JSON.stringify(spec));
  await writeFile(join(bundle, 'runtime'), 'runc');
  await writeFile(join(bundle, 'options.json'), JSON.stringify({ root: runcRoot }));

  // containerd reads the shim's log from the `log` fifo in the bundle; the shim blocks
  // opening it until a reader is there. O_RDWR: opening never blocks, reading never sees EOF.
  mknod(join(bundle, 'log'), S_IFIFO | 0o700);
  const logFd = openSync(join(bundle, 'log'), constants.O_RDWR | constants.O_NONBLOCK);
  const logStream = new Socket({ fd: logFd, readable: true, writable: false });
  let shimLog = '';
  logStream.on('data', (d: Buffer) => {
    shimLog += d;
  });
  cleanups.push(() => logStream.destroy());

  const common = ['-namespace', namespace, '-address', grpcAddress, '-publish-binary', '/usr/bin/containerd', '-id', id];
  const env = { TTRPC_ADDRESS: `${grpcAddress}.ttrpc` };
  const started = await runShim(bundle, [...common, 'start'], env);
  expect(started.stderr).toBe('');
  expect(started.code).toBe(0);
  const address = started.stdout.toString().trim();
  const socketPath = address.slice('unix://'.length);
  cleanups.push(() => rm(socketPath, { force: true }));
  return { namespace, id, bundle, grpcAddress, runcRoot, address, socketPath, common, env, log: () => shimLog };
}

/** `ctr events` in the background, its lines collected. */
class EventLines {
  readonly lines: string[] = [];
  private readonly child: ReturnType<typeof spawn>;
  private partial = '';
  constructor(socket: string) {
    this.child = spawn('ctr', ['-a', socket, 'events'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.child.stdout?.on('data', (d: Buffer) => {
      const parts = (this.partial + d.toString()).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
    });
  }
  async waitFor(text: string, ms = 10_000): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (this.lines.some((l) => l.includes(text))) return true;
      await sleep(20);
    }
    return false;
  }
  stop(): void {
    this.child.kill('SIGTERM');
  }
}

/** Kills the shim unless it has exited (cleanup on a failed path). */
function killShimAtCleanup(pid: number): void {
  cleanups.push(() => {
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  });
}

describe('ttrpc client against containerd-shim-runc-v2', () => {
  it('starts a shim as containerd 1.6 does, calls Connect and State, shuts it down and deletes it', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'ttrpc-shim-e2e-'));
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    const namespace = `ttrpc-e2e-${process.pid}`;
    const id = `shim-${Date.now().toString(36)}`;
    const grpcAddress = join(tmp, 'containerd.sock');
    const shim = await startShim(tmp, namespace, id, grpcAddress, { ociVersion: '1.0.2-dev' });
    const { address, socketPath, bundle, common, env, runcRoot } = shim;
    // containerd 1.6's shim.SocketAddress: sha256 of <grpc address>/<namespace>/<id> under /run/containerd/s
    const hash = createHash('sha256').update(join(grpcAddress, namespace, id)).digest('hex');
    expect(address).toBe(`unix:///run/containerd/s/${hash}`);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(address);

    const client = await TtrpcClient.connect(address);
    cleanups.push(() => client.close());
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const task = serviceClient(client, TaskService);
    const opts = { metadata: { 'containerd-namespace-ttrpc': namespace }, timeoutMs: 10_000 };

    const connected = await task.connect({ id }, opts);
    const shimPid = connected.shimPid;
    killShimAtCleanup(shimPid);
    expect(shimPid).toBeGreaterThan(1);
    expect(connected.taskPid).toBe(0);
    // the daemonised shim, serving this id (containerd finds its shims by pid this way)
    const argv = readFileSync(`/proc/${shimPid}/cmdline`, 'utf8').split('\0');
    expect(argv[0]).toMatch(/containerd-shim-runc-v2$/);
    expect(argv.slice(argv.indexOf('-id'), argv.indexOf('-id') + 2)).toEqual(['-id', id]);

    // the shim's NotFound passes through with its code and message
    const stateErr = await task.state({ id, execId: '' }, opts).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(stateErr).toBeInstanceOf(TtrpcStatusError);
    expect(isNotFound(stateErr)).toBe(true);
    expect(toGrpcStatus(stateErr)).toEqual({ code: GrpcCode.NOT_FOUND, details: 'container not created: not found' });
    // a service the shim does not have: ttrpc's Unimplemented
    const unknown = await client.call('containerd.task.v2.Nope', 'State', new Uint8Array(0), opts).then(
      () => undefined,
      (err: unknown) => err as TtrpcStatusError,
    );
    expect(unknown?.code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(unknown?.message).toBe('service containerd.task.v2.Nope');
    // 20 calls in flight at once on the shim connection
    const many = await Promise.all(Array.from({ length: 20 }, () => task.connect({ id }, opts)));
    expect(new Set(many.map((c) => c.shimPid))).toEqual(new Set([shimPid]));

    // Shutdown: the shim answers (or is gone before it can: containerd accepts ttrpc's ErrClosed too)
    await task.shutdown({ id, now: false }, opts).catch((err: unknown) => {
      if (!isTtrpcClosed(err)) throw err;
    });
    for (let i = 0; i < 100 && alive(shimPid); i++) await sleep(50);
    expect(alive(shimPid)).toBe(false);
    await closed;
    expect(client.closed).toBe(true);
    expect(existsSync(socketPath)).toBe(false);
    const after = await task.connect({ id }, opts).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isTtrpcClosed(after)).toBe(true);

    // `delete`, as containerd runs it after a shim is gone: a DeleteResponse on stdout
    const deleted = await runShim(bundle, [...common, '-bundle', bundle, 'delete'], env);
    expect(deleted.code, deleted.stderr).toBe(0);
    const response = DeleteResponse.decode(deleted.stdout);
    expect(response.exitStatus).toBe(128 + 9);
    expect(response.exitedAt?.seconds).toBeGreaterThan(0);
    expect(shim.log()).toContain('starting signal loop');
    // runc ran with the bundle's Root (it made <root>/<namespace>), holding no container;
    // nothing went to /run/containerd/runc
    expect(await readdir(join(runcRoot, namespace))).toEqual([]);
    expect(existsSync(`/run/containerd/runc/${namespace}`)).toBe(false);
  });

  it('drives a real runc task over ttrpc; the shim forwards its /tasks/* events to containerd-ts, and `ctr events` shows them', async () => {
    const daemon = await startDaemon();
    cleanups.push(() => daemon.cleanup());
    const tmp = await mkdtemp(join(tmpdir(), 'ttrpc-shim-e2e-'));
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    const namespace = `ttrpc-e2e-task-${process.pid}`;
    const id = `task-${Date.now().toString(36)}`;

    // runc's default spec: busybox sleeping in a rootfs of its own, a cgroup of its own (one
    // level, so runc's delete removes all of it)
    const specDir = join(tmp, 'spec');
    await mkdir(specDir);
    expect((await run('runc', ['spec', '--bundle', specDir])).code).toBe(0);
    const spec = JSON.parse(await readFile(join(specDir, 'config.json'), 'utf8')) as {
      process: { args: string[]; terminal: boolean };
      root: { path: string; readonly: boolean };
      linux: { cgroupsPath?: string };
    };
    spec.process.args = ['/busybox', 'sleep', '60'];
    spec.process.terminal = false;
    spec.linux.cgroupsPath = `/${namespace}-${id}`;

    const follower = new EventLines(daemon.socket);
    cleanups.push(() => follower.stop());
    let ready = false;
    for (let i = 0; i < 50 && !ready; i++) {
      expect((await ctr(daemon.socket, 'namespaces', 'create', `probe${i}`)).code).toBe(0);
      ready = await follower.waitFor(`probe${i}`, 400);
    }
    expect(ready).toBe(true);

    const shim = await startShim(tmp, namespace, id, daemon.socket, spec);
    expect(shim.env.TTRPC_ADDRESS).toBe(`${daemon.socket}.ttrpc`);
    await mkdir(join(shim.bundle, 'rootfs'));
    await copyFile('/bin/busybox', join(shim.bundle, 'rootfs', 'busybox'));
    await chmod(join(shim.bundle, 'rootfs', 'busybox'), 0o755);

    const client = await TtrpcClient.connect(shim.address);
    cleanups.push(() => client.close());
    const task = serviceClient(client, TaskService);
    const opts = { metadata: { 'containerd-namespace-ttrpc': namespace }, timeoutMs: 20_000 };
    const { shimPid } = await task.connect({ id }, opts);
    killShimAtCleanup(shimPid);
    // on a failed path: the container goes with runc's own force delete (its cgroup with it)
    cleanups.push(() => run('runc', ['--root', join(shim.runcRoot, namespace), 'delete', '--force', id]));

    const created = await task.create(
      {
        id,
        bundle: shim.bundle,
        rootfs: [],
        terminal: false,
        stdin: '',
        stdout: '',
        stderr: '',
        checkpoint: '',
        parentCheckpoint: '',
        options: packAny(RuncOptions, RuncOptions.fromPartial({ root: shim.runcRoot })),
      },
      opts,
    );
    expect(created.pid).toBeGreaterThan(1);
    const startedTask = await task.start({ id, execId: '' }, opts);
    expect(startedTask.pid).toBe(created.pid);
    const state = await task.state({ id, execId: '' }, opts);
    expect(state.pid).toBe(created.pid);
    expect(state.bundle).toBe(shim.bundle);
    // an exec id the task does not have: the shim's NotFound passes through
    const noExec = (await task.state({ id, execId: 'nope' }, opts).then(
      () => undefined,
      (e: unknown) => e,
    )) as TtrpcStatusError | undefined;
    expect(noExec?.code).toBe(GrpcCode.NOT_FOUND);
    expect(noExec?.message).toBe('process does not exist nope: not found');

    const waiting = task.wait({ id, execId: '' }, opts);
    await task.kill({ id, execId: '', signal: 9, all: false }, opts);
    expect((await waiting).exitStatus).toBe(137);
    const deleted = await task.delete({ id, execId: '' }, opts);
    expect(deleted.exitStatus).toBe(137);
    expect(deleted.pid).toBe(created.pid);
    await task.shutdown({ id, now: false }, opts).catch((err: unknown) => {
      if (!isTtrpcClosed(err)) throw err;
    });
    for (let i = 0; i < 100 && alive(shimPid); i++) await sleep(50);
    expect(alive(shimPid)).toBe(false);
    expect(existsSync(shim.socketPath)).toBe(false);

    // what the shim forwarded over ttrpc, as `ctr events` prints it from containerd-ts
    expect(await follower.waitFor(`${namespace} /tasks/delete`)).toBe(true);
    const ours = follower.lines.filter((l) => l.includes(` ${namespace} /`));
    expect(ours.map((l) => l.split(' ')[5])).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(ours[0]).toContain(`{"container_id":"${id}","bundle":"${shim.bundle}"`);
    expect(ours[2]).toContain(`"pid":${created.pid},"exit_status":137`);
    // nothing of the container left: no runc state, no cgroup
    expect(await readdir(join(shim.runcRoot, namespace))).toEqual([]);
    expect(existsSync(`/sys/fs/cgroup/memory/${namespace}-${id}`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/pids/${namespace}-${id}`)).toBe(false);
    expect(existsSync(`/sys/fs/cgroup/unified/${namespace}-${id}`)).toBe(false);
  });
});
