// Bench: restart recovery — the time from a daemon's start (after `kill -9`) until every
// task answers `ctr tasks ps` (Tasks.ListPids), with 0 and with BENCH_CONTAINERS (50)
// running containers, for containerd-ts and Debian's containerd in one run, alternating
// which restarts first; BENCH_RUNS (5) restarts each, medians. Prints the extra time the
// containers cost each daemon and the ratio (goal: containerd-ts's extra ≤ 0.5×
// containerd's, which reconnects its shims one by one). Not a timed test: it reports.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ListPidsRequest, TasksService } from '@containerd-ts/api/services/tasks';
import { VersionService } from '@containerd-ts/api/services/version';
import { Connection } from '@containerd-ts/client';
import { socketAnswers } from '@containerd-ts/daemon';
import { pullInto, serveBusybox, shimsOf } from '../src/containers-run.js';
import { type Service, containerdTs, ctr, referenceConfig, spawnService, startDaemon, startReference } from '../src/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);
const count = Number(process.env.BENCH_CONTAINERS ?? 50);

interface Daemon {
  name: 'containerd' | 'containerd-ts';
  socket: string;
  ns: string;
  /** Starts the daemon on its root, state and socket. */
  spawn(): Service;
  running: Service | undefined;
  /** kill -9 of the first instance (started by the harness). */
  killFirst(): Promise<void>;
  ids: string[];
  ms: { 0: number[]; n: number[]; steady: number[] };
  /** How long loading the tasks took inside the daemon, from its log. */
  loadMs: { 0: number[]; n: number[] };
  loadTime(log: string): number;
}

const logTime = (line: string | undefined) => (line ? Date.parse(/time="([^"]+)"/.exec(line)?.[1] ?? '') : Number.NaN);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every task's ListPids at once (each is a `runc ps` in its shim), until all answered. */
async function allAnswer(conn: Connection, ids: readonly string[], t0: number): Promise<void> {
  await Promise.all(
    ids.map(async (containerId) => {
      for (;;) {
        try {
          const r = await conn.unary(TasksService.listPids, ListPidsRequest.fromPartial({ containerId }));
          if (r.processes.length > 0) return;
        } catch (err) {
          if (performance.now() - t0 > 60_000) throw err;
        }
        await sleep(5);
      }
    }),
  );
}

/** The same ListPids on a daemon that has long finished starting: what recovery cannot save. */
async function steady(d: Daemon): Promise<number> {
  const conn = new Connection(d.socket, { namespace: d.ns });
  try {
    await conn.unary(VersionService.version, {});
    const t0 = performance.now();
    await allAnswer(conn, d.ids, t0);
    return performance.now() - t0;
  } finally {
    conn.close();
  }
}

/** kill -9, start again, and time until every task answers ListPids. */
async function recover(d: Daemon): Promise<number> {
  if (d.running) await d.running.kill('SIGKILL');
  else await d.killFirst();
  const t0 = performance.now();
  const svc = d.spawn();
  d.running = svc;
  // Connect only once the socket accepts (gRPC backs off a second after a refused dial).
  while (!(await socketAnswers(d.socket, 100))) {
    if (svc.child.exitCode !== null) throw new Error(`${d.name} exited: ${svc.logs()}`);
    if (performance.now() - t0 > 60_000) throw new Error(`${d.name} did not answer: ${svc.logs()}`);
    await sleep(2);
  }
  const conn = new Connection(d.socket, { namespace: d.ns });
  try {
    await conn.unary(VersionService.version, {});
    await allAnswer(conn, d.ids, t0);
  } finally {
    conn.close();
  }
  return performance.now() - t0;
}

