// The daemon's ttrpc socket: where it is, what it serves (io.containerd.ttrpc.v1 plugins
// and gRPC plugins with ttrpc services), its mode, and the same socket rules as gRPC.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { daemonConfigSchema } from '@containerd-ts/config';
import { GrpcCode } from '@containerd-ts/errdefs';
import { definePlugin } from '@containerd-ts/plugin';
import { TtrpcClient, type TtrpcStatusError } from '@containerd-ts/ttrpc';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDaemon } from './daemon.js';
import { createLogger } from './logger.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

const ttrpcPlugin = definePlugin({
  type: 'io.containerd.ttrpc.v1',
  id: 'echo',
  init: () => ({
    ttrpcServices: [{ name: 'test.Echo', methods: { Echo: (req: Uint8Array) => enc.encode(`echo:${dec.decode(req)}`) } }],
  }),
});
// a gRPC plugin that also offers a ttrpc service (as containerd's events plugin)
const grpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'both',
  init: () => ({
    services: [],
    ttrpcServices: [{ name: 'test.Both', methods: { Ping: () => enc.encode('pong') } }],
  }),
});

let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'daemon-ttrpc-'));
});
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
  await rm(dir, { recursive: true, force: true });
});

// Each daemon has a root and state of its own (a root is held by one daemon at a time).
function daemonAt(grpcAddress: string, ttrpcAddress = '') {
  const name = basename(grpcAddress);
  const config = daemonConfigSchema.parse({
    root: join(dir, `root-${name}`),
    state: join(dir, `state-${name}`),
    grpc: { address: grpcAddress },
    ttrpc: { address: ttrpcAddress },
  });
  const daemon = createDaemon({ plugins: [ttrpcPlugin, grpcPlugin], config, log: createLogger('fatal') });
  cleanups.push(() => daemon.stop());
  return daemon;
}

describe('the ttrpc socket', () => {
  it('is served at <grpc address>.ttrpc with mode 0660, offers the plugins’ ttrpc services, and is removed on stop', async () => {
    const daemon = daemonAt(join(dir, 'd.sock'));
    await daemon.start();
    const path = join(dir, 'd.sock.ttrpc');
    expect(daemon.ttrpcAddress).toBe(path);
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    const client = await TtrpcClient.connect(path);
    cleanups.push(() => client.close());
    expect(dec.decode(await client.call('test.Echo', 'Echo', enc.encode('x')))).toBe('echo:x');
    expect(dec.decode(await client.call('test.Both', 'Ping', new Uint8Array(0)))).toBe('pong');
    const unknown = (await client.call('containerd.task.v2.Task', 'State', new Uint8Array(0)).catch((e: unknown) => e)) as TtrpcStatusError;
    expect(unknown.code).toBe(GrpcCode.UNIMPLEMENTED);
    expect(unknown.message).toBe('service containerd.task.v2.Task');
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    await daemon.stop();
    await closed;
    expect(existsSync(path)).toBe(false);
    expect(existsSync(join(dir, 'd.sock'))).toBe(false);
  });

  it('honours [ttrpc] address, replaces a stale socket and refuses a live one', async () => {
    const ttrpcPath = join(dir, 'sub', 'custom.ttrpc');
    const first = daemonAt(join(dir, 'a.sock'), ttrpcPath);
    await first.start();
    expect(existsSync(ttrpcPath)).toBe(true);
    expect(existsSync(join(dir, 'a.sock.ttrpc'))).toBe(false);

    // another daemon (its own gRPC socket) on the same ttrpc socket: refused, the live socket kept
    const second = daemonAt(join(dir, 'b.sock'), ttrpcPath);
    await expect(second.start()).rejects.toThrow(`another daemon is already serving on ${ttrpcPath}`);
    await second.stop();
    expect(existsSync(ttrpcPath)).toBe(true);
    const client = await TtrpcClient.connect(ttrpcPath);
    cleanups.push(() => client.close());
    expect(dec.decode(await client.call('test.Both', 'Ping', new Uint8Array(0)))).toBe('pong');
    await first.stop();
    expect(existsSync(ttrpcPath)).toBe(false);

    // a stale socket (nothing answers) left by a daemon killed with SIGKILL is replaced
    const killed = spawn(
      process.execPath,
      ['-e', "require('node:net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", join(dir, 'c.sock.ttrpc')],
      { stdio: 'ignore' },
    );
    await new Promise((r) => killed.once('exit', r));
    expect((await stat(join(dir, 'c.sock.ttrpc'))).isSocket()).toBe(true);
    const third = daemonAt(join(dir, 'c.sock'));
    await third.start();
    const c3 = await TtrpcClient.connect(join(dir, 'c.sock.ttrpc'));
    cleanups.push(() => c3.close());
    expect(dec.decode(await c3.call('test.Echo', 'Echo', enc.encode('y')))).toBe('echo:y');
  });
});
