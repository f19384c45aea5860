// Bench: the floor grpc-js and Node's HTTP/2 set under a call. The same 200 Images.Get (16 in
// flight) and the same Images.List of 5,000 images against Debian's containerd,
// containerd-ts, the smallest server grpc-js allows and the smallest gRPC answer Node's own
// `http2` server can give without grpc-js (`grpc-floor-server.ts`: a Map in memory, the
// generated codecs, started with the daemon's node flags), rounds alternating the order.
// Where a floor server is itself slower than containerd, no daemon built on it can be as
// fast on this machine; where it is faster, the gap above it is containerd-ts's own.
// Not a timed test: it reports, it does not fail on a slow machine.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImagesService } from '@containerd-ts/api/services/images';
import { Connection } from '@containerd-ts/client';
import { startDaemon, startReference } from '../src/harness.js';
import { IN_FLIGHT, benchImage, benchImageName, pool } from './api-images.js';
import { median } from './measure.js';

const rounds = Number(process.env.BENCH_ROUNDS ?? 30);
const imageCount = Number(process.env.BENCH_IMAGES ?? 5000);
const gets = 200;
/**
 * The floor server's node flags: the daemon's own (bin/containerd-ts), so that it collects
 * garbage alike, unless BENCH_FLOOR_FLAGS says otherwise (`BENCH_FLOOR_FLAGS=` for node's defaults).
 */
const floorFlags = (process.env.BENCH_FLOOR_FLAGS ?? '--max-semi-space-size=1 --single-threaded-gc').split(' ').filter(Boolean);

type Floor = 'grpc-js' | 'http2';
type Target = 'containerd' | 'containerd-ts' | `${Floor} floor`;

async function startFloorServer(floor: Floor, socket: string): Promise<{ stop: () => Promise<void> }> {
  const program = new URL('./grpc-floor-server.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [...floorFlags, program, floor, socket, String(imageCount)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${floor} floor server exited with ${code}`)));
    child.stdout!.once('data', () => resolve());
  });
  return {
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export async function benchGrpcFloor(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'grpc-floor-'));
  const reference = await startReference();
  const ts = await startDaemon();
  const floors = [await startFloorServer('grpc-js', join(dir, 'grpc-js.sock')), await startFloorServer('http2', join(dir, 'http2.sock'))];
  const sockets: Record<Target, string> = {
    containerd: reference.socket,
    'containerd-ts': ts.socket,
    'grpc-js floor': join(dir, 'grpc-js.sock'),
    'http2 floor': join(dir, 'http2.sock'),
  };
  const targets = Object.keys(sockets) as Target[];
  const conns = new Map<Target, Connection>();
  const getMs = new Map<Target, number[]>();
  const listMs = new Map<Target, number[]>();
  try {
    for (const target of targets) {
      const conn = new Connection(sockets[target], { namespace: 'grpc-floor' });
      await conn.ready();
      conns.set(target, conn);
      if (!target.endsWith(' floor')) await pool(imageCount, (i) => conn.unary(ImagesService.create, { image: benchImage(i) }));
    }
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? targets : [...targets].reverse();
      for (const target of order) {
        const conn = conns.get(target)!;
        let t0 = performance.now();
        await pool(gets, (i) => conn.unary(ImagesService.get, { name: benchImageName((i * 37) % imageCount) }));
        getMs.set(target, [...(getMs.get(target) ?? []), performance.now() - t0]);
        t0 = performance.now();
        const listed = await conn.unary(ImagesService.list, { filters: [] });
        listMs.set(target, [...(listMs.get(target) ?? []), performance.now() - t0]);
        if (listed.images.length !== imageCount) throw new Error(`${target}: listed ${listed.images.length} images, expected ${imageCount}`);
      }
    }
  } finally {
    for (const conn of conns.values()) conn.close();
    for (const floor of floors) await floor.stop();
    await ts.cleanup();
    await reference.stop();
    await rm(dir, { recursive: true, force: true });
  }
  console.log(`grpc floor bench (floor server flags: ${floorFlags.join(' ') || 'node defaults'}): ${imageCount} images, ${gets} gets (${IN_FLIGHT} in flight) and one list per round, ${rounds} rounds (medians, ms; ratio to containerd)`);
  console.log(`  ${'server'.padEnd(15)} ${`${gets} gets`.padStart(10)} ${'ratio'.padStart(6)} ${'list'.padStart(8)} ${'ratio'.padStart(6)}`);
  const g0 = median(getMs.get('containerd')!);
  const l0 = median(listMs.get('containerd')!);
  for (const target of targets) {
    const g = median(getMs.get(target)!);
    const l = median(listMs.get(target)!);
    console.log(`  ${target.padEnd(15)} ${g.toFixed(1).padStart(10)} ${`${(g / g0).toFixed(2)}x`.padStart(6)} ${l.toFixed(1).padStart(8)} ${`${(l / l0).toFixed(2)}x`.padStart(6)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchGrpcFloor();