function runDetached(socket: string, ns: string, ref: string, id: string): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('ctr', ['-a', socket, '-n', ns, 'run', '-d', ref, id, 'sleep', '100000'], { timeout: 120_000 }, (err, _o, stderr) =>
      err ? reject(new Error(`ctr run ${id} on ${socket}: ${stderr}`)) : resolve(),
    ),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchRecovery(): Promise<void> {
  const image = await serveBusybox();
  const ts = await startDaemon();
  const ref = await startReference({ config: referenceConfig() });
  const refConfig = join(ref.dir, 'config.toml');
  // Different namespaces and IDs: runc's state and the cgroup /<ns>/<id> are host-wide.
  const daemons: Daemon[] = [
    {
      name: 'containerd',
      socket: ref.socket,
      ns: `bench-recovery-ref-${process.pid}`,
      spawn: () => spawnService('containerd', ['--config', refConfig]),
      running: undefined,
      killFirst: async () => {
        process.kill(ref.pid, 'SIGKILL');
        for (let i = 0; i < 500; i++) {
          try {
            process.kill(ref.pid, 0);
          } catch {
            return;
          }
          await sleep(10);
        }
      },
      ids: [],
      ms: { 0: [], n: [], steady: [] },
      loadMs: { 0: [], n: [] },
      // From "loading plugin io.containerd.runtime.v2.task" (which loads the tasks) to the next plugin.
      loadTime: (log) => {
        const lines = log.split('\n').filter((l) => l.includes('msg="loading plugin'));
        const at = lines.findIndex((l) => l.includes('io.containerd.runtime.v2.task'));
        return logTime(lines[at + 1]) - logTime(lines[at]);
      },
    },
    {
      name: 'containerd-ts',
      socket: ts.socket,
      ns: `bench-recovery-ts-${process.pid}`,
      spawn: () => spawnService(containerdTs, ['--root', ts.root, '--state', ts.state, '--address', ts.socket]),
      running: undefined,
      killFirst: async () => {
        await ts.stop('SIGKILL');
      },
      ids: [],
      ms: { 0: [], n: [], steady: [] },
      loadMs: { 0: [], n: [] },
      loadTime: (log) => Number(/msg="tasks loaded".* d=([\d.]+)ms/.exec(log)?.[1] ?? Number.NaN),
    },
  ];
  const rounds = async (key: 0 | 'n') => {
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? daemons : [...daemons].reverse();
      for (const d of order) {
        const ms = await recover(d);
        d.ms[key].push(ms);
        await sleep(200); // the log line is written
        d.loadMs[key].push(d.loadTime(d.running?.logs() ?? ''));
        if (process.env.BENCH_VERBOSE) console.log(`  ${d.name} ${d.ids.length} tasks: ${ms.toFixed(0)} ms`);
      }
    }
  };
  try {
    for (const d of daemons) await pullInto(d.socket, d.ns, image.ref);
    await rounds(0);
    for (const d of daemons) {
      // A few at a time: 2 cores, and ctr run pays for its own start.
      for (let i = 0; i < count; i += 5) {
        const batch = Array.from({ length: Math.min(5, count - i) }, (_, j) => `rec-${d.name === 'containerd' ? 'ref' : 'ts'}-${i + j}`);
        await Promise.all(batch.map((id) => runDetached(d.socket, d.ns, image.ref, id)));
        d.ids.push(...batch);
      }
    }
    await rounds('n');
    await sleep(3000); // both daemons settle (recovered exits, GC)
    for (let i = 0; i < runs; i++) {
      for (const d of i % 2 === 0 ? daemons : [...daemons].reverse()) d.ms.steady.push(await steady(d));
    }
    // What the bench timed is what ctr sees: every task answers `ctr tasks ps`.
    for (const d of daemons) {
      const ps = await ctr(d.socket, '-n', d.ns, 'tasks', 'ps', d.ids[d.ids.length - 1]!);
      if (ps.code !== 0) throw new Error(`${d.name}: ctr tasks ps: ${ps.stderr}`);
    }
  } finally {
    for (const d of daemons) {
      for (const id of d.ids) await ctr(d.socket, '-n', d.ns, 'tasks', 'kill', '-s', 'KILL', id);
      for (const id of d.ids) {
        for (let i = 0; i < 50; i++) {
          if ((await ctr(d.socket, '-n', d.ns, 'tasks', 'delete', id)).code === 0) break;
          await sleep(100);
        }
        await ctr(d.socket, '-n', d.ns, 'containers', 'rm', id);
      }
    }
    for (let i = 0; i < 100 && daemons.some((d) => shimsOf(d.socket).length > 0); i++) await sleep(100);
    for (const d of daemons) await d.running?.stop();
    await ts.cleanup();
    await ref.stop();
    await image.registry.stop();
  }
  const [refD, tsD] = daemons as [Daemon, Daemon];
  const line = (d: Daemon) => {
    const m0 = median(d.ms[0]);
    const mn = median(d.ms.n);
    return { m0, mn, extra: mn - m0, steady: median(d.ms.steady), load0: median(d.loadMs[0]), loadN: median(d.loadMs.n) };
  };
  const r = line(refD);
  const t = line(tsD);
  console.log(`recovery after kill -9: start until every task answers tasks ps (${runs} restarts each, alternating, medians)`);
  console.log(`                 0 tasks   ${count} tasks   extra for ${count}`);
  console.log(`  containerd     ${r.m0.toFixed(0).padStart(5)} ms  ${r.mn.toFixed(0).padStart(6)} ms  ${r.extra.toFixed(0).padStart(6)} ms`);
  console.log(`  containerd-ts  ${t.m0.toFixed(0).padStart(5)} ms  ${t.mn.toFixed(0).padStart(6)} ms  ${t.extra.toFixed(0).padStart(6)} ms`);
  console.log(`  ratio of extra ${(t.extra / r.extra).toFixed(2)}x (goal <= 0.5x); with ${count} tasks ${(t.mn / r.mn).toFixed(2)}x`);
  console.log(`${count} ListPids at once on a running daemon (a runc ps each; part of every figure above):`);
  console.log(`  containerd ${r.steady.toFixed(0)} ms, containerd-ts ${t.steady.toFixed(0)} ms`);
  const rl = r.extra - r.steady;
  const tl = t.extra - t.steady;
  console.log(`loading the tasks inside the daemon (its log): 0 / ${count} tasks`);
  console.log(`  containerd ${r.load0.toFixed(0)} / ${r.loadN.toFixed(0)} ms, containerd-ts ${t.load0.toFixed(0)} / ${t.loadN.toFixed(0)} ms`);
  console.log(`  extra without them: containerd ${rl.toFixed(0)} ms, containerd-ts ${tl.toFixed(0)} ms, ratio ${(tl / rl).toFixed(2)}x`);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchRecovery();
