// Plugin registration of the cgroups task monitor: io.containerd.monitor.v1 "cgroups".
import type { Exchange } from '@containerd-ts/events-exchange';
import { definePlugin, hostPlatform } from '@containerd-ts/plugin';
import { ShimTask, type TaskManager } from '@containerd-ts/runtime-v2';
import type {} from '@containerd-ts/metadata-level';
import { backgroundContext } from '@containerd-ts/namespaces';
import { z } from 'zod';
import { CgroupsMonitor, type MonitoredTask } from './monitor.js';
import { packAny } from '@containerd-ts/api';
import { TaskOOM } from '@containerd-ts/api/events/task';
import { OOMWatcherV1 } from './oom-v1.js';

export { CgroupsMonitor, type CgroupsMonitorOptions, type MonitoredTask, type TaskSample, type TaskStats } from './monitor.js';
export { type CgroupMode, cgroupMode, parseCgroupMounts, parseProcCgroup, v1Dirs, v2Dir } from './cgroup-paths.js';
export { readV1Metrics } from './cgroup-v1.js';
export { OOMWatcherV1, type OOMWatcherOptions, registerOOMEventfd } from './oom-v1.js';
export { readV2Metrics } from './cgroup-v2.js';
export { type Family, v1Families, v2Families } from './families.js';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.monitor.v1': CgroupsMonitor;
  }
}

export const cgroupsMonitorConfig = z
  .object({
    no_prometheus: z.boolean().default(false).describe('Leave the per-container `container_*` families out of `[metrics] address`'),
  })
  .strict();

/** A runtime whose tasks the monitor can list (the v1 runtime, known here by its shape only). */
interface TaskLister {
  list(ctx: typeof backgroundContext, all: boolean): Iterable<MonitoredTask>;
  /** Called for each task it creates, before the create returns. */
  onTaskCreated?(listener: (task: MonitoredTask) => Promise<void> | void): void;
  /** Called for each task it is about to delete, while its cgroup still exists. */
  onTaskDeleting?(listener: (task: MonitoredTask) => Promise<void> | void): void;
}

const isTaskLister = (r: unknown): r is TaskLister => typeof r === 'object' && r !== null && typeof (r as { list?: unknown }).list === 'function';

export default definePlugin({
  type: 'io.containerd.monitor.v1',
  id: 'cgroups',
  requires: ['io.containerd.event.v1'],
  config: cgroupsMonitorConfig,
  init(ctx) {
    const exchange: Exchange = ctx.get('io.containerd.event.v1');
    // The tasks to watch are the v2 runtime's (initialised before this plugin, as in
    // containerd's order); without a runtime there is nothing to monitor.
    let runtime: TaskManager | undefined;
    if (ctx.plugins().some((p) => p.type === 'io.containerd.runtime.v2' && p.id === 'task' && p.status === 'ok')) {
      runtime = ctx.getByID('io.containerd.runtime.v2', 'task');
    }
    // The runtime v1 tasks too (io.containerd.runtime.v1 "linux", registered before this
    // plugin), as containerd's monitor watches every task the tasks service creates.
    const v1Runtimes = ctx.plugins().some((p) => p.type === 'io.containerd.runtime.v1' && p.status === 'ok')
      ? [...ctx.getAll('io.containerd.runtime.v1').values()].filter(isTaskLister)
      : [];
    // containerd labels a task's samples with its container's runtime (the metadata has it)
    const metadata = ctx.plugins().some((p) => p.type === 'io.containerd.metadata.v1' && p.status === 'ok') ? ctx.get('io.containerd.metadata.v1') : undefined;
    const monitor = new CgroupsMonitor({
      tasks: () => [...(runtime?.list(backgroundContext, true) ?? []), ...v1Runtimes.flatMap((r) => [...r.list(backgroundContext, true)])],
      // a v2 task's shim reads its cgroups (as containerd asks it); v1 tasks' are read here
      shimStats: (task) => (task instanceof ShimTask ? task.stats() : undefined),
      labels: async (task) => (metadata ? { runtime: (await metadata.containers.get({ namespace: task.namespace }, task.id)).runtime.name } : {}),
      prometheus: !ctx.config.no_prometheus,
      log: ctx.log,
    });
    // runtime v1 tasks on cgroup v1: the monitor watches their OOMs and publishes them, as
    // containerd's does (the v1 shim does not); v2 tasks' come from their shims
    let oomWatcher: OOMWatcherV1 | undefined;
    if (v1Runtimes.length > 0) {
      oomWatcher = new OOMWatcherV1({
        tasks: () => v1Runtimes.flatMap((r) => [...r.list(backgroundContext, true)]),
        memoryDir: (task) => monitor.memoryDir(task),
        onOOM: (task) => {
          exchange
            .publish({ namespace: task.namespace }, '/tasks/oom', packAny(TaskOOM, { containerId: task.id }))
            .catch((err: unknown) => ctx.log.error({ error: String(err) }, 'post OOM event'));
        },
        log: ctx.log,
      });
      const watcher = oomWatcher;
      const mode = monitor.mode();
      void mode.then((m) => {
        if (m !== 'unified') watcher.start();
      });
      // a new v1 task is watched before its create returns (an OOM can come right after its start)
      for (const r of v1Runtimes) {
        r.onTaskCreated?.(async (task) => {
          if ((await mode) !== 'unified') await watcher.watch(task);
        });
        r.onTaskDeleting?.((task) => watcher.unwatch(task));
      }
      ctx.onClose(() => watcher.close());
    }
    // Every /tasks/oom (the v2 shims', and the v1 watcher's) is counted once.
    const oom = exchange.subscribe(['topic=="/tasks/oom"']);
    void (async () => {
      for await (const envelope of oom) {
        try {
          monitor.recordOOM(envelope.namespace, TaskOOM.decode(envelope.event.value).containerId);
        } catch (err) {
          ctx.log.warn({ error: String(err) }, 'decode oom event');
        }
      }
    })();
    ctx.onClose(() => oom.close());
    ctx.meta.platforms.push(hostPlatform());
    return monitor;
  },
});
