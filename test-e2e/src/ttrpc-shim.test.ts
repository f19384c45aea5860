// Issue 9: our ttrpc client against Debian's real containerd-shim-runc-v2, started as
// containerd 1.6 starts it (`start` in the bundle, TTRPC_ADDRESS, the `log` fifo), then
// Connect, State of a task that does not exist, Shutdown, and the shim's own `delete`.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { DeleteResponse, TaskService } from '@containerd-ts/api/runtime/task';
import { GrpcCode, isNotFound, toGrpcStatus } from '@containerd-ts/errdefs';
import { mknod } from '@containerd-ts/sys';
import { TtrpcClient, TtrpcStatusError, isTtrpcClosed, serviceClient } from '@containerd-ts/ttrpc';
import { afterEach, describe, expect, it } from 'vitest';

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

describe('ttrpc client against containerd-shim-runc-v2', () => {
  it('starts a shim as containerd 1.6 does, calls Connect and State, shuts it down and deletes it', async () => {
    const tmp = await mkdtemp('/tmp/ttrpc-shim-e2e-');
    cleanups.push(() => rm(tmp, { recursive: true, force: true }));
    const namespace = `ttrpc-e2e-${process.pid}`;
    const id = `shim-${Date.now().toString(36)}`;
    const bundle = join(tmp, namespace, id);
    await mkdir(bundle, { recursive: true });
    const grpcAddress = join(tmp, 'containerd.sock');
    const runcRoot = join(tmp, 'runc');
    // what the shim reads: the spec (start), the runtime binary and its options (delete);
    // runc's root under the test's own directory, so nothing is left in /run/containerd/runc
    await writeFile(join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2-dev' }));
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
    // containerd 1.6's shim.SocketAddress: sha256 of <grpc address>/<namespace>/<id> under /run/containerd/s
    const hash = createHash('sha256').update(join(grpcAddress, namespace, id)).digest('hex');
    expect(address).toBe(`unix:///run/containerd/s/${hash}`);
    const socketPath = address.slice('unix://'.length);
    expect(readFileSync(join(bundle, 'address'), 'utf8')).toBe(address);
    cleanups.push(() => rm(socketPath, { force: true }));

    const client = await TtrpcClient.connect(address);
    cleanups.push(() => client.close());
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    const task = serviceClient(client, TaskService);
    const opts = { metadata: { 'containerd-namespace-ttrpc': namespace }, timeoutMs: 10_000 };

    const connected = await task.connect({ id }, opts);
    const shimPid = connected.shimPid;
    cleanups.push(() => {
      if (alive(shimPid)) process.kill(shimPid, 'SIGKILL');
    });
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
    expect(response.exitedAt).toBeInstanceOf(Date);
    expect(shimLog).toContain('starting signal loop');
    // runc ran with the bundle's Root (it made <root>/<namespace>), holding no container;
    // nothing went to /run/containerd/runc
    expect(await readdir(join(runcRoot, namespace))).toEqual([]);
    expect(existsSync(`/run/containerd/runc/${namespace}`)).toBe(false);
  });
});
