// RemoteSnapshotter passes the snapshotter conformance suite against a native snapshotter
// served over a real unix socket, and sends containerd's proxy requests.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SnapshotsService } from '@containerd-ts/api/services/snapshots';
import { isNotFound } from '@containerd-ts/errdefs';
import { NativeSnapshotter } from '@containerd-ts/snapshotter-native';
import { snapshotterSuite } from '@containerd-ts/snapshots/testsuite';
import type { RequestContext } from '@containerd-ts/namespaces';
import { MNT_DETACH, mount, umount2 } from '@containerd-ts/sys';
import { type ServerUnaryCall, Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProxyConnection } from './connection.js';
import { snapshotsProxyService } from './server.js';
import { RemoteSnapshotter } from './snapshotter.js';
import { testServer } from './testing/server.js';

// Native copies whole parents; the suite runs on a tmpfs so its 128-layer case takes seconds.
describe('RemoteSnapshotter over a native snapshotter', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'proxy-suite-'));
    mount('tmpfs', dir, 'tmpfs', 0, 'size=1g,mode=0755');
  });
  afterAll(async () => {
    umount2(dir, MNT_DETACH);
    await rm(dir, { recursive: true, force: true });
  });

  snapshotterSuite(
    'Proxy',
    async ({ root }) => {
      const native = await NativeSnapshotter.open(join(root, 'native'));
      const server = testServer(join(root, 'proxy.sock'), () => [snapshotsProxyService(native)]);
      await server.start();
      const conn = new ProxyConnection({ name: 'prox', address: server.socket });
      return {
        snapshotter: new RemoteSnapshotter(conn, 'prox'),
        async cleanup() {
          conn.close();
          await server.stop();
          await native.close();
        },
      };
    },
    { tmpDir: () => dir },
  );
});

describe('RemoteSnapshotter requests', () => {
  it('carry the proxy name in `snapshotter` and the namespace and lease in metadata', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'proxy-req-'));
    const seen: Array<{ snapshotter: string; namespace: unknown; lease: unknown }> = [];
    const server = new Server();
    server.addService(SnapshotsService, {
      stat: (call: ServerUnaryCall<{ snapshotter: string; key: string }, unknown>, cb: sendUnaryData<unknown>) => {
        seen.push({
          snapshotter: call.request.snapshotter,
          namespace: call.metadata.get('containerd-namespace')[0],
          lease: call.metadata.get('containerd-lease')[0],
        });
        cb({ code: 5, details: `snapshot ${call.request.key} does not exist: not found` });
      },
    });
    const socket = join(dir, 's.sock');
    await new Promise<void>((res, rej) => server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
    const conn = new ProxyConnection({ name: 'prox', address: `unix://${socket}` });
    try {
      const ctx: RequestContext = { namespace: 'ns1', lease: 'l1' };
      const err = await new RemoteSnapshotter(conn, 'prox').stat(ctx, 'k').catch((e: unknown) => e);
      // gRPC status → errdefs class, message as the proxy sent it.
      expect(isNotFound(err)).toBe(true);
      expect((err as Error).message).toBe('snapshot k does not exist: not found');
      expect(seen).toEqual([{ snapshotter: 'prox', namespace: 'ns1', lease: 'l1' }]);
    } finally {
      conn.close();
      server.forceShutdown();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
