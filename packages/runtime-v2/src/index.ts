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
import { CRASH_POINTS, type CrashPoint, TaskManager } from './manager.js';
import { fromShimStatus } from './shim-errors.js';
import { runtimeTimeouts } from './timeouts.js';

export { RuntimeResolver, defaultPublishBinary, deleteShim, shimBinaryName, startShim, type Exit, type ShimCommandConfig } from './binary.js';
export { Bundle, createFifo, loadBundle, newBundle } from './bundle.js';
export { FifoReader } from './fifo.js';
export type { CallOptions, ShimConnection, ShimDialer } from './connection.js';
export {
  CRASH_POINTS,
  type ContainerLookup,
  type CrashPoint,
  type CreateOpts,
  type EventPublisher,
  RECOVERED_EXIT_DELAY_MS,
  SHIM_PUBLISH_RETRY_MS,
  TASK_NOT_EXISTS,
  TaskManager,
  type TaskManagerConfig,
} from './manager.js';
export { isRuncRuntime, withRuncRoot } from './runc-options.js';
export { type Codec, type ProcessState, type RuntimeTask, STATUS_STOPPED, ShimClient, ShimTask, type TaskIO } from './shim.js';
export { fromShimStatus } from './shim-errors.js';
export { TaskTable } from './task-table.js';
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

/** The environment variable that names a crash point (tests of restart recovery). */
export const CRASH_AT_ENV = 'CONTAINERD_TS_RUNTIME_CRASH_AT';

/**
 * The crash hook from CONTAINERD_TS_RUNTIME_CRASH_AT: the daemon kills itself (SIGKILL,
 * as `kill -9`) the first time it reaches that step. Unset: no hook.
 */
function crashHookFromEnv(value: string | undefined): ((point: CrashPoint) => void) | undefined {
  if (!value) return undefined;
  if (!(CRASH_POINTS as readonly string[]).includes(value)) throw new Error(`${CRASH_AT_ENV}: unknown crash point ${JSON.stringify(value)} (one of ${CRASH_POINTS.join(', ')})`);
  return (point) => {
    if (point === value) process.kill(process.pid, 'SIGKILL');
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
    const crashPoint = crashHookFromEnv(process.env[CRASH_AT_ENV]);
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
      ...(crashPoint ? { crashPoint } : {}),
    });
    await mkdir(ctx.rootDir, { recursive: true, mode: 0o711 });
    await mkdir(ctx.stateDir, { recursive: true, mode: 0o711 });
    await manager.load();
    ctx.onClose(() => manager.close());
    return manager;
  },
});
