// Issue 10: the cgroups monitor and the Prometheus endpoint. containerd-ts and Debian's
// containerd each run with `[metrics] address`; the same containers run on both (each in a
// namespace of its own): `/v1/metrics` shows containerd's `container_*` families with the
// same names and labels, the memory of a container that filled 50 MiB, in agreement with
// `ctr tasks metrics`; a container killed by its memory limit exits 137 and `/tasks/oom`
// shows once in `ctr events`; `no_prometheus` removes the families; `ctr plugins ls` lists
// the monitor as containerd does.
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ImageSource, leftovers, pullInto, removeContainers, serveBusybox } from './containers-run.js';
import { EventFollower } from './event-follower.js';
import { type RunResult, type StartedDaemon, ctr, referenceConfig, run, startDaemon, startReference } from './harness.js';

type Reference = Awaited<ReturnType<typeof startReference>>;

const suffix = `${process.pid}`;
const nsTs = `metrics-ts-${suffix}`;
const nsRef = `metrics-ref-${suffix}`;
const MiB = 1 << 20;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text exposition. */
function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] ?? ''] = l[2] ?? '';
    out.push({ name: m[1] ?? '', labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(address: string): Promise<Sample[]> {
  const res = await fetch(`http://${address}/v1/metrics`);
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

/** `family{label names}` of every container_* sample of one container. */
const familiesOf = (samples: Sample[], ns: string, id: string): string[] =>
  [
    ...new Set(
      samples
        .filter((s) => s.name.startsWith('container_') && s.labels.container_id === id && s.labels.namespace === ns)
        .map((s) => `${s.name}{${Object.keys(s.labels).sort().join(',')}}`),
    ),
  ].sort();

const sampleValue = (samples: Sample[], name: string, ns: string, id: string): number | undefined =>
  samples.find((s) => s.name === name && s.labels.namespace === ns && s.labels.container_id === id)?.value;

describe('cgroups monitor and /v1/metrics, on containerd-ts and containerd', () => {
  let ts: StartedDaemon;
  let ref: Reference;
  let image: ImageSource;
  let tsMetrics = '';
  let refMetrics = '';
  const used: string[] = [];

  const ctrOn = (which: 'ts' | 'ref', args: string[]): Promise<RunResult> =>
    run('ctr', ['-a', which === 'ts' ? ts.socket : ref.socket, '-n', which === 'ts' ? nsTs : nsRef, ...args], { input: '', timeoutMs: 60_000 });

  beforeAll(async () => {
    image = await serveBusybox();
    tsMetrics = `127.0.0.1:${await freePort()}`;
    refMetrics = `127.0.0.1:${await freePort()}`;
    [ts, ref] = await Promise.all([
      startDaemon({ config: `version = 2\n[metrics]\n  address = "${tsMetrics}"\n` }),
      startReference({ config: referenceConfig('[metrics]', `  address = "${refMetrics}"`) }),
    ]);
    await pullInto(ts.socket, nsTs, image.ref);
    await pullInto(ref.socket, nsRef, image.ref);
  }, 180_000);

  afterAll(async () => {
    if (ts) await removeContainers(ts.socket, nsTs, used);
    if (ref) await removeContainers(ref.socket, nsRef, used);
    await ts?.cleanup();
    await ref?.stop();
    await image?.registry.stop();
  }, 120_000);

  it('ctr plugins ls lists the cgroups monitor as containerd does', async () => {
    for (const args of [['plugins', 'ls', 'type==io.containerd.monitor.v1'], ['plugins', 'ls', '-d', 'id==cgroups']]) {
      const [a, b] = await Promise.all([ref.socket, ts.socket].map((s) => ctr(s, ...args)));
      expect(b?.stdout, args.join(' ')).toBe(a?.stdout);
    }
  });

  it('a container that filled 50 MiB shows it, with containerd\'s families and labels, as ctr tasks metrics does', async () => {
    used.push('mem50');
    // /dev/shm (tmpfs, 64 MiB in ctr's spec) is charged to the container's memory cgroup
    const args = ['run', '-d', image.ref, 'mem50', 'sh', '-c', 'dd if=/dev/zero of=/dev/shm/fill bs=1048576 count=50 2>/dev/null && touch /tmp/full && sleep 1000'];
    for (const which of ['ts', 'ref'] as const) expect((await ctrOn(which, args)).code).toBe(0);
    const usageOn = async (address: string, ns: string): Promise<Sample[]> => {
      for (let i = 0; i < 100; i++) {
        const samples = await scrape(address);
        if ((sampleValue(samples, 'container_memory_usage_usage_bytes', ns, 'mem50') ?? 0) >= 50 * MiB) return samples;
        await new Promise((r) => setTimeout(r, 100));
      }
      return scrape(address);
    };
    const [tsSamples, refSamples] = await Promise.all([usageOn(tsMetrics, nsTs), usageOn(refMetrics, nsRef)]);
    const tsUsage = sampleValue(tsSamples, 'container_memory_usage_usage_bytes', nsTs, 'mem50') ?? 0;
    expect(tsUsage).toBeGreaterThanOrEqual(50 * MiB);
    expect(sampleValue(refSamples, 'container_memory_usage_usage_bytes', nsRef, 'mem50')).toBeGreaterThanOrEqual(50 * MiB);
    // the same families with the same labels (containerd 1.6 counts OOMs only for runtime v1
    // tasks: containerd-ts counts the shim's /tasks/oom for every task)
    const tsFamilies = familiesOf(tsSamples, nsTs, 'mem50').filter((f) => !f.startsWith('container_memory_oom_total{'));
    expect(tsFamilies).toEqual(familiesOf(refSamples, nsRef, 'mem50'));
    expect(tsFamilies.length).toBeGreaterThanOrEqual(55);
    // the same exposition lines, label order included, but for the namespace and the value
    const lineOf = async (address: string, ns: string, name: string) =>
      (await (await fetch(`http://${address}/v1/metrics`)).text())
        .split('\n')
        .find((l) => l.startsWith(`${name}{`) && l.includes(`namespace="${ns}"`) && l.includes('container_id="mem50"'))
        ?.replace(ns, 'NS')
        .replace(/ \S+$/, '');
    for (const name of ['container_pids_current', 'container_per_cpu_nanoseconds', 'container_memory_usage_usage_bytes']) {
      expect(await lineOf(tsMetrics, nsTs, name)).toBe(await lineOf(refMetrics, nsRef, name));
    }
    for (const name of ['container_cpu_total_nanoseconds', 'container_pids_current', 'container_per_cpu_nanoseconds', 'container_memory_cache_bytes']) {
      expect(tsFamilies.some((f) => f.startsWith(`${name}{`)), name).toBe(true);
    }
    expect(sampleValue(tsSamples, 'container_memory_oom_total', nsTs, 'mem50')).toBe(0);
    expect(sampleValue(tsSamples, 'container_pids_current', nsTs, 'mem50')).toBeGreaterThanOrEqual(1);
    // ctr tasks metrics (the shim's Stats) agrees with the endpoint
    const table = (await ctrOn('ts', ['tasks', 'metrics', 'mem50'])).stdout;
    const fromCtr = Number(/^memory\.usage_in_bytes\s+(\d+)/m.exec(table)?.[1]);
    expect(fromCtr).toBeGreaterThanOrEqual(50 * MiB);
    expect(Math.abs(fromCtr - tsUsage) / tsUsage).toBeLessThan(0.05);
    // a stopped and deleted task leaves the endpoint
    for (const which of ['ts', 'ref'] as const) {
      await ctrOn(which, ['tasks', 'kill', '-s', 'KILL', 'mem50']);
      for (let i = 0; i < 100 && !(await ctrOn(which, ['tasks', 'ls'])).stdout.includes('STOPPED'); i++) await new Promise((r) => setTimeout(r, 50));
      await ctrOn(which, ['tasks', 'delete', 'mem50']);
      await ctrOn(which, ['containers', 'rm', 'mem50']);
    }
    await new Promise((r) => setTimeout(r, 1100));
    expect(familiesOf(await scrape(tsMetrics), nsTs, 'mem50')).toEqual([]);
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 180_000);

  it('a container killed by its memory limit exits 137 and /tasks/oom shows once, as on containerd', async () => {
    used.push('oom1');
    const followers = {
      ts: new EventFollower('ctr', ts.socket, [`namespace==${nsTs}`]),
      ref: new EventFollower('ctr', ref.socket, [`namespace==${nsRef}`]),
    };
    try {
      await new Promise((r) => setTimeout(r, 300));
      const args = ['run', '--rm', '--memory-limit', String(16 * MiB), image.ref, 'oom1', 'dd', 'if=/dev/zero', 'of=/dev/null', `bs=${64 * MiB}`, 'count=1'];
      const [a, b] = [await ctrOn('ts', args), await ctrOn('ref', args)];
      expect(b.code).toBe(137);
      expect(a.code).toBe(137);
      for (const f of Object.values(followers)) expect(await f.waitFor('/tasks/delete')).toBe(true);
      await new Promise((r) => setTimeout(r, 500));
      const topics = (f: EventFollower) => f.events().map((l) => l.split(' ')[1]);
      const ooms = (f: EventFollower) => topics(f).filter((t) => t === '/tasks/oom').length;
      expect(ooms(followers.ref)).toBe(1);
      expect(ooms(followers.ts)).toBe(1);
      expect(topics(followers.ts)).toEqual(topics(followers.ref));
    } finally {
      for (const f of Object.values(followers)) f.stop();
    }
    expect(await leftovers(ts, nsTs, used)).toEqual([]);
  }, 120_000);

  it('no_prometheus = true removes the container_* families', async () => {
    const port = await freePort();
    const quiet = await startDaemon({
      config: `version = 2\n[metrics]\n  address = "127.0.0.1:${port}"\n[plugins."io.containerd.monitor.v1.cgroups"]\n  no_prometheus = true\n`,
    });
    const ns = `metrics-quiet-${suffix}`;
    try {
      await pullInto(quiet.socket, ns, image.ref);
      expect((await ctr(quiet.socket, '-n', ns, 'run', '-d', image.ref, 'q1', 'sleep', '1000')).code).toBe(0);
      const samples = await scrape(`127.0.0.1:${port}`);
      expect(samples.some((s) => s.name.startsWith('container_'))).toBe(false);
      expect(samples.some((s) => s.name === 'grpc_server_handled_total')).toBe(true);
      expect((await ctr(quiet.socket, '-n', ns, 'tasks', 'metrics', 'q1')).stdout).toMatch(/memory\.usage_in_bytes/);
      await ctr(quiet.socket, '-n', ns, 'tasks', 'kill', '-s', 'KILL', 'q1');
      for (let i = 0; i < 100 && !(await ctr(quiet.socket, '-n', ns, 'tasks', 'ls')).stdout.includes('STOPPED'); i++) await new Promise((r) => setTimeout(r, 50));
      await ctr(quiet.socket, '-n', ns, 'tasks', 'delete', 'q1');
      await ctr(quiet.socket, '-n', ns, 'containers', 'rm', 'q1');
      expect(await leftovers(quiet, ns, ['q1'])).toEqual([]);
    } finally {
      await quiet.cleanup();
    }
  }, 120_000);
});
