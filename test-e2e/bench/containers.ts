// Bench: daemon memory with running containers, containerd-ts and Debian's containerd in
// one run, alternating which goes first in each round (BENCH_ROUNDS, default 3):
//  - RSS growth per running container: RSS before and 3 s after 20 `ctr run -d … sleep`
//    started one after the other, divided by 20 (goal: ≤ containerd's);
//  - RSS 5 s after 50 containers were started at once, killed, deleted and removed, against
//    RSS before them (goal: within 5 %);
//  - daemon CPU time (user + system) per container over that cycle.
// Prints medians and ratios. Not a timed test: it reports.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { pullInto, serveBusybox } from '../src/containers-run.js';
import { referenceConfig, startDaemon, startReference } from '../src/harness.js';
import { rssKiB } from './measure.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const running = 20;
const burst = 50;

interface Daemon {
  name: 'containerd' | 'containerd-ts';
  socket: string;
  pid: number;
  ns: string;
  growth: number[];
  after: number[];
  cpu: number[];
}

function ctr(d: Daemon, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ctr', ['-a', d.socket, '-n', d.ns, ...args], { timeout: 180_000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`ctr ${args.join(' ')} on ${d.name}: ${stderr}`));
      else resolve();
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** utime + stime of a process, in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Kills, deletes and removes `ids`, all at once. */
async function removeAll(d: Daemon, ids: string[]): Promise<void> {
  await Promise.all(ids.map((id) => ctr(d, ['tasks', 'kill', '-s', 'KILL', id])));
  // A task can be deleted once it has stopped; `delete -f` would kill again.
  await Promise.all(
    ids.map(async (id) => {
      for (let i = 0; ; i++) {
        try {
          await ctr(d, ['tasks', 'delete', id]);
          return;
        } catch (err) {
          if (i > 50) throw err;
          await sleep(100);
        }
      }
    }),
  );
  await Promise.all(ids.map((id) => ctr(d, ['containers', 'rm', id])));
}

async function round(d: Daemon, image: string, r: number): Promise<void> {
  const ids = Array.from({ length: running }, (_, i) => `rss-${r}-${i}`);
  const before = await rssKiB(d.pid);
  for (const id of ids) await ctr(d, ['run', '-d', image, id, 'sleep', '1000']);
  await sleep(3000);
  d.growth.push((await rssKiB(d.pid)) - before);
  await removeAll(d, ids);

  await sleep(3000);
  const rss0 = await rssKiB(d.pid);
  const cpu0 = await cpuSeconds(d.pid);
  const many = Array.from({ length: burst }, (_, i) => `burst-${r}-${i}`);
  await Promise.all(many.map((id) => ctr(d, ['run', '-d', image, id, 'sleep', '1000'])));
  await removeAll(d, many);
  d.cpu.push(((await cpuSeconds(d.pid)) - cpu0) / burst);
  await sleep(5000);
  d.after.push((await rssKiB(d.pid)) / rss0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchContainers(): Promise<void> {
  const image = await serveBusybox();
  const ts = await startDaemon();
  const ref = await startReference({ config: referenceConfig() });
  // Different namespaces: ctr writes the cgroup path /<namespace>/<id> into the spec.
  const daemons: Daemon[] = [
    { name: 'containerd', socket: ref.socket, pid: ref.pid, ns: `bench-rss-ref-${process.pid}`, growth: [], after: [], cpu: [] },
    { name: 'containerd-ts', socket: ts.socket, pid: ts.child.pid!, ns: `bench-rss-ts-${process.pid}`, growth: [], after: [], cpu: [] },
  ];
  try {
    for (const d of daemons) {
      await pullInto(d.socket, d.ns, image.ref);
      await ctr(d, ['run', '--rm', image.ref, 'warmup', 'true']);
    }
    for (let r = 0; r < rounds; r++) {
      for (const d of r % 2 === 0 ? daemons : [...daemons].reverse()) await round(d, image.ref, r);
    }
  } finally {
    await ts.cleanup();
    await ref.stop();
    await image.registry.stop();
  }
  const [refD, tsD] = daemons as [Daemon, Daemon];
  const kb = (d: Daemon) => median(d.growth) / running;
  console.log(`running containers (${rounds} rounds, alternating, medians)`);
  console.log(`  ${''.padEnd(40)} ${'containerd'.padStart(11)} ${'containerd-ts'.padStart(14)}  ratio`);
  console.log(
    `  ${`RSS growth per running container (kB)`.padEnd(40)} ${kb(refD).toFixed(0).padStart(11)} ${kb(tsD).toFixed(0).padStart(14)}  ${(kb(tsD) / kb(refD)).toFixed(2)}x (goal <= 1.0x)`,
  );
  const pct = (d: Daemon) => (median(d.after) - 1) * 100;
  console.log(
    `  ${`RSS 5 s after ${burst} started+removed (%)`.padEnd(40)} ${`${pct(refD) >= 0 ? '+' : ''}${pct(refD).toFixed(1)}`.padStart(11)} ${`${pct(tsD) >= 0 ? '+' : ''}${pct(tsD).toFixed(1)}`.padStart(14)}  (goal within 5 %)`,
  );
  const ms = (d: Daemon) => median(d.cpu) * 1000;
  console.log(
    `  ${'daemon CPU per container, burst (ms)'.padEnd(40)} ${ms(refD).toFixed(1).padStart(11)} ${ms(tsD).toFixed(1).padStart(14)}  ${(ms(tsD) / ms(refD)).toFixed(2)}x`,
  );
  if (process.env.BENCH_VERBOSE) {
    for (const d of daemons) console.log(`  ${d.name}: growth kB ${d.growth.join(' ')}; after/before ${d.after.map((x) => x.toFixed(3)).join(' ')}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchContainers();
