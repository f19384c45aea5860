// The containerd.services.tasks.v1.Tasks gRPC service over the local service.
import { TasksService as TasksDefinition } from '@containerd-ts/api/services/tasks';
import { type GrpcServiceRegistration, grpcService, unary } from '@containerd-ts/grpc-server';
import type { TasksService } from './tasks.js';

const empty = {};

export function tasksGrpcService(local: TasksService): GrpcServiceRegistration {
  return grpcService(TasksDefinition, {
    create: unary((req, ctx) => local.create(ctx, req)),
    start: unary((req, ctx) => local.start(ctx, req)),
    delete: unary((req, ctx) => local.delete(ctx, req)),
    deleteProcess: unary((req, ctx) => local.deleteProcess(ctx, req)),
    get: unary((req, ctx) => local.get(ctx, req)),
    list: unary((req, ctx) => local.list(ctx, req)),
    kill: unary(async (req, ctx) => {
      await local.kill(ctx, req);
      return empty;
    }),
    exec: unary(async (req, ctx) => {
      await local.exec(ctx, req);
      return empty;
    }),
    resizePty: unary(async (req, ctx) => {
      await local.resizePty(ctx, req);
      return empty;
    }),
    closeIo: unary(async (req, ctx) => {
      await local.closeIO(ctx, req);
      return empty;
    }),
    pause: unary(async (req, ctx) => {
      await local.pause(ctx, req);
      return empty;
    }),
    resume: unary(async (req, ctx) => {
      await local.resume(ctx, req);
      return empty;
    }),
    listPids: unary((req, ctx) => local.listPids(ctx, req)),
    checkpoint: unary((req, ctx) => local.checkpoint(ctx, req)),
    update: unary(async (req, ctx) => {
      await local.update(ctx, req);
      return empty;
    }),
    metrics: unary((req, ctx) => local.metrics(ctx, req)),
    wait: unary((req, ctx) => local.wait(ctx, req)),
  });
}
