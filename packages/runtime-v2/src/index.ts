// Registration: io.containerd.runtime.v2 "task", the shim v2 manager, with containerd's
// requires and config (`platforms`, `sched_core`). Shims are reached over ttrpc.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type {} from '@containerd-ts/events-exchange';
import type {} from '@containerd-ts/metadata-level';
import { NAMESPACE_HEADER_TTRPC } from '@containerd-ts/namespaces';
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { TtrpcClient, TtrpcStatusError, isTtrpcClosed } from '@containerd-ts/ttrpc';
import { z } from 'zod';
import { RuntimeResolver, defaultPublishBinary } from './binary.js';
import type { ShimConnection } from './connection.js';
import { TaskManager } from './manager.js';
import { fromShimStatus } from './shim-errors.js';
import { runtimeTimeouts } from './timeouts.js';

export { RuntimeResolver, deleteShim, shimBinaryName, startShim, type Exit, type ShimCommandConfig } from './binary.js';
export { Bundle, loadBundle, newBundle } from './bundle.js';
export type { CallOptions, ShimConnection, ShimDialer } from './connection.js';
export { type ContainerLookup, type CreateOpts, type EventPublisher, TASK_NOT_EXISTS, TaskManager, type TaskManagerConfig } from './manager.js';
export { isRuncRuntime, withRuncRoot } from './runc-options.js';
export { type ProcessState, ShimTask, type TaskIO } from './shim.js';
export { fromShimStatus } from './shim-errors.js';
export { type RuntimeTimeouts, runtimeTimeouts } from './timeouts.js';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.runtime.v2': TaskManager;
  }
}

/** A shim connection over @containerd-ts/ttrpc, the namespace sent as containerd's ttrpc metadata. */
export async function dialShim(address: string): Promise<ShimConnection> {
  const client = await TtrpcClient.connect(address);
  const closed = client.closed ? Promise.resolve() : new Promise<void>((resolve) => client.once('close', () => resolve()));
  return {
    call: (service, method, payload, options) =>
      client
        .call(service, method, payload, {
          metadata: { [NAMESPACE_HEADER_TTRPC]: options.namespace },
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
        .catch((err: unknown) => {
          // A closed connection stays what it is (the manager tests for it).
          throw err instanceof TtrpcStatusError ? fromShimStatus(err.code, err.message) : err;
        }),
    close: () => void client.close(),
    closed,
  };
}

export default definePlugin({
  type: 'io.containerd.runtime.v2',
  id: 'task',
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  config: z
    .object({
      platforms: z.array(z.string()).default([hostPlatform()]).describe('Platforms this runtime runs'),
      sched_core: z.boolean().default(false).describe('Start shims with SCHED_CORE=1 (Linux core scheduling)'),
    })
    .strict(),
  async init(ctx) {
    ctx.meta.platforms.push(...ctx.config.platforms);
    const metadata = ctx.get('io.containerd.metadata.v1');
    const exchange = ctx.getByID('io.containerd.event.v1', 'exchange');
    const level = ctx.daemon.debugLevel ?? '';
    const manager = new TaskManager({
      root: ctx.rootDir,
      state: ctx.stateDir,
      shim: {
        address: ctx.daemon.address,
        ttrpcAddress: ctx.daemon.ttrpcAddress,
        publishBinary: defaultPublishBinary(),
        schedCore: ctx.config.sched_core,
        debug: level === 'debug' || level === 'trace',
      },
      // Beside the daemon's other run-time state, so runc containers of this daemon and of
      // a containerd on the same host never share runc's state directory.
      runcRoot: join(ctx.daemon.state, 'runc'),
      timeouts: runtimeTimeouts(ctx.daemon.timeouts),
      resolver: new RuntimeResolver(),
      dial: dialShim,
      isClosedError: isTtrpcClosed,
      events: exchange,
      containers: metadata.containers,
      log: ctx.log,
      shimLogSink: (chunk) => process.stderr.write(chunk),
    });
    await mkdir(ctx.rootDir, { recursive: true, mode: 0o711 });
    await mkdir(ctx.stateDir, { recursive: true, mode: 0o711 });
    await manager.load();
    ctx.onClose(() => manager.close());
    return manager;
  },
});
