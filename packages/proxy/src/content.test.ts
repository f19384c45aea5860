// RemoteContentStore passes the content store conformance suite against a local content
// store served over a real unix socket (writers on Write streams, readers on Read streams).
import { join } from 'node:path';
import { LocalContentStore, MemoryLabelStore } from '@containerd-ts/content-local';
import { contentSuite } from '@containerd-ts/content/testsuite';
import { ProxyConnection } from './connection.js';
import { RemoteContentStore } from './content.js';
import { contentProxyService } from './server.js';
import { testServer } from './testing/server.js';

contentSuite('Proxy', async ({ root }) => {
  // Labels need a label store (the daemon keeps them in the metadata database instead).
  const local = await LocalContentStore.open(join(root, 'content'), { labelStore: new MemoryLabelStore(), lockWaitMs: 10 });
  const server = testServer(join(root, 'proxy.sock'), () => [contentProxyService(local)]);
  await server.start();
  const conn = new ProxyConnection({ name: 'prox', address: server.socket });
  return {
    store: new RemoteContentStore(conn),
    ctx: { namespace: 'testsuite' },
    async cleanup() {
      conn.close();
      await server.stop();
    },
  };
});
