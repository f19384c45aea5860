// Plugin registration of the garbage collection scheduler: io.containerd.gc.v1 "scheduler".
import type { GCStats } from '@containerd-ts/metadata-level';
import { definePlugin } from '@containerd-ts/plugin';
import { z } from 'zod';
import { formatDuration, parseDuration } from './duration.js';
import { GCScheduler } from './scheduler.js';

export { formatDuration, parseDuration } from './duration.js';
export { type Collector, GCScheduler, type SchedulerConfig, type SchedulerOptions } from './scheduler.js';

declare module '@containerd-ts/plugin' {
  interface PluginTypeMap {
    'io.containerd.gc.v1': GCScheduler<GCStats>;
  }
}

/** A Go duration string (`"100ms"`, `"1s"`, `"0s"`), as containerd's config takes it. */
const goDuration = z.string().superRefine((value, ctx) => {
  try {
    parseDuration(value);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
  }
});

export const schedulerConfig = z
  .object({
    pause_threshold: z.number().default(0.02),
    deletion_threshold: z.number().int().default(0),
    mutation_threshold: z.number().int().default(100),
    schedule_delay: goDuration.default('0s'),
    startup_delay: goDuration.default('100ms'),
  })
  .strict();

export default definePlugin({
  type: 'io.containerd.gc.v1',
  id: 'scheduler',
  requires: ['io.containerd.metadata.v1'],
  config: schedulerConfig,
  init(ctx) {
    const db = ctx.get('io.containerd.metadata.v1');
    const scheduler = new GCScheduler<GCStats>(
      db,
      {
        pauseThreshold: ctx.config.pause_threshold,
        deletionThreshold: ctx.config.deletion_threshold,
        mutationThreshold: ctx.config.mutation_threshold,
        scheduleDelayMs: parseDuration(ctx.config.schedule_delay) / 1e6,
        startupDelayMs: parseDuration(ctx.config.startup_delay) / 1e6,
      },
      { log: ctx.log },
    );
    // As containerd, the exports show the effective (clamped) settings.
    ctx.meta.exports.PauseThreshold = String(scheduler.pauseThreshold);
    ctx.meta.exports.DeletionThreshold = String(scheduler.deletionThreshold);
    ctx.meta.exports.MutationThreshold = String(scheduler.mutationThreshold);
    ctx.meta.exports.ScheduleDelay = formatDuration(scheduler.scheduleDelayMs * 1e6);
    db.setScheduler(scheduler);
    scheduler.start();
    ctx.onClose(async () => {
      db.setScheduler(undefined);
      await scheduler.stop();
    });
    return scheduler;
  },
});
