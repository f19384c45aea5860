// Reads a cgroup v1 hierarchy's statistics into containerd's cgroups v1 Metrics, file by
// file as github.com/containerd/cgroups does (the runc shim's Stats answers the same).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BlkIOEntry, HugetlbStat, MemoryEntry, Metrics } from '@containerd-ts/api/types/cgroups-v1';

// cgroupfs files are generated from kernel memory (a read never waits on a disk): one
// synchronous read costs microseconds, far less than a round trip through libuv's thread
// pool. The monitor yields to the event loop between tasks.
const readFile = async (path: string, encoding: 'utf8'): Promise<string> => readFileSync(path, encoding);
const readdir = async (path: string): Promise<string[]> => readdirSync(path);

/** Directory of the task's cgroup per v1 controller (`memory` → `/sys/fs/cgroup/memory/ns/id`). */
export type V1CgroupDirs = ReadonlyMap<string, string>;

const NS_PER_SEC = 1_000_000_000n;
// USER_HZ: the unit of cpuacct.stat; 100 on every Linux ABI Node runs on.
const CLOCK_TICKS = 100n;

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function readUint(path: string): Promise<bigint> {
  const text = (await readFile(path, 'utf8')).trim();
  // memory limits of an unlimited cgroup print as a large number; "max" means no limit
  if (text === 'max') return 0n;
  return BigInt(text);
}

/** `key value` lines (memory.stat, cpu.stat, memory.oom_control) as a map. */
export function parseKV(text: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    // cgroupfs writes `key value` with one space: no regex for those (~40 lines per task and scrape)
    const sp = line.indexOf(' ');
    if (sp > 0 && sp < line.length - 1 && line.indexOf(' ', sp + 1) < 0 && line.indexOf('\t') < 0) {
      out.set(line.slice(0, sp), BigInt(line.slice(sp + 1)));
      continue;
    }
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined) continue;
    out.set(key, BigInt(value));
  }
  return out;
}

const emptyEntry = (): MemoryEntry => ({ limit: 0n, usage: 0n, max: 0n, failcnt: 0n });

async function memoryStats(dir: string, m: Metrics): Promise<void> {
  const raw = parseKV(await readFile(join(dir, 'memory.stat'), 'utf8'));
  const v = (k: string) => raw.get(k) ?? 0n;
  const memory = {
    cache: v('cache'),
    rss: v('rss'),
    rssHuge: v('rss_huge'),
    mappedFile: v('mapped_file'),
    dirty: v('dirty'),
    writeback: v('writeback'),
    pgPgIn: v('pgpgin'),
    pgPgOut: v('pgpgout'),
    pgFault: v('pgfault'),
    pgMajFault: v('pgmajfault'),
    inactiveAnon: v('inactive_anon'),
    activeAnon: v('active_anon'),
    inactiveFile: v('inactive_file'),
    activeFile: v('active_file'),
    unevictable: v('unevictable'),
    hierarchicalMemoryLimit: v('hierarchical_memory_limit'),
    hierarchicalSwapLimit: v('hierarchical_memsw_limit'),
    totalCache: v('total_cache'),
    totalRss: v('total_rss'),
    totalRssHuge: v('total_rss_huge'),
    totalMappedFile: v('total_mapped_file'),
    totalDirty: v('total_dirty'),
    totalWriteback: v('total_writeback'),
    totalPgPgIn: v('total_pgpgin'),
    totalPgPgOut: v('total_pgpgout'),
    totalPgFault: v('total_pgfault'),
    totalPgMajFault: v('total_pgmajfault'),
    totalInactiveAnon: v('total_inactive_anon'),
    totalActiveAnon: v('total_active_anon'),
    totalInactiveFile: v('total_inactive_file'),
    totalActiveFile: v('total_active_file'),
    totalUnevictable: v('total_unevictable'),
    usage: emptyEntry(),
    swap: emptyEntry(),
    kernel: emptyEntry(),
    kernelTcp: emptyEntry(),
  };
  const oom = parseKV(await readFile(join(dir, 'memory.oom_control'), 'utf8').catch(() => ''));
  m.memoryOomControl = { oomKillDisable: oom.get('oom_kill_disable') ?? 0n, underOom: oom.get('under_oom') ?? 0n, oomKill: oom.get('oom_kill') ?? 0n };
  const modules: Array<[string, MemoryEntry]> = [
    ['memory', memory.usage],
    ['memory.memsw', memory.swap],
    ['memory.kmem', memory.kernel],
    ['memory.kmem.tcp', memory.kernelTcp],
  ];
  await Promise.all(
    modules.map(async ([prefix, entry]) => {
      try {
        entry.usage = await readUint(join(dir, `${prefix}.usage_in_bytes`));
        entry.max = await readUint(join(dir, `${prefix}.max_usage_in_bytes`));
        entry.failcnt = await readUint(join(dir, `${prefix}.failcnt`));
        entry.limit = await readUint(join(dir, `${prefix}.limit_in_bytes`));
      } catch (err) {
        // swap accounting (memsw) and kmem may be compiled out: containerd ignores them too
        if (!isMissing(err) || prefix === 'memory') throw err;
      }
    }),
  );
  m.memory = memory;
}

