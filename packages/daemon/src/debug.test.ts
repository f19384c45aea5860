// The debug endpoint on its own: the socket, /debug/vars, and profiles in the (gzipped) pprof format.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { definePlugin, PluginRegistry } from '@containerd-ts/plugin';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type DebugEndpoint, serveDebug } from './debug.js';
import { createLogger } from './logger.js';

function get(socketPath: string, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

let dir = '';
let endpoint: DebugEndpoint | undefined;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'debug-'));
});
afterEach(async () => {
  await endpoint?.close();
  endpoint = undefined;
  await rm(dir, { recursive: true, force: true });
});

describe('serveDebug', () => {
  it('serves /debug/vars with every plugin and pprof profiles, and removes its socket on close', async () => {
    const registry = new PluginRegistry({
      definitions: [
        definePlugin({
          type: 'io.containerd.testing.v1',
          id: 'fine',
          init: (ctx) => {
            ctx.meta.exports.where = 'here';
            return {};
          },
        }),
        definePlugin({
          type: 'io.containerd.testing.v1',
          id: 'broken',
          init: () => {
            throw new Error('it broke');
          },
        }),
      ],
      configFor: () => undefined,
      disabled: [],
      required: [],
      daemon: { root: join(dir, 'root'), state: join(dir, 'state'), address: '', ttrpcAddress: '', version: 'v', revision: 'r' },
      log: createLogger('fatal'),
    });
    await registry.initAll();
    const address = join(dir, 'debug.sock');
    endpoint = await serveDebug({ address, uid: 0, gid: 0, plugins: () => registry.list() });
    expect((await stat(address)).mode & 0o777).toBe(0o660);
    const vars = JSON.parse((await get(address, '/debug/vars')).body.toString()) as { plugins: Array<{ id: string; status: string; error?: string; exports: object }> };
    expect(vars.plugins).toEqual([
      expect.objectContaining({ id: 'fine', status: 'ok', exports: { where: 'here' } }),
      expect.objectContaining({ id: 'broken', status: 'error', error: 'it broke' }),
    ]);
    const heap = await get(address, '/debug/pprof/heap');
    expect(heap.status).toBe(200);
    // gzipped protobuf: a Profile whose string table names the sample types
    expect(gunzipSync(heap.body).toString('latin1')).toContain('space');
    const [a, b] = await Promise.all([get(address, '/debug/pprof/profile?seconds=0.3'), get(address, '/debug/pprof/profile?seconds=0.3')]);
    expect([a.status, b.status].sort()).toEqual([200, 500]);
    expect((a.status === 500 ? a : b).body.toString()).toBe('Could not enable CPU profiling: cpu profiling already in use\n');
    expect(gunzipSync((a.status === 200 ? a : b).body).toString('latin1')).toContain('wall');
    await endpoint.close();
    endpoint = undefined;
    await expect(stat(address)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
