import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packAny } from '@containerd-ts/api';
import { Metrics as V1Metrics } from '@containerd-ts/api/types/cgroups-v1';
import { fromGrpcStatus } from '@containerd-ts/errdefs';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v2Families } from './families.js';
import { CgroupsMonitor, type MonitoredTask } from './monitor.js';

const v2Root = fileURLToPath(new URL('../fixtures/v2', import.meta.url));

function task(namespace: string, id: string, pid: number): MonitoredTask {
  return { namespace, id, initPid: pid, pid: async () => pid };
}

/** `name{labels} value` lines of one family in a Prometheus text exposition. */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

const CONTROLLERS = ['memory', 'cpu', 'cpuacct', 'pids', 'blkio'];

describe('CgroupsMonitor on this host (cgroup v1)', () => {
  // a process in a cgroup of its own under every controller, as a container's init is
  let child: ReturnType<typeof spawn>;
  const group = `monitor-test-${process.pid}`;
  beforeAll(async () => {
    // it allocates 8 MiB once moved (memory charged before a move stays with the old cgroup)
    const script = "process.stdin.once('data', () => { globalThis.b = Buffer.alloc(8 << 20, 1); console.log('ok'); setTimeout(() => {}, 60000); })";
    child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'ignore'] });
    for (const c of CONTROLLERS) {
      await mkdir(join('/sys/fs/cgroup', c, group));
      await writeFile(join('/sys/fs/cgroup', c, group, 'cgroup.procs'), String(child.pid));
    }
    const ready = new Promise((r) => child.stdout?.once('data', r));
    child.stdin?.write('go\n');
    await ready;
  });
  afterAll(async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    for (const c of CONTROLLERS) await rmdir(join('/sys/fs/cgroup', c, group));
  });

  it('exposes containerd\'s v1 families for a task, labelled container_id and namespace', async () => {
    const pid = child.pid ?? 0;
    const monitor = new CgroupsMonitor({ tasks: () => [task('monitor-test', 'web', pid)] });
    expect(await monitor.mode()).not.toBe('unified');
    monitor.recordOOM('monitor-test', 'web');
    const text = (await monitor.renderMetrics()).join('');
    expect(text).toContain('# TYPE container_memory_usage_usage_bytes gauge');
    const usage = samples(text, 'container_memory_usage_usage_bytes');
    expect([...usage.keys()]).toEqual(['{container_id="web",namespace="monitor-test"}']);
    expect([...usage.values()][0]).toBeGreaterThan(8 << 20);
    expect(samples(text, 'container_cpu_total_nanoseconds').size).toBe(1);
    expect(samples(text, 'container_pids_current').get('{container_id="web",namespace="monitor-test"}')).toBeGreaterThan(0);
    expect(samples(text, 'container_per_cpu_nanoseconds').has('{container_id="web",cpu="0",namespace="monitor-test"}')).toBe(true);
    expect(text).toContain('# TYPE container_memory_oom_total counter');
    expect(samples(text, 'container_memory_oom_total').get('{container_id="web",namespace="monitor-test"}')).toBe(1);
  });

  it('labels a task\'s samples with its runtime, labels in name order as Go prints them', async () => {
    const monitor = new CgroupsMonitor({ tasks: () => [task('monitor-test', 'web', child.pid ?? 0)], labels: async () => ({ runtime: 'io.containerd.runc.v2' }) });
    const text = (await monitor.renderMetrics()).join('');
    expect(text).toMatch(/^container_pids_current\{container_id="web",namespace="monitor-test",runtime="io\.containerd\.runc\.v2"\} [1-9]/m);
    expect(text).toContain('container_per_cpu_nanoseconds{container_id="web",cpu="0",namespace="monitor-test",runtime="io.containerd.runc.v2"}');
  });

  it('drops a task whose process is gone, and its OOM count', async () => {
    const monitor = new CgroupsMonitor({ tasks: () => [task('monitor-test', 'gone', 2 ** 22 + 1)], maxAgeMs: 0 });
    monitor.recordOOM('monitor-test', 'gone');
    expect(await monitor.samples()).toEqual([]);
  });

  it('no_prometheus: renders nothing', async () => {
    const monitor = new CgroupsMonitor({ tasks: () => [task('monitor-test', 'web', child.pid ?? 0)], prometheus: false });
    expect(await monitor.renderMetrics()).toEqual([]);
  });

  it('shares one read between concurrent scrapes and keeps values at most maxAgeMs', async () => {
    let listed = 0;
    const monitor = new CgroupsMonitor({
      tasks: () => {
        listed++;
        return [task('monitor-test', 'web', child.pid ?? 0)];
      },
      maxAgeMs: 200,
    });
    const [a, b] = await Promise.all([monitor.samples(), monitor.samples()]);
    expect(a).toBe(b);
    expect(listed).toBe(1);
    await new Promise((r) => setTimeout(r, 250));
    await monitor.samples();
    expect(listed).toBe(2);
  });

  it('reads at most `concurrency` tasks at once', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = (id: string): MonitoredTask => ({
      namespace: 'monitor-test',
      id,
      initPid: 0,
      pid: async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        await new Promise((r) => setTimeout(r, 20));
        inFlight--;
        return child.pid ?? 0;
      },
    });
    const monitor = new CgroupsMonitor({ tasks: () => Array.from({ length: 12 }, (_, i) => slow(`t${i}`)), concurrency: 3 });
    expect((await monitor.samples()).length).toBe(12);
    expect(peak).toBe(3);
  });
});

