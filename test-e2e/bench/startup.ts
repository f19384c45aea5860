// Bench: time from process start to the first successful `ctr version`, and idle RSS
// after start, for containerd-ts and Debian's containerd in the same run. Prints ratios, and
// the CPU time each daemon used until it answered (user + system, all threads): on a shared,
// loaded machine that figure moves far less than the wall time.
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketAnswers } from '@containerd-ts/daemon';
import { ctrVersionOk, rssKiB } from './measure.js';
import { containerdTs } from '../src/harness.js';

const runs = Number(process.env.BENCH_RUNS ?? 5);

interface Sample {
  startMs: number;
  rssMB: number;
  cpuMs: number;
}

/** User + system CPU time of a process so far (all its threads), in ms. */
async function cpuMs(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks (USER_HZ = 100)
}

async function measure(kind: 'containerd-ts' | 'containerd'): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), `bench-${kind}-`));
  const socket = join(dir, 'd.sock');
  let cmd: string;
  let args: string[];
  if (kind === 'containerd') {
    const cfg = join(dir, 'config.toml');
    await writeFile(
      cfg,
      `version = 2\nroot = "${dir}/root"\nstate = "${dir}/state"\n[grpc]\n  address = "${socket}"\n[ttrpc]\n  address = "${socket}.ttrpc"\n[plugins."io.containerd.grpc.v1.cri"]\n  disable_tcp_service = true\n`,
    );
    cmd = 'containerd';
    args = ['--config', cfg];
  } else {
    cmd = containerdTs;
    args = ['--root', `${dir}/root`, '--state', `${dir}/state`, '--address', socket];
  }
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: 'ignore' });
  // ctr's dialer backs off for a second after a refused connection, so wait (cheaply,
  // every 2 ms) until the socket accepts before asking ctr; the same for both daemons.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${kind} exited with ${child.exitCode}`);
    if (performance.now() - t0 > 30_000) throw new Error(`${kind} did not answer`);
    if ((await socketAnswers(socket, 100)) && ctrVersionOk(socket)) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  const startMs = performance.now() - t0;
  const cpu = await cpuMs(child.pid!);
  if (process.env.BENCH_VERBOSE) console.log(`  ${kind}: ${startMs.toFixed(0)} ms`);
  await new Promise((r) => setTimeout(r, 2000)); // idle
  const rssMB = (await rssKiB(child.pid!)) / 1024;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await rm(dir, { recursive: true, force: true });
  return { startMs, rssMB, cpuMs: cpu };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchStartup(): Promise<void> {
  const results: Record<string, Sample[]> = { 'containerd-ts': [], containerd: [] };
  for (let i = 0; i < runs; i++) {
    for (const kind of ['containerd', 'containerd-ts'] as const) results[kind]!.push(await measure(kind));
  }
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, s]) => [
      k,
      { startMs: median(s.map((x) => x.startMs)), rssMB: median(s.map((x) => x.rssMB)), cpuMs: median(s.map((x) => x.cpuMs)) },
    ]),
  );
  const ts = summary['containerd-ts']!;
  const ref = summary.containerd!;
  const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
  console.log(`startup bench (${runs} runs, medians; load average at the end ${load})`);
  console.log(`  containerd     start ${ref.startMs.toFixed(0)} ms   idle RSS ${ref.rssMB.toFixed(1)} MB   CPU to answer ${ref.cpuMs.toFixed(0)} ms`);
  console.log(`  containerd-ts  start ${ts.startMs.toFixed(0)} ms   idle RSS ${ts.rssMB.toFixed(1)} MB   CPU to answer ${ts.cpuMs.toFixed(0)} ms`);
  console.log(
    `  ratio          start ${(ts.startMs / ref.startMs).toFixed(2)}x (goal <= 2x)   RSS ${(ts.rssMB / ref.rssMB).toFixed(2)}x (goal <= 1.4x)   CPU ${(ts.cpuMs / ref.cpuMs).toFixed(2)}x`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await benchStartup();
