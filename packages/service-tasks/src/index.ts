// Registration: io.containerd.service.v1 tasks-service (the local service over the v2
// runtime) and io.containerd.grpc.v1 tasks (its gRPC API), with containerd's requires.
import type {} from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import type {} from '@containerd-ts/runtime-v1';
import { runtimeTimeouts } from '@containerd-ts/runtime-v2';
import { notFound } from '@containerd-ts/errdefs';
import { tasksGrpcService } from './grpc.js';
import { type TaskRuntime, TasksService } from './tasks.js';

export { tasksGrpcService } from './grpc.js';
export { type ContainerRecord, type ContainerSource, type SnapshotMounts, type TaskRuntime, TasksService, type TasksServiceOptions } from './tasks.js';

declare module '@containerd-ts/plugin' {
  interface PluginInstanceMap {
    'io.containerd.service.v1.tasks-service': TasksService;
  }
}

export const tasksServicePlugin = definePlugin({
  type: 'io.containerd.service.v1',
  id: 'tasks-service',
  // containerd also lists io.containerd.monitor.v1, which is not required here (the
  // cgroups monitor watches tasks itself).
  requires: ['io.containerd.event.v1', 'io.containerd.runtime.v1', 'io.containerd.runtime.v2', 'io.containerd.metadata.v1'],
  async init(ctx) {
    // containerd looks for its v1 runtimes first (loadV1Runtimes): none registered (all
    // disabled) is the registry's NotFound; registered but none initialised (they fail on a
    // missing metadata store or exchange) is this message. A v1 runtime that skipped (no
    // containerd-shim on this host: containerd's never skips) leaves v2 tasks working.
    const v1 = ctx.plugins().filter((p) => p.type === 'io.containerd.runtime.v1');
    if (v1.length === 0) throw notFound('no plugins registered for io.containerd.runtime.v1');
    const runtimes = new Map<string, TaskRuntime>();
    for (const [id, r] of ctx.getAll('io.containerd.runtime.v1')) runtimes.set(`io.containerd.runtime.v1.${id}`, r);
    if (runtimes.size === 0 && !v1.every((p) => p.status === 'skip')) throw new Error('no runtimes available to create task service');
    const runtime = ctx.getByID('io.containerd.runtime.v2', 'task');
    const metadata = ctx.get('io.containerd.metadata.v1');
    const service = new TasksService({
      containers: metadata.containers,
      runtime,
      runtimes,
      content: metadata.contentStore(),
      snapshotMounts: async (rctx, snapshotter, key) => {
        const sn = metadata.snapshotter(snapshotter);
        if (!sn) throw notFound(`snapshotter ${snapshotter}`);
        return (await sn.mounts(rctx, key)).map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: m.options }));
      },
      stateDir: ctx.stateDir,
      stateTimeoutMs: runtimeTimeouts(ctx.daemon.timeouts).taskStateMs,
      log: ctx.log,
    });
    // The runtimes have loaded their tasks: checkpoints unpacked for tasks that are gone go.
    await service.recoverRestores();
    return service;
  },
});

export const tasksGrpcPlugin = definePlugin({
  type: 'io.containerd.grpc.v1',
  id: 'tasks',
  requires: ['io.containerd.service.v1'],
  init(ctx) {
    if (!ctx.plugins().some((p) => p.type === 'io.containerd.service.v1' && p.id === 'tasks-service')) throw new Error('tasks service not found');
    return { services: [tasksGrpcService(ctx.getByID('io.containerd.service.v1', 'tasks-service'))] };
  },
});
