// The cgroups task monitor: finds each running task's cgroup from its init pid, reads its
// statistics (cgroup v1 or v2, as the host runs), and exposes them as containerd's
// per-container Prometheus families. A scrape never waits on another: reads are shared
// by concurrent scrapes, cached for at most `maxAgeMs`, and at most `concurrency` tasks
// are read at once.
import { readFile } from 'node:fs/promises';
import { type Any, isType, unpackAs } from '@containerd-ts/api';
import { isNotFound } from '@containerd-ts/errdefs';
import { Metrics as V1Metrics } from '@containerd-ts/api/types/cgroups-v1';
import { Metrics as V2Metrics } from '@containerd-ts/api/types/cgroups-v2';
import type { Logger } from '@containerd-ts/plugin';
import { type CgroupMode, type CgroupMount, cgroupMode, parseCgroupMounts, parseProcCgroup, v1Dirs, v2Dir } from './cgroup-paths.js';
import { readDevices, readV1Metrics } from './cgroup-v1.js';
import { readV2Metrics } from './cgroup-v2.js';
import { type Family, v1Families, v2Families } from './families.js';

/** What the monitor needs of a task: its identity and its init pid. */
export interface MonitoredTask {
  readonly id: string;
  readonly namespace: string;
  /** The init pid when known without asking the shim (0 otherwise). */
  readonly initPid: number;
  pid(): Promise<number>;
}

export type TaskStats = { readonly version: 1; readonly metrics: V1Metrics } | { readonly version: 2; readonly metrics: V2Metrics };

export interface TaskSample {
  readonly id: string;
  readonly namespace: string;
  /** Labels of every sample of the task beyond `container_id` and `namespace` (`runtime`). */
  readonly labels: Readonly<Record<string, string>>;
  readonly stats: TaskStats;
}

export interface CgroupsMonitorOptions {
  /** The tasks to report, asked at every collection (every namespace). */
  tasks(): Iterable<MonitoredTask>;
  /**
   * Extra labels of a task's samples, asked once per task: containerd labels the tasks its
   * tasks service creates with their `runtime`.
   */
  labels?(task: MonitoredTask): Promise<{ runtime?: string }>;
  /**
   * The statistics a task's shim answers (its Stats call), for the tasks whose shims read
   * their own cgroups (runtime v2, as containerd asks them); undefined for a task whose
   * cgroups the monitor reads itself (runtime v1: containerd's v1 runtime reads them in the
   * daemon too).
   */
  shimStats?(task: MonitoredTask): Promise<Any | undefined> | undefined;
  /** The host's cgroup mode; read from mountinfo when absent. */
  mode?: CgroupMode;
  /** `/proc` (fixtures and tests point elsewhere). */
  procRoot?: string;
  /** How old cached values may be when a scrape is answered (containerd-ts's bound: 1 s). */
  maxAgeMs?: number;
  /** Tasks read at once. */
  concurrency?: number;
  /** false (`no_prometheus`): renderMetrics gives nothing. */
  prometheus?: boolean;
  log?: Logger;
}

const OOM_HELP = 'The number of times a container has received an oom event';

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
      // one task's reads are synchronous: let the daemon's other work in between
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

type Location = { version: 1; dirs: Map<string, string> } | { version: 2; dir: string };

export class CgroupsMonitor {
  private readonly procRoot: string;
  private readonly maxAgeMs: number;
  private readonly concurrency: number;
  private mounts: CgroupMount[] | undefined;
  private modeValue: CgroupMode | undefined;
  private readonly locations = new WeakMap<MonitoredTask, Promise<Location>>();
  private readonly labelSets = new WeakMap<MonitoredTask, Promise<Record<string, string>>>();
  private readonly oomCounts = new Map<string, number>();
  private cached: { at: number; samples: Promise<TaskSample[]> } | undefined;

  constructor(private readonly options: CgroupsMonitorOptions) {
    this.procRoot = options.procRoot ?? '/proc';
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.concurrency = options.concurrency ?? 8;
    this.modeValue = options.mode;
  }

