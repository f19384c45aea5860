// The `[timeouts]` the runtime honours, as containerd names them, read from the daemon's
// config (Go durations) with containerd's defaults.
import { parseDuration } from '@containerd-ts/gc-scheduler';

export const TIMEOUT_SHIM_CLEANUP = 'io.containerd.timeout.shim.cleanup';
export const TIMEOUT_SHIM_LOAD = 'io.containerd.timeout.shim.load';
export const TIMEOUT_SHIM_SHUTDOWN = 'io.containerd.timeout.shim.shutdown';
export const TIMEOUT_TASK_STATE = 'io.containerd.timeout.task.state';

export interface RuntimeTimeouts {
  /** `shim delete` and the cleanup after a shim died. */
  shimCleanupMs: number;
  /** Reconnecting a shim at start. */
  shimLoadMs: number;
  /** The Shutdown call after a task is deleted. */
  shimShutdownMs: number;
  /** A State call made for Get and List. */
  taskStateMs: number;
}

const defaults: Record<string, string> = {
  [TIMEOUT_SHIM_CLEANUP]: '5s',
  [TIMEOUT_SHIM_LOAD]: '5s',
  [TIMEOUT_SHIM_SHUTDOWN]: '3s',
  [TIMEOUT_TASK_STATE]: '2s',
};

/** Reads the runtime's timeouts from `[timeouts]`; a malformed duration throws with Go's message and the key. */
export function runtimeTimeouts(config: Readonly<Record<string, string>> = {}): RuntimeTimeouts {
  const ms = (key: string): number => {
    const text = config[key] ?? defaults[key]!;
    try {
      return parseDuration(text) / 1e6;
    } catch (err) {
      throw new Error(`timeouts.${JSON.stringify(key)}: ${(err as Error).message}`);
    }
  };
  return {
    shimCleanupMs: ms(TIMEOUT_SHIM_CLEANUP),
    shimLoadMs: ms(TIMEOUT_SHIM_LOAD),
    shimShutdownMs: ms(TIMEOUT_SHIM_SHUTDOWN),
    taskStateMs: ms(TIMEOUT_TASK_STATE),
  };
}