describe('CgroupsMonitor on a recorded cgroup v2 tree', () => {
  let proc: string;
  beforeAll(async () => {
    // a /proc whose mountinfo mounts the recorded tree as the unified hierarchy
    proc = await mkdtemp(join(tmpdir(), 'monitor-v2-'));
    await mkdir(join(proc, 'self'));
    await writeFile(join(proc, 'self', 'mountinfo'), `24 1 0:21 / ${v2Root} rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n`);
    for (const [pid, dir] of [[101, 'limited'], [102, 'unlimited']] as const) {
      await mkdir(join(proc, String(pid)));
      await writeFile(join(proc, String(pid), 'cgroup'), `0::/${dir}\n`);
    }
  });
  afterAll(async () => {
    await rm(proc, { recursive: true, force: true });
  });

  it('renders exactly what prom-client prints for the same samples (format, label order, escapes)', async () => {
    const monitor = new CgroupsMonitor({
      tasks: () => [task('ns1', 'limited', 101), task('ns"2\\', 'unl\nimited', 102)],
      mode: 'unified',
      procRoot: proc,
      labels: async (t) => (t.id === 'limited' ? { runtime: 'io.containerd.runc.v2' } : {}),
    });
    const text = (await monitor.renderMetrics()).join('');
    // the oracle: prom-client's gauges fed the same samples, labels in name order
    const registry = new Registry();
    const samples = await monitor.samples();
    for (const family of v2Families) {
      const gauge = new Gauge({ name: family.name, help: family.help, labelNames: ['container_id', 'namespace', 'runtime', ...family.labels], registers: [registry] });
      for (const s of samples) {
        if (s.stats.version !== 2) throw new Error('a v2 tree read as v1');
        for (const [value, values] of family.samples(s.stats.metrics)) {
          const labels: Record<string, string> = { container_id: s.id, namespace: s.namespace, ...s.labels };
          family.labels.forEach((name, i) => {
            labels[name] = values[i] ?? '';
          });
          gauge.set(Object.fromEntries(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))), Number(value));
        }
      }
    }
    expect(text).toBe(await registry.metrics());
    expect(text).toContain('container_io_rbytes_bytes{container_id="limited",major="254",minor="0",namespace="ns1",runtime="io.containerd.runc.v2"} 1458176');
    expect(text).toContain('container_memory_usage_bytes{container_id="unl\\nimited",namespace="ns\\"2\\\\"} 872448');
  });

  it('exposes containerd\'s v2 families', async () => {
    const monitor = new CgroupsMonitor({ tasks: () => [task('ns1', 'limited', 101), task('ns2', 'unlimited', 102)], mode: 'unified', procRoot: proc });
    const text = (await monitor.renderMetrics()).join('');
    expect(samples(text, 'container_memory_usage_bytes')).toEqual(
      new Map([
        ['{container_id="limited",namespace="ns1"}', 55705600],
        ['{container_id="unlimited",namespace="ns2"}', 872448],
      ]),
    );
    expect(samples(text, 'container_memory_usage_limit_bytes').get('{container_id="limited",namespace="ns1"}')).toBe(67108864);
    expect(samples(text, 'container_cpu_usage_usec_microseconds').get('{container_id="limited",namespace="ns1"}')).toBe(1843221);
    expect(samples(text, 'container_cpu_nr_throttled_total').get('{container_id="limited",namespace="ns1"}')).toBe(7);
    expect(samples(text, 'container_pids_limit').get('{container_id="unlimited",namespace="ns2"}')).toBe(2 ** 64);
    expect(samples(text, 'container_io_rbytes_bytes').get('{container_id="limited",major="254",minor="0",namespace="ns1"}')).toBe(1458176);
    // v2's OOM count comes from memory.events
    expect(samples(text, 'container_memory_oom_total').get('{container_id="limited",namespace="ns1"}')).toBe(1);
    expect(text).not.toContain('container_memory_cache_bytes');
  });
});

describe('CgroupsMonitor with statistics from the shims (runtime v2)', () => {
  it('takes a task\'s statistics from its shim\'s Stats answer, cgroup v1 or v2, and drops a task its shim no longer knows', async () => {
    const v1 = packAny(V1Metrics, V1Metrics.fromPartial({ pids: { current: 7n, limit: 100n } }));
    const tasks = [task('ns', 'fromshim', 0), task('ns', 'gone', 0)];
    const monitor = new CgroupsMonitor({
      tasks: () => tasks,
      mode: 'hybrid',
      shimStats: (t) => (t.id === 'gone' ? Promise.reject(fromGrpcStatus(5, 'container gone: not found')) : Promise.resolve(v1)),
    });
    const samples = await monitor.samples();
    expect(samples.map((s) => [s.id, s.stats.version])).toEqual([['fromshim', 1]]);
    const text = (await monitor.renderMetrics()).join('');
    expect(text).toContain('container_pids_current{container_id="fromshim",namespace="ns"} 7\n');
    expect(text).toContain('container_pids_limit{container_id="fromshim",namespace="ns"} 100\n');
    expect(text).not.toContain('container_id="gone"');
  });
});
