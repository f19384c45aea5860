// Throughput of applyLayer on a generated layer shaped like the test image:
// ~3,100 entries, ~112 MB unpacked (small files dominate, a few large compressible and
// incompressible ones). Applies the gzip, zstd and plain variants from files, into a
// directory on the file system of [dir], with the decompression worker and without.
// Build the package first.
//   node bench/apply-throughput.mjs [dir=os.tmpdir()] [rounds=3]
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { CompressStream } from 'zstd-napi';
import { applyLayer } from '../dist/index.js';

const base = await mkdtemp(join(process.argv[2] ?? tmpdir(), 'apply-bench-'));
const rounds = Number(process.argv[3] ?? 3);

// Deterministic pseudo-random bytes (xorshift), and text that compresses like source code.
let seed = 0x12345678;
function randomBytes(n) {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    b[i] = seed & 0xff;
  }
  return b;
}
const words = 'the quick brown fox jumps over lazy dog layer image container snapshot overlay tar'.split(' ');
function text(n) {
  let s = '';
  let i = 0;
  while (s.length < n) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    s += `${words[(i++ * 7 + (seed % 13)) % words.length]} `;
  }
  return Buffer.from(s.slice(0, n));
}

async function buildLayer(path) {
  const pack = tarStream.pack();
  const out = pipeline(pack, createWriteStream(path));
  const mtime = new Date(1700000000000);
  let entries = 0;
  const add = (header, data) =>
    new Promise((resolve, reject) => {
      entries++;
      pack.entry({ mtime, uid: 0, gid: 0, ...header }, data, (err) => (err ? reject(err) : resolve()));
    });
  for (let d = 0; d < 150; d++) {
    await add({ name: `usr/share/pkg${d}/`, type: 'directory', mode: 0o755 });
    for (let f = 0; f < 19; f++) {
      const size = ((d * 19 + f) * 2654435761) % 36000;
      await add({ name: `usr/share/pkg${d}/file${f}.dat`, mode: 0o644 }, f % 2 === 0 ? text(size) : randomBytes(size));
    }
  }
  for (let i = 0; i < 8; i++) await add({ name: `opt/big/text${i}.txt`, mode: 0o644 }, text(4 << 20));
  for (let i = 0; i < 6; i++) await add({ name: `opt/big/random${i}.bin`, mode: 0o644 }, randomBytes(4 << 20));
  for (let i = 0; i < 100; i++) await add({ name: `usr/lib/lib${i}.so`, type: 'symlink', linkname: `lib${i}.so.1` });
  pack.finalize();
  await out;
  return entries;
}

try {
  const tarPath = join(base, 'layer.tar');
  const entries = await buildLayer(tarPath);
  await pipeline(createReadStream(tarPath), createGzip({ level: 6 }), createWriteStream(`${tarPath}.gz`));
  await pipeline(createReadStream(tarPath), new CompressStream(), createWriteStream(`${tarPath}.zst`));
  const sizes = {};
  for (const ext of ['', '.gz', '.zst']) sizes[ext] = (await stat(tarPath + ext)).size;
  const mb = (n) => (n / 1e6).toFixed(1);
  console.log(
    `layer: ${entries} entries; tar ${mb(sizes[''])} MB, gzip ${mb(sizes['.gz'])} MB, zstd ${mb(sizes['.zst'])} MB; ` +
      `best of ${rounds}, into ${base}`,
  );
  for (const worker of process.env.ORDER === "in-first" ? [false, true] : [true, false]) {
    for (const [label, ext] of [['gzip', '.gz'], ['zstd', '.zst'], ['tar', '']]) {
      const times = [];
      for (let r = 0; r < rounds; r++) {
        const root = join(base, 'root');
        await rm(root, { recursive: true, force: true });
        await mkdir(root);
        const t0 = performance.now();
        await applyLayer(root, createReadStream(tarPath + ext, { highWaterMark: 1 << 20 }), { worker });
        times.push(performance.now() - t0);
      }
      const best = Math.min(...times);
      console.log(
        `  ${label.padEnd(4)} ${worker ? 'worker   ' : 'in-thread'} ${best.toFixed(0).padStart(5)} ms  ` +
          `${((entries / best) * 1000).toFixed(0).padStart(6)} entries/s  ${(sizes[''] / 1e6 / (best / 1000)).toFixed(0).padStart(4)} MB/s`,
      );
    }
  }
  // GNU tar on the same files and file system, as a native baseline (not containerd).
  for (const [label, ext, args] of [
    ['gzip', '.gz', ['-xzf']],
    ['zstd', '.zst', ['--zstd', '-xf']],
    ['tar', '', ['-xf']],
  ]) {
    const times = [];
    for (let r = 0; r < rounds; r++) {
      const root = join(base, 'root');
      await rm(root, { recursive: true, force: true });
      await mkdir(root);
      const t0 = performance.now();
      try {
        execFileSync('tar', [...args, tarPath + ext, '-C', root], { stdio: 'ignore' });
      } catch {
        break;
      }
      times.push(performance.now() - t0);
    }
    if (times.length > 0) console.log(`  ${label.padEnd(4)} GNU tar   ${Math.min(...times).toFixed(0).padStart(5)} ms`);
  }
} finally {
  await rm(base, { recursive: true, force: true });
}
