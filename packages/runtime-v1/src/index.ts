// Registration: io.containerd.runtime.v1 "linux", the runtime v1 task manager over
// Debian's `containerd-shim`, with containerd 1.6's requires and config (`shim`,
// `runtime`, `runtime_root`, `no_shim`, `shim_debug`). Skipped when the shim binary is
// not installed; `no_shim = true` (containerd runs the shim inside itself) is refused.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import type {} from '@containerd-ts/events-exchange';
import type {} from '@containerd-ts/metadata-level';
import { packAny } from '@containerd-ts/api';
import { Metrics as CgroupsV1Metrics } from '@containerd-ts/api/types/cgroups-v1';
import { Metrics as CgroupsV2Metrics } from '@containerd-ts/api/types/cgroups-v2';
import { CgroupsMonitor } from '@containerd-ts/monitor-cgroups';
import { SkipPluginError, definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { defaultPublishBinary, dialShim, runtimeTimeouts } from '@containerd-ts/runtime-v2';
import { lookPath } from '@containerd-ts/snapshots';
import { isTtrpcClosed } from '@containerd-ts/ttrpc';
import { z } from 'zod';
import { V1Runtime } from './runtime.js';

export { DEFAULT_RUNC_ROOT, type ContainerOptionsLookup, V1Runtime, type V1RuntimeConfig } from './runtime.js';
export { SOCKET_ROOT, type ShimSpawnConfig, type ShimSpawnOptions, shimAddress, shimArgs, socketPath } from './shim.js';
export { V1Task } from './task.js';

/** The runtime name containers give to be run by this runtime. */
export const RUNTIME_LINUX_V1 = 'io.containerd.runtime.v1.linux';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.runtime.v1': V1Runtime;
  }
}

/** The shim's path: an absolute path as it is, a name looked up on PATH; undefined when not installed. */
export function resolveShim(shim: string): string | undefined {
  if (isAbsolute(shim)) return existsSync(shim) ? shim : undefined;
  return lookPath(shim);
}

export default definePlugin({
  type: 'io.containerd.runtime.v1',
  id: 'linux',
  requires: ['io.containerd.event.v1', 'io.containerd.metadata.v1'],
  config: z
    .object({
      shim: z.string().default('containerd-shim').describe('Path or name of the runtime v1 shim binary'),
      runtime: z.string().default('runc').describe('Path or name of the OCI runtime the shim runs'),
      runtime_root: z.string().default('').describe("The OCI runtime's state root ('' = the shim's default, /run/containerd/runc)"),
      no_shim: z.boolean().default(false).describe('Run the shim inside the daemon (containerd only: refused by containerd-ts)'),
      shim_debug: z.boolean().default(false).describe("Start shims with -debug and copy their output to the daemon's"),
    })
    .strict(),
  async init(ctx) {
    ctx.meta.platforms.push(hostPlatform());
    const { config } = ctx;
    if (config.no_shim) {
      throw new Error('no_shim = true is not supported: containerd-ts cannot run the runtime v1 shim inside the daemon; set no_shim = false');
    }
    const shim = resolveShim(config.shim);
    if (shim === undefined) {
      throw new SkipPluginError(`runtime v1 shim ${JSON.stringify(config.shim)} not found (Debian's containerd package installs containerd-shim)`);
    }
    const metadata = ctx.get('io.containerd.metadata.v1');
    // A v1 task's metrics come from its cgroup, found by its init pid (containerd's
    // cgroups.Load(PidPath(pid))), read as the cgroups monitor reads them.
    const cgroups = new CgroupsMonitor({ tasks: () => [], prometheus: false, log: ctx.log });
    const stats = async (task: Parameters<CgroupsMonitor['stats']>[0]) => {
      const s = await cgroups.stats(task);
      return s.version === 1 ? packAny(CgroupsV1Metrics, s.metrics) : packAny(CgroupsV2Metrics, s.metrics);
    };
    const exchange = ctx.getByID('io.containerd.event.v1', 'exchange');
    const runtime = new V1Runtime({
      root: ctx.rootDir,
      state: ctx.stateDir,
      shim: { shim, address: ctx.daemon.address, publishBinary: defaultPublishBinary(), debug: config.shim_debug },
      runtime: config.runtime,
      runtimeRoot: config.runtime_root,
      dial: dialShim,
      isClosedError: isTtrpcClosed,
      events: exchange,
      containers: metadata.containers,
      log: ctx.log,
      shimLogSink: config.shim_debug ? (chunk) => process.stderr.write(chunk) : undefined,
      cleanupTimeoutMs: runtimeTimeouts(ctx.daemon.timeouts).shimCleanupMs,
      stats,
    });
    await mkdir(ctx.rootDir, { recursive: true, mode: 0o711 });
    await mkdir(ctx.stateDir, { recursive: true, mode: 0o711 });
    await runtime.load();
    ctx.onClose(() => runtime.close());
    return runtime;
  },
});
