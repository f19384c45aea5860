// containerd 1.6's per-container metric families (metrics/cgroups/v1 and v2): names, help,
// units and labels as containerd's Prometheus endpoint shows them, each with the
// values it takes from one task's Metrics.
import type { BlkIOEntry, Metrics as V1Metrics } from '@containerd-ts/api/types/cgroups-v1';
import type { Metrics as V2Metrics } from '@containerd-ts/api/types/cgroups-v2';

/** One sample of a family for one task: value and the family's extra label values. */
export type Sample = readonly [value: bigint | number, labels: readonly string[]];

export interface Family<S> {
  /** Full name, `container_<name>_<unit>`. */
  readonly name: string;
  readonly help: string;
  /** Labels after `container_id` and `namespace`. */
  readonly labels: readonly string[];
  samples(stats: S): Sample[];
  /** A family without labels of its own: its one value for a task, if it has one (no arrays made per sample). */
  readonly value?: (stats: S) => bigint | undefined;
}

const fullName = (name: string, unit: string) => `container_${name}_${unit}`;

function scalar<S>(name: string, help: string, unit: string, get: (s: S) => bigint | undefined): Family<S> {
  return {
    name: fullName(name, unit),
    help,
    labels: [],
    samples: (s) => {
      const v = get(s);
      return v === undefined ? [] : [[v, []]];
    },
    value: get,
  };
}

function labelled<S>(name: string, help: string, unit: string, labels: string[], samples: (s: S) => Sample[]): Family<S> {
  return { name: fullName(name, unit), help, labels, samples };
}

type BlkIO = NonNullable<V1Metrics['blkio']>;
function blkio(name: string, help: string, unit: string, entries: (b: BlkIO) => BlkIOEntry[]): Family<V1Metrics> {
  return labelled(name, help, unit, ['op', 'device', 'major', 'minor'], (s) =>
    s.blkio ? entries(s.blkio).map((e) => [e.value, [e.op, e.device, String(e.major), String(e.minor)]]) : [],
  );
}

