// What the benches measure with: whether Debian's ctr gets an answer, a process's resident
// memory, and the steps of one piece of work timed on both daemons alternately.
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { startDaemon, startReference } from '../src/harness.js';

/** Whether `ctr version` answers on `socket` (1 s connect timeout). */
export function ctrVersionOk(socket: string): boolean {
  try {
    execFileSync('ctr', ['-a', socket, '--connect-timeout', '1s', 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** VmRSS of a process, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
}

export type DaemonKind = 'containerd' | 'containerd-ts';

/** How long both daemons stay idle after the last run before their RSS is read again (BENCH_IDLE_MS). */
const idleAfterMs = Number(process.env.BENCH_IDLE_MS ?? 10_000);

/** The median of `xs` (the upper one of an even count). */
export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Starts a reference containerd and a containerd-ts, runs `runOnce` (milliseconds per step)
 * `runs` times on each — alternating which goes first, a fresh `tag` each time — then prints
 * `describe(load at start, load at end)` and per step both medians and containerd-ts's
 * ratio, the daemons' median RSS right after a run, and their RSS once both have been
 * idle for BENCH_IDLE_MS (10 s) after the last run.
 */
export async function compareSteps<Step extends string>(options: {
  runs: number;
  steps: readonly Step[];
  tag: string;
  runOnce: (socket: string, tag: string) => Promise<Map<Step, number>>;
  describe: (load0: number, load1: number) => string;
  verbose?: boolean;
}): Promise<void> {
  const { runs, steps } = options;
  const load0 = loadavg()[0]!;
  const reference = await startReference();
  const ts = await startDaemon();
  const daemons: Record<DaemonKind, { socket: string; pid: number }> = {
    containerd: { socket: reference.socket, pid: reference.pid },
    'containerd-ts': { socket: ts.socket, pid: ts.child.pid! },
  };
  const samples: Record<DaemonKind, Array<Map<Step, number>>> = { containerd: [], 'containerd-ts': [] };
  const rss: Record<DaemonKind, number[]> = { containerd: [], 'containerd-ts': [] };
  const idleRss: Partial<Record<DaemonKind, number>> = {};
  const started = Date.now();
  try {
    for (let i = 0; i < runs; i++) {
      const order: DaemonKind[] = i % 2 === 0 ? ['containerd', 'containerd-ts'] : ['containerd-ts', 'containerd'];
      for (const kind of order) {
        const r = await options.runOnce(daemons[kind].socket, `${options.tag}-${started}-${i}`);
        samples[kind].push(r);
        rss[kind].push((await rssKiB(daemons[kind].pid)) / 1024);
        if (options.verbose) console.log(`  run ${i + 1} ${kind}: ${steps.map((s) => `${s} ${(r.get(s)! / 1000).toFixed(3)} s`).join(', ')}`);
      }
    }
    // The same daemons once both have been idle a while: what each keeps after the work
    // (containerd-ts gives memory back once quiet; Go's scavenger works in the background).
    await new Promise((r) => setTimeout(r, idleAfterMs));
    for (const kind of ['containerd', 'containerd-ts'] as const) idleRss[kind] = (await rssKiB(daemons[kind].pid)) / 1024;
  } finally {
    await ts.cleanup();
    await reference.stop();
  }
  console.log(options.describe(load0, loadavg()[0]!));
  const width = Math.max(22, ...steps.map((s) => s.length + 1));
  console.log(`  ${'step'.padEnd(width)} ${'containerd'.padStart(11)} ${'containerd-ts'.padStart(14)}  ratio`);
  for (const step of steps) {
    const a = median(samples.containerd.map((m) => m.get(step)!));
    const b = median(samples['containerd-ts'].map((m) => m.get(step)!));
    console.log(`  ${step.padEnd(width)} ${`${(a / 1000).toFixed(3)} s`.padStart(11)} ${`${(b / 1000).toFixed(3)} s`.padStart(14)}  ${(b / a).toFixed(2)}x`);
  }
  const ra = median(rss.containerd);
  const rb = median(rss['containerd-ts']);
  console.log(`  ${'RSS after (MB)'.padEnd(width)} ${ra.toFixed(1).padStart(11)} ${rb.toFixed(1).padStart(14)}  ${(rb / ra).toFixed(2)}x`);
  const ia = idleRss.containerd!;
  const ib = idleRss['containerd-ts']!;
  const idleLabel = `RSS ${idleAfterMs / 1000} s idle (MB)`;
  console.log(`  ${idleLabel.padEnd(width)} ${ia.toFixed(1).padStart(11)} ${ib.toFixed(1).padStart(14)}  ${(ib / ia).toFixed(2)}x`);
}