  private async cgroupMounts(): Promise<CgroupMount[]> {
    this.mounts ??= parseCgroupMounts(await readFile(`${this.procRoot}/self/mountinfo`, 'utf8'));
    return this.mounts;
  }

  /** The host's cgroup mode (hybrid hosts are read through their v1 controllers, as containerd does). */
  async mode(): Promise<CgroupMode> {
    this.modeValue ??= cgroupMode(await this.cgroupMounts());
    return this.modeValue;
  }

  private locate(task: MonitoredTask): Promise<Location> {
    let found = this.locations.get(task);
    if (!found) {
      found = (async (): Promise<Location> => {
        const pid = task.initPid || (await task.pid());
        const proc = parseProcCgroup(await readFile(`${this.procRoot}/${pid}/cgroup`, 'utf8'));
        const mounts = await this.cgroupMounts();
        if ((await this.mode()) === 'unified') {
          const dir = v2Dir(proc, mounts);
          if (!dir) throw new Error(`no cgroup2 directory for pid ${pid}`);
          return { version: 2, dir };
        }
        return { version: 1, dirs: v1Dirs(proc, mounts) };
      })();
      // a failed lookup (task not started yet, shim gone) is retried next time
      found.catch(() => this.locations.delete(task));
      this.locations.set(task, found);
    }
    return found;
  }

  /** A task's v1 memory cgroup directory (undefined on a unified host or without the controller). */
  async memoryDir(task: MonitoredTask): Promise<string | undefined> {
    const where = await this.locate(task);
    return where.version === 1 ? where.dirs.get('memory') : undefined;
  }

  /** One task's statistics, read now. */
  async stats(task: MonitoredTask): Promise<TaskStats> {
    return (await this.read(task)).stats;
  }

  /** The labels of a task's samples beyond its ID and namespace, asked once per task. */
  private labelsOf(task: MonitoredTask): Promise<Record<string, string>> {
    let labels = this.labelSets.get(task);
    if (!labels) {
      labels = (async (): Promise<Record<string, string>> => {
        const extra = await this.options.labels?.(task).catch(() => undefined);
        return extra?.runtime ? { runtime: extra.runtime } : {};
      })();
      this.labelSets.set(task, labels);
    }
    return labels;
  }

  private async read(task: MonitoredTask, devices?: ReadonlyMap<string, string>): Promise<{ stats: TaskStats; labels: Record<string, string> }> {
    const labels = await this.labelsOf(task);
    const fromShim = this.options.shimStats?.(task);
    if (fromShim) return { stats: decodeStats(await fromShim), labels };
    return { stats: await this.statsAt(await this.locate(task), devices), labels };
  }

  private async statsAt(where: Location, devices?: ReadonlyMap<string, string>): Promise<TaskStats> {
    if (where.version === 2) return { version: 2, metrics: await readV2Metrics(where.dir) };
    return { version: 1, metrics: await readV1Metrics(where.dirs, this.procRoot, devices) };
  }

  /** Every task's statistics, at most `maxAgeMs` old; concurrent callers share one read. */
  samples(): Promise<TaskSample[]> {
    const at = performance.now();
    if (this.cached && at - this.cached.at <= this.maxAgeMs) return this.cached.samples;
    const samples = this.collect();
    this.cached = { at, samples };
    return samples;
  }

  private async collect(): Promise<TaskSample[]> {
    const tasks = [...this.options.tasks()];
    const live = new Set(tasks.map((t) => `${t.namespace}/${t.id}`));
    for (const key of this.oomCounts.keys()) if (!live.has(key)) this.oomCounts.delete(key);
    // block device names once per collection, not once per task
    let devices: ReadonlyMap<string, string> | undefined;
    if (tasks.length > 0 && (await this.mode()) !== 'unified') devices = readDevices(this.procRoot);
    const out = await mapLimit(tasks, this.concurrency, async (task): Promise<TaskSample | undefined> => {
      try {
        const { stats, labels } = await this.read(task, devices);
        return { id: task.id, namespace: task.namespace, labels, stats };
      } catch (err) {
        // a task that exited between the listing and the read has no cgroup left: not an error
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ESRCH' && !isNotFound(err)) this.options.log?.warn({ id: task.id, namespace: task.namespace, error: String(err) }, 'stat task');
        this.locations.delete(task);
        return undefined;
      }
    });
    return out.filter((s) => s !== undefined);
  }

