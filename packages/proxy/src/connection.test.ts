// Lazy connection: a proxy that is not up yet, goes down or restarts, against a real
// server on a real unix socket.
import { mkdtemp, rm } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKind, isUnavailable } from '@containerd-ts/errdefs';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProxyConnection, type ProxyStatus } from './connection.js';
import { snapshotsProxyService } from './server.js';
import { RemoteSnapshotter } from './snapshotter.js';
import { type TestServer, testServer } from './testing/server.js';

const ctx = { namespace: 'default' };

let dir: string;
let native: NativeSnapshotter;
let server: TestServer;
const conns: ProxyConnection[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proxy-conn-'));
  native = await NativeSnapshotter.open(join(dir, 'native'));
  server = testServer(join(dir, 'proxy.sock'), () => [snapshotsProxyService(native)]);
});
afterEach(async () => {
  for (const c of conns.splice(0)) c.close();
  await server.stop();
  await native.close();
  await rm(dir, { recursive: true, force: true });
});

function remote(connectTimeoutMs: number): { sn: RemoteSnapshotter; conn: ProxyConnection; states: ProxyStatus[] } {
  const conn = new ProxyConnection({ name: 'prox', address: server.socket, connectTimeoutMs });
  conns.push(conn);
  const states: ProxyStatus[] = [];
  conn.onStatus((s) => states.push(s));
  return { sn: new RemoteSnapshotter(conn, 'prox'), conn, states };
}

const failure = (p: Promise<unknown>) => p.then(
  () => {
    throw new Error('expected the call to fail');
  },
  (err: unknown) => err as Error,
);

describe('ProxyConnection', () => {
  it('connects lazily: a call made before the proxy is up succeeds once it comes up', async () => {
    const { sn, conn } = remote(5000);
    expect(conn.status.state).toBe('connecting');
    const pending = sn.prepare(ctx, 'early');
    await new Promise((r) => setTimeout(r, 300));
    expect(conn.status).toMatchObject({ state: 'unavailable', lastError: `connect unix://${server.socket}: no such file or directory` });
    await server.start();
    const mounts = await pending;
    expect(mounts).toHaveLength(1);
    expect(mounts[0]?.type).toBe('bind');
    expect(conn.status).toEqual({ state: 'ready', lastError: '' });
    expect((await native.stat(ctx, 'early')).kind).toBe('Active');
  });

  it('fails with unavailable naming the proxy and its address while the proxy is down, and works again after a restart', async () => {
    const { sn, conn, states } = remote(300);
    await server.start();
    await sn.prepare(ctx, 'a');
    expect(conn.status.state).toBe('ready');

    await server.stop();
    const started = Date.now();
    const err = await failure(sn.stat(ctx, 'a'));
    expect(isUnavailable(err)).toBe(true);
    expect(err.message).toBe(`proxy plugin prox: connect unix://${server.socket}: no such file or directory: unavailable`);
    // bounded: the retry window, not forever
    expect(Date.now() - started).toBeLessThan(2000);
    expect(conn.status).toEqual({ state: 'unavailable', lastError: `connect unix://${server.socket}: no such file or directory` });

    await server.start();
    expect((await sn.stat(ctx, 'a')).name).toBe('a');
    expect(conn.status.state).toBe('ready');
    // connecting → ready, then (proxy down) connecting/unavailable while retrying, then ready again
    const seen = states.map((s) => s.state);
    expect(seen.slice(0, 3)).toEqual(['connecting', 'ready', 'connecting']);
    expect(seen).toContain('unavailable');
    expect(seen.at(-1)).toBe('ready');
  });

  it('reconnects when the proxy restarted between two calls', async () => {
    const { sn } = remote(1000);
    await server.start();
    await sn.prepare(ctx, 'b');
    await server.stop();
    await server.start();
    expect((await sn.stat(ctx, 'b')).kind).toBe('Active');
  });

  it('names the proxy when it goes away during a call', async () => {
    // A snapshotter whose stat takes a while, so the server can be stopped mid-call.
    const slow = new Proxy(native, {
      get(target, prop) {
        if (prop === 'stat') return () => new Promise(() => {});
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const slowServer = testServer(join(dir, 'slow.sock'), () => [snapshotsProxyService(slow)]);
    await slowServer.start();
    const conn = new ProxyConnection({ name: 'prox', address: slowServer.socket, connectTimeoutMs: 200 });
    conns.push(conn);
    const pending = failure(new RemoteSnapshotter(conn, 'prox').stat(ctx, 'x'));
    await new Promise((r) => setTimeout(r, 200));
    await slowServer.stop();
    const err = await pending;
    expect(isUnavailable(err)).toBe(true);
    expect(err.message).toMatch(new RegExp(`^proxy plugin prox: unix://${slowServer.socket}: .+: unavailable$`));
    expect(conn.status.state).toBe('unavailable');
  });

  it('reports a socket left by a crashed proxy as connection refused', async () => {
    // A proxy killed with SIGKILL leaves its socket file behind.
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(server.socket)}, () => console.log('up'))`]);
    await new Promise<void>((r) => child.stdout.once('data', () => r()));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const { sn } = remote(200);
    const err = await failure(sn.stat(ctx, 'x'));
    expect(isUnavailable(err)).toBe(true);
    expect(err.message).toBe(`proxy plugin prox: connect unix://${server.socket}: connection refused: unavailable`);
    // and it comes back on the same path
    await server.start();
    expect(isUnavailable(await failure(sn.stat(ctx, 'x')))).toBe(false);
  });

  it('honours the request abort signal while waiting for the proxy', async () => {
    const { sn } = remote(10_000);
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 200);
    const err = await failure(sn.stat({ ...ctx, signal: controller.signal }, 'x'));
    expect(isKind(err, 'canceled')).toBe(true);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('probe() shows the state before any call', async () => {
    const { conn } = remote(1000);
    conn.probe();
    await expect.poll(() => conn.status.state).toBe('unavailable');
    await server.start();
    conn.probe();
    await expect.poll(() => conn.status.state).toBe('ready');
  });

  it('keeps a server-side unavailable error as it is while connected', async () => {
    const { sn } = remote(1000);
    await server.start();
    // Unknown snapshotter errors keep their class and message (not rewritten as a connection problem).
    const err = await failure(sn.stat(ctx, 'missing'));
    expect(isUnavailable(err)).toBe(false);
    expect(err.message).toMatch(/not found/);
  });
});
