// Reads a cgroup v2 (unified) directory's statistics into containerd's cgroups v2 Metrics,
// with the same files and the same fallbacks as github.com/containerd/cgroups/v2 Stat.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HugeTlbStat, IOEntry, Metrics } from '@containerd-ts/api/types/cgroups-v2';

// cgroupfs files are generated from kernel memory (a read never waits on a disk): one
// synchronous read costs microseconds, far less than a round trip through libuv's thread
// pool. The monitor yields to the event loop between tasks.
const readFile = async (path: string, encoding: 'utf8'): Promise<string> => readFileSync(path, encoding);
const readdir = async (path: string): Promise<string[]> => readdirSync(path);

const MAX_UINT64 = 18446744073709551615n;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** `key value` lines; values that are not integers (as `max`) kept as strings. */
function parseKV(text: string | undefined, out: Map<string, bigint | string>): void {
  for (const line of (text ?? '').split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (!key || value === undefined) continue;
    out.set(key, /^\d+$/.test(value) ? BigInt(value) : value);
  }
}

const uint = (raw: ReadonlyMap<string, bigint | string>, key: string): bigint => {
  const v = raw.get(key);
  return typeof v === 'bigint' ? v : 0n;
};

/** A single-value file: its number, `max` as 2^64-1 for pids (as containerd), 0 when absent or `max` elsewhere. */
async function singleValue(path: string): Promise<bigint> {
  const text = (await readText(path))?.trim();
  return text && /^\d+$/.test(text) ? BigInt(text) : 0n;
}

/** io.stat: `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …` per device. */
export function parseIoStat(text: string | undefined): IOEntry[] {
  const out: IOEntry[] = [];
  for (const line of (text ?? '').split('\n')) {
    const parts = line.trim().split(' ');
    if (parts.length < 2) continue;
    const majmin = /^(\d+):(\d+)$/.exec(parts[0] ?? '');
    if (!majmin) continue;
    const entry: IOEntry = { major: BigInt(majmin[1] ?? '0'), minor: BigInt(majmin[2] ?? '0'), rbytes: 0n, wbytes: 0n, rios: 0n, wios: 0n };
    for (const kv of parts.slice(1)) {
      const [k, v] = kv.split('=');
      if (v === undefined || !/^\d+$/.test(v)) continue;
      if (k === 'rbytes' || k === 'wbytes' || k === 'rios' || k === 'wios') entry[k] = BigInt(v);
    }
    out.push(entry);
  }
  return out;
}

export async function readV2Metrics(dir: string): Promise<Metrics> {
  const controllers = ((await readText(join(dir, 'cgroup.controllers'))) ?? '').trim().split(/\s+/);
  const raw = new Map<string, bigint | string>();
  // as containerd's cgroups library: cpu.stat is read only when the cpu controller is enabled
  for (const c of ['cpu', 'memory']) {
    if (controllers.includes(c)) parseKV(await readText(join(dir, `${c}.stat`)), raw);
  }
  for (const file of ['pids.current', 'pids.max']) {
    const text = (await readText(join(dir, file)))?.trim();
    if (text !== undefined) raw.set(file, /^\d+$/.test(text) ? BigInt(text) : text);
  }
  const events = new Map<string, bigint | string>();
  parseKV(await readText(join(dir, 'memory.events')), events);
  const pid = (key: string): bigint => {
    const v = raw.get(key);
    if (v === 'max') return MAX_UINT64;
    return typeof v === 'bigint' ? v : 0n;
  };
  const m = (k: string) => uint(raw, k);
  const sizes = (await readdir(dir)).flatMap((f) => /^hugetlb\.([^.]+)\.current$/.exec(f)?.[1] ?? []);
  const hugetlb: HugeTlbStat[] = await Promise.all(
    sizes.map(async (size) => ({
      pagesize: size,
      current: await singleValue(join(dir, `hugetlb.${size}.current`)),
      max: await singleValue(join(dir, `hugetlb.${size}.max`)),
    })),
  );
  return {
    pids: { current: pid('pids.current'), limit: pid('pids.max') },
    cpu: {
      usageUsec: m('usage_usec'),
      userUsec: m('user_usec'),
      systemUsec: m('system_usec'),
      nrPeriods: m('nr_periods'),
      nrThrottled: m('nr_throttled'),
      throttledUsec: m('throttled_usec'),
    },
    memory: {
      anon: m('anon'),
      file: m('file'),
      kernelStack: m('kernel_stack'),
      slab: m('slab'),
      sock: m('sock'),
      shmem: m('shmem'),
      fileMapped: m('file_mapped'),
      fileDirty: m('file_dirty'),
      fileWriteback: m('file_writeback'),
      anonThp: m('anon_thp'),
      inactiveAnon: m('inactive_anon'),
      activeAnon: m('active_anon'),
      inactiveFile: m('inactive_file'),
      activeFile: m('active_file'),
      unevictable: m('unevictable'),
      slabReclaimable: m('slab_reclaimable'),
      slabUnreclaimable: m('slab_unreclaimable'),
      pgfault: m('pgfault'),
      pgmajfault: m('pgmajfault'),
      workingsetRefault: m('workingset_refault'),
      workingsetActivate: m('workingset_activate'),
      workingsetNodereclaim: m('workingset_nodereclaim'),
      pgrefill: m('pgrefill'),
      pgscan: m('pgscan'),
      pgsteal: m('pgsteal'),
      pgactivate: m('pgactivate'),
      pgdeactivate: m('pgdeactivate'),
      pglazyfree: m('pglazyfree'),
      pglazyfreed: m('pglazyfreed'),
      thpFaultAlloc: m('thp_fault_alloc'),
      thpCollapseAlloc: m('thp_collapse_alloc'),
      usage: await singleValue(join(dir, 'memory.current')),
      usageLimit: await singleValue(join(dir, 'memory.max')),
      swapUsage: await singleValue(join(dir, 'memory.swap.current')),
      swapLimit: await singleValue(join(dir, 'memory.swap.max')),
    },
    memoryEvents:
      events.size > 0
        ? { low: uint(events, 'low'), high: uint(events, 'high'), max: uint(events, 'max'), oom: uint(events, 'oom'), oomKill: uint(events, 'oom_kill') }
        : undefined,
    io: { usage: parseIoStat(await readText(join(dir, 'io.stat'))) },
    rdma: { current: [], limit: [] },
    hugetlb,
  };
}
