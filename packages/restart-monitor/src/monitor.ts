// The restart monitor: every `interval`, in every namespace, the containers labelled
// `containerd.io/restart.status` are brought to that status — a container that should be
// running and is not gets its task killed and deleted, a new task (its output to the
// log path or URI label) and a start, as the restart policy allows; one that should be
// stopped has its task killed and deleted. As containerd's monitor, namespaces and
// containers are reconciled concurrently and one failure does not stop the others.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from '@containerd-ts/plugin';
import { CountLabel, LogPathLabel, LogURILabel, StatusLabel, shouldRestart } from './policy.js';

/** A task's state: containerd's ProcessStatus string (`running`, `stopped`, …) and exit status. */
export interface TaskState {
  readonly status: string;
  readonly exitStatus: number;
}

export interface MonitoredContainer {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What the monitor does through the daemon's services (containerd's monitor uses a client over them). */
export interface RestartServices {
  namespaces(): Promise<string[]>;
  /** Containers of a namespace that carry the status label. */
  containers(namespace: string): Promise<MonitoredContainer[]>;
  /** The container's task state; undefined when it has no task (or it cannot be asked). */
  taskState(namespace: string, id: string): Promise<TaskState | undefined>;
  /** Kills (SIGKILL, all processes) the task if there is one, waits for its exit and deletes it. */
  killTask(namespace: string, id: string): Promise<void>;
  /** Creates the task with this output (stdout and stderr both; '' = none). */
  createTask(namespace: string, id: string, output: string): Promise<void>;
  startTask(namespace: string, id: string): Promise<void>;
  /** Sets labels on the container (the others kept). */
  setLabels(namespace: string, id: string, labels: Record<string, string>): Promise<void>;
}

export interface RestartMonitorOptions {
  intervalMs: number;
  log?: Logger;
}

/** containerd's cio.LogFile: the file (and its directory) exist before the shim writes to it. */
function prepareLogFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  closeSync(openSync(path, 'a', 0o644));
}

/** The output a restarted task gets from its labels: the log URI, else the log path. */
export function taskOutput(labels: Readonly<Record<string, string>>, log?: Logger): string {
  const uri = labels[LogURILabel] ?? '';
  const path = labels[LogPathLabel] ?? '';
  if (uri !== '') {
    // Go's url.Parse is lenient (a bare path is a URL); it refuses control characters and bad escapes
    const control = [...uri].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20 || ch === '\u007f');
    if (control || /%(?![0-9a-fA-F]{2})/.test(uri)) throw new Error(`failed to parse ${uri} into url`);
    if (path !== '') log?.warn({}, `LogPathLabel=${path} has been deprecated, using LogURILabel=${uri}`);
    return uri;
  }
  if (path !== '') {
    prepareLogFile(path);
    return path;
  }
  return '';
}

export class RestartMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly services: RestartServices,
    private readonly options: RestartMonitorOptions,
  ) {}

  /** Reconciles now, then every interval after the previous pass ended. */
  start(): void {
    const loop = () => {
      if (this.closed) return;
      this.running = this.reconcile()
        .catch((err: unknown) => this.options.log?.error({ error: String(err) }, 'reconcile'))
        .finally(() => {
          this.running = undefined;
          if (!this.closed) this.timer = setTimeout(loop, this.options.intervalMs);
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One pass over every namespace. */
  async reconcile(): Promise<void> {
    const namespaces = await this.services.namespaces();
    await Promise.all(
      namespaces.map(async (ns) => {
        let changes: Array<() => Promise<void>>;
        try {
          changes = await this.changes(ns);
        } catch (err) {
          this.options.log?.error({ namespace: ns, error: String(err) }, 'monitor for changes');
          return;
        }
        await Promise.all(
          changes.map((apply) => apply().catch((err: unknown) => this.options.log?.error({ namespace: ns, error: String(err) }, 'apply change'))),
        );
      }),
    );
  }

  private async changes(ns: string): Promise<Array<() => Promise<void>>> {
    const out: Array<() => Promise<void>> = [];
    for (const c of await this.services.containers(ns)) {
      const desired = c.labels[StatusLabel] ?? '';
      const state = await this.services.taskState(ns, c.id);
      if (state?.status === desired) continue;
      if (desired === 'stopped') {
        if (state === undefined) continue;
        out.push(() => this.services.killTask(ns, c.id));
      } else if (desired === 'running') {
        let restart: boolean;
        try {
          restart = shouldRestart({ exitStatus: state?.exitStatus ?? 0 }, c.labels);
        } catch (err) {
          this.options.log?.error({ namespace: ns, id: c.id, error: (err as Error).message }, 'policy reconcile');
          continue;
        }
        if (!restart) continue;
        const raw = c.labels[CountLabel] ?? '';
        const count = (/^[+-]?\d+$/.test(raw) ? Number(raw) : 0) + 1;
        out.push(async () => {
          const output = taskOutput(c.labels, this.options.log);
          await this.services.killTask(ns, c.id).catch(() => {});
          await this.services.createTask(ns, c.id, output);
          await this.services.setLabels(ns, c.id, { [CountLabel]: String(count) });
          await this.services.startTask(ns, c.id);
          this.options.log?.info({ namespace: ns, id: c.id, count }, 'restarted task');
        });
      }
    }
    return out;
  }
}
