// Plugin registration of the restart monitor: io.containerd.internal.v1 "restart".
import { CreateTaskRequest } from '@containerd-ts/api/services/tasks';
import { Status } from '@containerd-ts/api/types/task';
import { fromGrpcStatus, isContainerdError, isNotFound, notFound } from '@containerd-ts/errdefs';
import { parseDuration } from '@containerd-ts/gc-scheduler';
import type { RequestContext } from '@containerd-ts/namespaces';
import { definePlugin } from '@containerd-ts/plugin';
import type {} from '@containerd-ts/service-containers';
import type {} from '@containerd-ts/service-namespaces';
import type {} from '@containerd-ts/service-tasks';
import { z } from 'zod';
import { RestartMonitor, type RestartServices } from './monitor.js';
import { StatusLabel } from './policy.js';

export { RestartMonitor, type RestartMonitorOptions, type RestartServices, type TaskState, taskOutput } from './monitor.js';
export * from './policy.js';

const STATUS_NAMES: Record<number, string> = {
  [Status.CREATED]: 'created',
  [Status.RUNNING]: 'running',
  [Status.STOPPED]: 'stopped',
  [Status.PAUSED]: 'paused',
  [Status.PAUSING]: 'pausing',
};

export const restartConfig = z
  .object({
    interval: z
      .string()
      .default('10s')
      .superRefine((value, ctx) => {
        try {
          parseDuration(value);
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: (err as Error).message });
        }
      })
      .describe('How often containers labelled containerd.io/restart.status are brought to that status (Go duration; 0 = 10s)'),
  })
  .strict();

export default definePlugin({
  type: 'io.containerd.internal.v1',
  id: 'restart',
  requires: ['io.containerd.event.v1', 'io.containerd.service.v1'],
  config: restartConfig,
  init(ctx) {
    // containerd's monitor builds a client over the daemon's services and fails as it
    // does when one is missing (checked in the order its options are listed)
    const wrap = (prefix: string, err: unknown): Error =>
      isContainerdError(err) ? fromGrpcStatus(err.code, `${prefix}: ${err.message}`) : new Error(`${prefix}: ${String((err as Error).message ?? err)}`);
    const records = ctx.plugins().filter((p) => p.type === 'io.containerd.service.v1');
    if (records.length === 0) throw wrap('failed to get service plugin', notFound('no plugins registered for io.containerd.service.v1'));
    try {
      ctx.get('io.containerd.event.v1');
    } catch (err) {
      throw wrap('failed to get event plugin', err);
    }
    for (const id of ['content-service', 'images-service', 'snapshots-service', 'containers-service', 'tasks-service', 'diff-service', 'namespaces-service', 'leases-service']) {
      const record = records.find((p) => p.id === id);
      if (!record) throw new Error(`service "${id}" not found`);
      if (record.status !== 'ok') throw wrap(`failed to get instance of service "${id}"`, record.error ?? new Error(record.status));
    }
    const tasks = ctx.getByID('io.containerd.service.v1', 'tasks-service');
    const containers = ctx.getByID('io.containerd.service.v1', 'containers-service');
    const namespaces = ctx.getByID('io.containerd.service.v1', 'namespaces-service');
    const on = (namespace: string): RequestContext => ({ namespace });
    const services: RestartServices = {
      namespaces: async () => (await namespaces.list()).map((n) => n.name),
      containers: async (ns) => (await containers.list(on(ns), [`labels."${StatusLabel}"`])).map((c) => ({ id: c.id, labels: c.labels })),
      taskState: async (ns, id) => {
        try {
          const { process } = await tasks.get(on(ns), { containerId: id, execId: '' });
          return process ? { status: STATUS_NAMES[process.status] ?? 'unknown', exitStatus: process.exitStatus } : undefined;
        } catch {
          return undefined;
        }
      },
      killTask: async (ns, id) => {
        const c = on(ns);
        try {
          await tasks.get(c, { containerId: id, execId: '' });
        } catch (err) {
          if (isNotFound(err)) return;
          throw err;
        }
        const exited = tasks.wait(c, { containerId: id, execId: '' });
        exited.catch(() => {});
        try {
          await tasks.kill(c, { containerId: id, execId: '', signal: 9, all: true });
        } catch (err) {
          try {
            await tasks.delete(c, { containerId: id });
            return;
          } catch {
            throw err;
          }
        }
        await exited;
        await tasks.delete(c, { containerId: id });
      },
      createTask: async (ns, id, output) => {
        await tasks.create(on(ns), CreateTaskRequest.fromPartial({ containerId: id, stdout: output, stderr: output }));
      },
      startTask: async (ns, id) => {
        await tasks.start(on(ns), { containerId: id, execId: '' });
      },
      setLabels: async (ns, id, labels) => {
        const c = await containers.get(on(ns), id);
        await containers.update(on(ns), { ...c, labels: { ...c.labels, ...labels } }, Object.keys(labels).map((k) => `labels.${k}`));
      },
    };
    const intervalNs = parseDuration(ctx.config.interval);
    const monitor = new RestartMonitor(services, { intervalMs: intervalNs === 0 ? 10_000 : intervalNs / 1e6, log: ctx.log });
    monitor.start();
    ctx.onClose(() => monitor.stop());
    return monitor;
  },
});