  /** Counts a `/tasks/oom` event of a task (the shim publishes it; the monitor only counts). */
  recordOOM(namespace: string, id: string): void {
    const key = `${namespace}/${id}`;
    this.oomCounts.set(key, (this.oomCounts.get(key) ?? 0) + 1);
  }

  /** OOM events seen per running task. */
  oomCount(namespace: string, id: string): number {
    return this.oomCounts.get(`${namespace}/${id}`) ?? 0;
  }

  /**
   * containerd's `container_*` families of every task, in the Prometheus text format
   * (families apart by a blank line, as prom-client prints its own; nothing with
   * `no_prometheus`), one part per family: a scrape of 50 containers has ~5,000 samples,
   * ~600 kB that the daemon writes out part by part without joining them.
   */
  async renderMetrics(): Promise<string[]> {
    if (this.options.prometheus === false) return [];
    const unified = (await this.mode()) === 'unified';
    const families: readonly Family<V1Metrics | V2Metrics>[] = (unified ? v2Families : v1Families) as readonly Family<V1Metrics | V2Metrics>[];
    const samples = (await this.samples()).filter((s) => s.stats.version === (unified ? 2 : 1));
    const tasks = samples.map((s) => {
      const base: Array<[string, string]> = [
        ['container_id', s.id],
        ['namespace', s.namespace],
        ...Object.entries(s.labels),
      ];
      base.sort(byName);
      return { metrics: s.stats.metrics, base, labels: formatLabels(base), oom: this.oomCount(s.namespace, s.id) };
    });
    const out: string[] = [];
    for (const family of families) {
      let text = `${out.length > 0 ? '\n' : ''}# HELP ${family.name} ${escapeHelp(family.help)}\n# TYPE ${family.name} gauge\n`;
      const { value: scalar } = family;
      if (scalar) {
        const prefix = `${family.name}{`;
        for (const t of tasks) {
          const value = scalar(t.metrics);
          if (value !== undefined) text += `${prefix}${t.labels}} ${Number(value)}\n`;
        }
        out.push(text);
        continue;
      }
      for (const t of tasks) {
        for (const [value, values] of family.samples(t.metrics)) {
          let labels = t.labels;
          if (family.labels.length > 0) {
            const all: Array<[string, string]> = [...t.base, ...family.labels.map((name, i): [string, string] => [name, values[i] ?? ''])];
            labels = formatLabels(all.sort(byName));
          }
          text += `${family.name}{${labels}} ${Number(value)}\n`;
        }
      }
      out.push(text);
    }
    if (!unified) {
      // v1 has no OOM counter in its statistics: containerd counts the OOM events it gets
      let text = `\n# HELP container_memory_oom_total ${OOM_HELP}\n# TYPE container_memory_oom_total counter\n`;
      for (const t of tasks) text += `container_memory_oom_total{${t.labels}} ${t.oom}\n`;
      out.push(text);
    }
    return out;
  }
}

/** A shim's Stats answer: cgroup v1 or v2 metrics. */
function decodeStats(any: Any | undefined): TaskStats {
  if (!any) throw new Error('the shim answered no statistics');
  if (isType(any, V1Metrics)) return { version: 1, metrics: unpackAs(any, V1Metrics) };
  if (isType(any, V2Metrics)) return { version: 2, metrics: unpackAs(any, V2Metrics) };
  throw new Error(`statistics of an unknown type ${JSON.stringify(any.typeUrl)}`);
}

/** Label pairs in name order, as Go's Prometheus client prints them. */
const byName = (a: readonly [string, string], b: readonly [string, string]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

/** `name="value",…` with the text format's escapes (backslash, double quote, newline). */
const formatLabels = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.map(([name, value]) => `${name}="${/[\\\n"]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value}"`).join(',');

/** A HELP text with the text format's escapes (backslash, newline). */
const escapeHelp = (help: string): string => help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