async function cpuacctStats(dir: string, m: Metrics): Promise<void> {
  const stat = (await readFile(join(dir, 'cpuacct.stat'), 'utf8')).split(/\s+/);
  if (stat[0] !== 'user' || stat[2] !== 'system') throw new Error(`${join(dir, 'cpuacct.stat')} is expected to have 4 fields`);
  const usage = m.cpu?.usage;
  if (!usage) return;
  usage.user = (BigInt(stat[1] ?? '0') * NS_PER_SEC) / CLOCK_TICKS;
  usage.kernel = (BigInt(stat[3] ?? '0') * NS_PER_SEC) / CLOCK_TICKS;
  usage.total = await readUint(join(dir, 'cpuacct.usage'));
  usage.perCpu = (await readFile(join(dir, 'cpuacct.usage_percpu'), 'utf8'))
    .split(/\s+/)
    .filter(Boolean)
    .map((x) => BigInt(x));
}

async function cpuStats(dir: string, m: Metrics): Promise<void> {
  const raw = parseKV(await readFile(join(dir, 'cpu.stat'), 'utf8'));
  const throttling = m.cpu?.throttling;
  if (!throttling) return;
  throttling.periods = raw.get('nr_periods') ?? 0n;
  throttling.throttledPeriods = raw.get('nr_throttled') ?? 0n;
  throttling.throttledTime = raw.get('throttled_time') ?? 0n;
}

async function pidsStats(dir: string, m: Metrics): Promise<void> {
  m.pids = { current: await readUint(join(dir, 'pids.current')), limit: await readUint(join(dir, 'pids.max')) };
}

async function hugetlbStats(dir: string, m: Metrics): Promise<void> {
  const sizes = (await readdir(dir)).flatMap((f) => /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(f)?.[1] ?? []);
  m.hugetlb = await Promise.all(
    sizes.map(
      async (size): Promise<HugetlbStat> => ({
        pagesize: size,
        usage: await readUint(join(dir, `hugetlb.${size}.usage_in_bytes`)),
        max: await readUint(join(dir, `hugetlb.${size}.max_usage_in_bytes`)),
        failcnt: await readUint(join(dir, `hugetlb.${size}.failcnt`)),
      }),
    ),
  );
}

/** /proc/partitions as `major:minor` → `/dev/<name>` (blkio entries name their device). */
export function parsePartitions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(2)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const key = `${f[0]}:${f[1]}`;
    if (!out.has(key)) out.set(key, `/dev/${f[3]}`);
  }
  return out;
}

/** One blkio file: `major:minor [op] value` lines (the `Total` line skipped). */
export function parseBlkio(text: string, devices: ReadonlyMap<string, string>): BlkIOEntry[] {
  const out: BlkIOEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/[\s:]+/).filter(Boolean);
    if (f.length < 3) continue;
    const [major = '0', minor = '0'] = f;
    const op = f.length === 4 ? (f[2] ?? '') : '';
    out.push({ op, device: devices.get(`${major}:${minor}`) ?? '', major: BigInt(major), minor: BigInt(minor), value: BigInt(f[f.length === 4 ? 3 : 2] ?? '0') });
  }
  return out;
}

