// Child process of crash.test.ts: opens the built metadata database over a local
// content store at argv[2] and changes it in a loop until it is killed, printing one
// line per finished operation. Every kind of write the layer does is in the mix.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LocalContentStore } from '@containerd-ts/content-local';
import { MetadataDB } from '../../dist/index.js';

const [root, seedArg] = process.argv.slice(2);
let seed = Number(seedArg) || 1;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};

const backend = await LocalContentStore.open(join(root, 'content'), { lockWaitMs: 10 });
const db = await MetadataDB.open({ path: join(root, 'meta.leveldb'), content: backend });
const cs = db.contentStore();
const namespaces = ['a', 'b'];
const say = (line) => process.stdout.write(`${line}\n`);

async function writeBlob(ctx, size, ref, commit = true) {
  const data = randomBytes(size);
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const w = await cs.writer(ctx, { ref, total: size, expected: digest });
  try {
    const st = await w.status();
    for (let off = st.offset; off < size; off += 16384) await w.write(data.subarray(off, Math.min(off + 16384, size)));
    if (commit) await w.commit(size, digest, { labels: rand(2) ? { 'containerd.io/gc.root': 'x' } : {} });
  } finally {
    await w.close();
  }
  return digest;
}

async function someDigest(ctx) {
  const all = [];
  await cs.walk(ctx, (info) => void all.push(info.digest));
  return all.length ? all[rand(all.length)] : undefined;
}

for (let i = 0; ; i++) {
  const ns = namespaces[rand(namespaces.length)];
  const ctx = { namespace: ns };
  const op = rand(10);
  try {
    if (op <= 2) {
      const leases = await db.leases.list(ctx);
      const lease = leases.length && rand(2) ? leases[rand(leases.length)].id : undefined;
      await writeBlob(lease ? { ...ctx, lease } : ctx, 1 + rand(300000), `ref-${i}`);
    } else if (op === 3) {
      await writeBlob(ctx, 1000 + rand(200000), `partial-${rand(4)}`, false);
    } else if (op === 4) {
      const d = await someDigest(ctx);
      if (d) await cs.delete(ctx, d);
    } else if (op === 5) {
      await db.leases.create(ctx, { labels: rand(2) ? { 'containerd.io/gc.expire': new Date(Date.now() + rand(200)).toISOString() } : {} });
    } else if (op === 6) {
      const leases = await db.leases.list(ctx);
      if (leases.length) await db.leases.delete(ctx, leases[rand(leases.length)].id);
    } else if (op === 7) {
      const d = await someDigest(ctx);
      if (d) {
        const name = `img-${rand(5)}`;
        const info = await cs.info(ctx, d);
        await db.images.delete(ctx, name).catch(() => {});
        await db.images.create(ctx, { name, target: { mediaType: 'application/octet-stream', digest: d, size: info.size } });
      }
    } else if (op === 8) {
      const d = await someDigest(ctx);
      if (d) await cs.update(ctx, { digest: d, labels: { n: String(i) } }, ['labels.n']);
    } else {
      await db.garbageCollect();
    }
  } catch (err) {
    // Expected races of the workload itself (an ingest in use, a deleted blob) are fine.
    if (!/not found|already exists|unavailable|locked/.test(String(err))) throw err;
  }
  say(`op ${i} ${op}`);
}