/** cgroup v1 families, in containerd's order (pids, cpu, memory, hugetlb, blkio). */
export const v1Families: readonly Family<V1Metrics>[] = [
  scalar('pids', 'The limit to the number of pids allowed', 'limit', (s) => s.pids?.limit),
  scalar('pids', 'The current number of pids', 'current', (s) => s.pids?.current),
  scalar('cpu_total', 'The total cpu time', 'nanoseconds', (s) => s.cpu?.usage?.total),
  scalar('cpu_kernel', 'The total kernel cpu time', 'nanoseconds', (s) => s.cpu?.usage?.kernel),
  scalar('cpu_user', 'The total user cpu time', 'nanoseconds', (s) => s.cpu?.usage?.user),
  labelled('per_cpu', 'The total cpu time per cpu', 'nanoseconds', ['cpu'], (s) => (s.cpu?.usage?.perCpu ?? []).map((v, i) => [v, [String(i)]])),
  scalar('cpu_throttle_periods', 'The total cpu throttle periods', 'total', (s) => s.cpu?.throttling?.periods),
  scalar('cpu_throttled_periods', 'The total cpu throttled periods', 'total', (s) => s.cpu?.throttling?.throttledPeriods),
  scalar('cpu_throttled_time', 'The total cpu throttled time', 'nanoseconds', (s) => s.cpu?.throttling?.throttledTime),
  scalar('memory_cache', 'The cache amount used', 'bytes', (s) => s.memory?.cache),
  scalar('memory_rss', 'The rss amount used', 'bytes', (s) => s.memory?.rss),
  scalar('memory_rss_huge', 'The rss_huge amount used', 'bytes', (s) => s.memory?.rssHuge),
  scalar('memory_mapped_file', 'The mapped_file amount used', 'bytes', (s) => s.memory?.mappedFile),
  scalar('memory_dirty', 'The dirty amount', 'bytes', (s) => s.memory?.dirty),
  scalar('memory_writeback', 'The writeback amount', 'bytes', (s) => s.memory?.writeback),
  scalar('memory_pgpgin', 'The pgpgin amount', 'bytes', (s) => s.memory?.pgPgIn),
  scalar('memory_pgpgout', 'The pgpgout amount', 'bytes', (s) => s.memory?.pgPgOut),
  scalar('memory_pgfault', 'The pgfault amount', 'bytes', (s) => s.memory?.pgFault),
  scalar('memory_pgmajfault', 'The pgmajfault amount', 'bytes', (s) => s.memory?.pgMajFault),
  scalar('memory_inactive_anon', 'The inactive_anon amount', 'bytes', (s) => s.memory?.inactiveAnon),
  scalar('memory_active_anon', 'The active_anon amount', 'bytes', (s) => s.memory?.activeAnon),
  scalar('memory_inactive_file', 'The inactive_file amount', 'bytes', (s) => s.memory?.inactiveFile),
  scalar('memory_active_file', 'The active_file amount', 'bytes', (s) => s.memory?.activeFile),
  scalar('memory_unevictable', 'The unevictable amount', 'bytes', (s) => s.memory?.unevictable),
  scalar('memory_hierarchical_memory_limit', 'The hierarchical_memory_limit amount', 'bytes', (s) => s.memory?.hierarchicalMemoryLimit),
  scalar('memory_hierarchical_memsw_limit', 'The hierarchical_memsw_limit amount', 'bytes', (s) => s.memory?.hierarchicalSwapLimit),
  scalar('memory_total_cache', 'The total_cache amount used', 'bytes', (s) => s.memory?.totalCache),
  scalar('memory_total_rss', 'The total_rss amount used', 'bytes', (s) => s.memory?.totalRss),
  scalar('memory_total_rss_huge', 'The total_rss_huge amount used', 'bytes', (s) => s.memory?.totalRssHuge),
  scalar('memory_total_mapped_file', 'The total_mapped_file amount used', 'bytes', (s) => s.memory?.totalMappedFile),
  scalar('memory_total_dirty', 'The total_dirty amount', 'bytes', (s) => s.memory?.totalDirty),
  scalar('memory_total_writeback', 'The total_writeback amount', 'bytes', (s) => s.memory?.totalWriteback),
  scalar('memory_total_pgpgin', 'The total_pgpgin amount', 'bytes', (s) => s.memory?.totalPgPgIn),
  scalar('memory_total_pgpgout', 'The total_pgpgout amount', 'bytes', (s) => s.memory?.totalPgPgOut),
  scalar('memory_total_pgfault', 'The total_pgfault amount', 'bytes', (s) => s.memory?.totalPgFault),
  scalar('memory_total_pgmajfault', 'The total_pgmajfault amount', 'bytes', (s) => s.memory?.totalPgMajFault),
  scalar('memory_total_inactive_anon', 'The total_inactive_anon amount', 'bytes', (s) => s.memory?.totalInactiveAnon),
  scalar('memory_total_active_anon', 'The total_active_anon amount', 'bytes', (s) => s.memory?.totalActiveAnon),
  scalar('memory_total_inactive_file', 'The total_inactive_file amount', 'bytes', (s) => s.memory?.totalInactiveFile),
  scalar('memory_total_active_file', 'The total_active_file amount', 'bytes', (s) => s.memory?.totalActiveFile),
  scalar('memory_total_unevictable', 'The total_unevictable amount', 'bytes', (s) => s.memory?.totalUnevictable),
  scalar('memory_usage_failcnt', 'The usage failcnt', 'total', (s) => s.memory?.usage?.failcnt),
  scalar('memory_usage_limit', 'The memory limit', 'bytes', (s) => s.memory?.usage?.limit),
  scalar('memory_usage_max', 'The memory maximum usage', 'bytes', (s) => s.memory?.usage?.max),
  scalar('memory_usage_usage', 'The memory usage', 'bytes', (s) => s.memory?.usage?.usage),
  scalar('memory_swap_failcnt', 'The swap failcnt', 'total', (s) => s.memory?.swap?.failcnt),
  scalar('memory_swap_limit', 'The swap limit', 'bytes', (s) => s.memory?.swap?.limit),
  scalar('memory_swap_max', 'The swap maximum usage', 'bytes', (s) => s.memory?.swap?.max),
  scalar('memory_swap_usage', 'The swap usage', 'bytes', (s) => s.memory?.swap?.usage),
  scalar('memory_kernel_failcnt', 'The kernel failcnt', 'total', (s) => s.memory?.kernel?.failcnt),
  scalar('memory_kernel_limit', 'The kernel limit', 'bytes', (s) => s.memory?.kernel?.limit),
  scalar('memory_kernel_max', 'The kernel maximum usage', 'bytes', (s) => s.memory?.kernel?.max),
  scalar('memory_kernel_usage', 'The kernel usage', 'bytes', (s) => s.memory?.kernel?.usage),
  scalar('memory_kerneltcp_failcnt', 'The kerneltcp failcnt', 'total', (s) => s.memory?.kernelTcp?.failcnt),
  scalar('memory_kerneltcp_limit', 'The kerneltcp limit', 'bytes', (s) => s.memory?.kernelTcp?.limit),
  scalar('memory_kerneltcp_max', 'The kerneltcp maximum usage', 'bytes', (s) => s.memory?.kernelTcp?.max),
  scalar('memory_kerneltcp_usage', 'The kerneltcp usage', 'bytes', (s) => s.memory?.kernelTcp?.usage),
  labelled('hugetlb_usage', 'The hugetlb usage', 'bytes', ['page'], (s) => s.hugetlb.map((h) => [h.usage, [h.pagesize]])),
  labelled('hugetlb_failcnt', 'The hugetlb failcnt', 'total', ['page'], (s) => s.hugetlb.map((h) => [h.failcnt, [h.pagesize]])),
  labelled('hugetlb_max', 'The hugetlb maximum usage', 'bytes', ['page'], (s) => s.hugetlb.map((h) => [h.max, [h.pagesize]])),
  blkio('blkio_io_merged_recursive', 'The blkio io merged recursive', 'total', (b) => b.ioMergedRecursive),
  blkio('blkio_io_queued_recursive', 'The blkio io queued recursive', 'total', (b) => b.ioQueuedRecursive),
  blkio('blkio_io_service_bytes_recursive', 'The blkio io service bytes recursive', 'bytes', (b) => b.ioServiceBytesRecursive),
  blkio('blkio_io_service_time_recursive', 'The blkio io service time recursive', 'total', (b) => b.ioServiceTimeRecursive),
  blkio('blkio_io_serviced_recursive', 'The blkio io serviced recursive', 'total', (b) => b.ioServicedRecursive),
  blkio('blkio_io_time_recursive', 'The blkio io time recursive', 'total', (b) => b.ioTimeRecursive),
  blkio('blkio_sectors_recursive', 'The blkio sectors recursive', 'total', (b) => b.sectorsRecursive),
];

