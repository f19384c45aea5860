// Throughput of the local store alone: one blob written in 1 MiB chunks (as the gRPC
// Write stream delivers them), then committed. Build the package first.
//   node bench/ingest-throughput.mjs [MiB=512] [dir=os.tmpdir()]
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalContentStore } from '../dist/local-store.js';

const mib = Number(process.argv[2] ?? 512);
const root = await mkdtemp(join(process.argv[3] ?? tmpdir(), 'content-bench-'));
const chunks = Array.from({ length: 16 }, () => randomBytes(1 << 20));
const hash = createHash('sha256');
for (let i = 0; i < mib; i++) hash.update(chunks[i % chunks.length]);
const expected = `sha256:${hash.digest('hex')}`;

try {
  const store = await LocalContentStore.open(root);
  const ctx = {};
  const t0 = performance.now();
  const w = await store.writer(ctx, { ref: 'bench', total: mib << 20, expected });
  for (let i = 0; i < mib; i++) await w.write(chunks[i % chunks.length]);
  const t1 = performance.now();
  await w.commit(mib << 20, expected);
  const t2 = performance.now();
  const rate = (ms) => ((mib * 1.048576) / (ms / 1000)).toFixed(0);
  console.log(
    `${mib} MiB: write ${(t1 - t0).toFixed(0)} ms (${rate(t1 - t0)} MB/s), ` +
      `commit incl. fsync ${(t2 - t1).toFixed(0)} ms, total ${(t2 - t0).toFixed(0)} ms (${rate(t2 - t0)} MB/s)`,
  );
} finally {
  await rm(root, { recursive: true, force: true });
}