const BLKIO_RECURSIVE = [
  ['sectors_recursive', 'sectorsRecursive'],
  ['io_service_bytes_recursive', 'ioServiceBytesRecursive'],
  ['io_serviced_recursive', 'ioServicedRecursive'],
  ['io_queued_recursive', 'ioQueuedRecursive'],
  ['io_service_time_recursive', 'ioServiceTimeRecursive'],
  ['io_wait_time_recursive', 'ioWaitTimeRecursive'],
  ['io_merged_recursive', 'ioMergedRecursive'],
  ['time_recursive', 'ioTimeRecursive'],
] as const;
const BLKIO_THROTTLE = [
  ['throttle.io_serviced', 'ioServicedRecursive'],
  ['throttle.io_service_bytes', 'ioServiceBytesRecursive'],
] as const;

async function blkioStats(dir: string, devices: ReadonlyMap<string, string>, m: Metrics): Promise<void> {
  const blkio: NonNullable<Metrics['blkio']> = {
    ioServiceBytesRecursive: [],
    ioServicedRecursive: [],
    ioQueuedRecursive: [],
    ioServiceTimeRecursive: [],
    ioWaitTimeRecursive: [],
    ioMergedRecursive: [],
    ioTimeRecursive: [],
    sectorsRecursive: [],
  };
  m.blkio = blkio;
  const read = async (settings: ReadonlyArray<readonly [string, keyof typeof blkio]>) => {
    let size = 0;
    for (const [file, field] of settings) {
      blkio[field] = parseBlkio(await readFile(join(dir, `blkio.${file}`), 'utf8'), devices);
      size += blkio[field].length;
    }
    return size;
  };
  // CFQ's recursive files first; when the cgroup's devices use another scheduler, the throttle files
  // (a stat rather than a failed read: no exception per task and scrape where CFQ is absent)
  const hasCfq = existsSync(join(dir, 'blkio.io_serviced_recursive'));
  if (hasCfq && (await read(BLKIO_RECURSIVE)) > 0) return;
  await read(BLKIO_THROTTLE);
}

/** The block devices blkio entries are named after, from `<procRoot>/partitions`. */
export function readDevices(procRoot = '/proc'): Map<string, string> {
  return parsePartitions(readFileSync(join(procRoot, 'partitions'), 'utf8'));
}

/**
 * Reads every controller the task has a directory for; a controller not mounted is left out.
 * `devices` (from readDevices) may be shared by the tasks of one collection.
 */
export async function readV1Metrics(dirs: V1CgroupDirs, procRoot = '/proc', devices?: ReadonlyMap<string, string>): Promise<Metrics> {
  const m: Metrics = {
    hugetlb: [],
    pids: undefined,
    cpu: { usage: { total: 0n, kernel: 0n, user: 0n, perCpu: [] }, throttling: { periods: 0n, throttledPeriods: 0n, throttledTime: 0n } },
    memory: undefined,
    blkio: undefined,
    rdma: undefined,
    network: [],
    cgroupStats: undefined,
    memoryOomControl: undefined,
  };
  const readers: Array<[string, (dir: string) => Promise<void>]> = [
    ['pids', (d) => pidsStats(d, m)],
    ['cpu', (d) => cpuStats(d, m)],
    ['cpuacct', (d) => cpuacctStats(d, m)],
    ['memory', (d) => memoryStats(d, m)],
    ['blkio', (d) => blkioStats(d, devices ?? readDevices(procRoot), m)],
    ['hugetlb', (d) => hugetlbStats(d, m)],
  ];
  await Promise.all(
    readers.map(async ([controller, read]) => {
      const dir = dirs.get(controller);
      if (dir === undefined) return;
      await read(dir);
    }),
  );
  return m;
}