/** cgroup v2 families, in containerd's order (pids, cpu, memory, io). */
export const v2Families: readonly Family<V2Metrics>[] = [
  scalar('pids', 'The limit to the number of pids allowed (cgroup v2)', 'limit', (s) => s.pids?.limit),
  scalar('pids', 'The current number of pids (cgroup v2)', 'current', (s) => s.pids?.current),
  scalar('cpu_usage_usec', 'Total cpu usage (cgroup v2)', 'microseconds', (s) => s.cpu?.usageUsec),
  scalar('cpu_user_usec', 'Current cpu usage in user space (cgroup v2)', 'microseconds', (s) => s.cpu?.userUsec),
  scalar('cpu_system_usec', 'Current cpu usage in kernel space (cgroup v2)', 'microseconds', (s) => s.cpu?.systemUsec),
  scalar('cpu_nr_periods', 'Current cpu number of periods (only if controller is enabled)', 'total', (s) => s.cpu?.nrPeriods),
  scalar('cpu_nr_throttled', 'Total number of times tasks have been throttled (only if controller is enabled)', 'total', (s) => s.cpu?.nrThrottled),
  scalar('cpu_throttled_usec', 'Total time duration for which tasks have been throttled. (only if controller is enabled)', 'microseconds', (s) => s.cpu?.throttledUsec),
  scalar('memory_usage', 'Current memory usage (cgroup v2)', 'bytes', (s) => s.memory?.usage),
  scalar('memory_usage_limit', 'Current memory usage limit (cgroup v2)', 'bytes', (s) => s.memory?.usageLimit),
  scalar('memory_swap_usage', 'Current swap usage (cgroup v2)', 'bytes', (s) => s.memory?.swapUsage),
  scalar('memory_swap_limit', 'Current swap usage limit (cgroup v2)', 'bytes', (s) => s.memory?.swapLimit),
  scalar('memory_file_mapped', 'The file_mapped amount', 'bytes', (s) => s.memory?.fileMapped),
  scalar('memory_file_dirty', 'The file_dirty amount', 'bytes', (s) => s.memory?.fileDirty),
  scalar('memory_file_writeback', 'The file_writeback amount', 'bytes', (s) => s.memory?.fileWriteback),
  scalar('memory_pgactivate', 'The pgactivate amount', 'bytes', (s) => s.memory?.pgactivate),
  scalar('memory_pgdeactivate', 'The pgdeactivate amount', 'bytes', (s) => s.memory?.pgdeactivate),
  scalar('memory_pgfault', 'The pgfault amount', 'bytes', (s) => s.memory?.pgfault),
  scalar('memory_pgmajfault', 'The pgmajfault amount', 'bytes', (s) => s.memory?.pgmajfault),
  scalar('memory_pglazyfree', 'The pglazyfree amount', 'bytes', (s) => s.memory?.pglazyfree),
  scalar('memory_pgrefill', 'The pgrefill amount', 'bytes', (s) => s.memory?.pgrefill),
  scalar('memory_pglazyfreed', 'The pglazyfreed amount', 'bytes', (s) => s.memory?.pglazyfreed),
  scalar('memory_pgscan', 'The pgscan amount', 'bytes', (s) => s.memory?.pgscan),
  scalar('memory_pgsteal', 'The pgsteal amount', 'bytes', (s) => s.memory?.pgsteal),
  scalar('memory_inactive_anon', 'The inactive_anon amount', 'bytes', (s) => s.memory?.inactiveAnon),
  scalar('memory_active_anon', 'The active_anon amount', 'bytes', (s) => s.memory?.activeAnon),
  scalar('memory_inactive_file', 'The inactive_file amount', 'bytes', (s) => s.memory?.inactiveFile),
  scalar('memory_active_file', 'The active_file amount', 'bytes', (s) => s.memory?.activeFile),
  scalar('memory_unevictable', 'The unevictable amount', 'bytes', (s) => s.memory?.unevictable),
  scalar('memory_anon', 'The anon amount', 'bytes', (s) => s.memory?.anon),
  scalar('memory_file', 'The file amount', 'bytes', (s) => s.memory?.file),
  scalar('memory_kernel_stack', 'The kernel_stack amount', 'bytes', (s) => s.memory?.kernelStack),
  scalar('memory_slab', 'The slab amount', 'bytes', (s) => s.memory?.slab),
  scalar('memory_sock', 'The sock amount', 'bytes', (s) => s.memory?.sock),
  scalar('memory_shmem', 'The shmem amount', 'bytes', (s) => s.memory?.shmem),
  scalar('memory_anon_thp', 'The anon_thp amount', 'bytes', (s) => s.memory?.anonThp),
  scalar('memory_slab_reclaimable', 'The slab_reclaimable amount', 'bytes', (s) => s.memory?.slabReclaimable),
  scalar('memory_slab_unreclaimable', 'The slab_unreclaimable amount', 'bytes', (s) => s.memory?.slabUnreclaimable),
  scalar('memory_workingset_refault', 'The workingset_refault amount', 'bytes', (s) => s.memory?.workingsetRefault),
  scalar('memory_workingset_activate', 'The workingset_activate amount', 'bytes', (s) => s.memory?.workingsetActivate),
  scalar('memory_workingset_nodereclaim', 'The workingset_nodereclaim amount', 'bytes', (s) => s.memory?.workingsetNodereclaim),
  scalar('memory_thp_fault_alloc', 'The thp_fault_alloc amount', 'bytes', (s) => s.memory?.thpFaultAlloc),
  scalar('memory_thp_collapse_alloc', 'The thp_collapse_alloc amount', 'bytes', (s) => s.memory?.thpCollapseAlloc),
  scalar('memory_oom', 'The number of times a container has received an oom event', 'total', (s) => s.memoryEvents?.oom),
  labelled('io_rbytes', 'IO bytes read', 'bytes', ['major', 'minor'], (s) => (s.io?.usage ?? []).map((e) => [e.rbytes, [String(e.major), String(e.minor)]])),
  labelled('io_wbytes', 'IO bytes written', 'bytes', ['major', 'minor'], (s) => (s.io?.usage ?? []).map((e) => [e.wbytes, [String(e.major), String(e.minor)]])),
  labelled('io_rios', 'Number of read IOs', 'total', ['major', 'minor'], (s) => (s.io?.usage ?? []).map((e) => [e.rios, [String(e.major), String(e.minor)]])),
  labelled('io_wios', 'Number of write IOs', 'total', ['major', 'minor'], (s) => (s.io?.usage ?? []).map((e) => [e.wios, [String(e.major), String(e.minor)]])),
];
