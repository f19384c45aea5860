import { Level } from 'level';
import { rmSync } from 'node:fs';
const dir = '/tmp/s15/hwdb'; rmSync(dir, { recursive: true, force: true });
const db = new Level(dir); await db.open();
const ops = [];
for (let i = 0; i < 5000; i++) ops.push({ type: 'put', key: `v1/ns/images/registry.example.com/bench/app-${i % 50}:v${i}`, value: JSON.stringify({ target: { mediaType: 'application/vnd.oci.image.index.v1+json', digest: `sha256:${i.toString(16).padStart(64, '0')}`, size: 1000 + i }, labels: { 'bench.index': String(i), 'bench.group': 'rest' }, createdAt: '2026-12-06T09:00:00.123456789Z', updatedAt: '2026-12-06T09:00:00.123456789Z' }) });
await db.batch(ops);
async function scan(hw) { const it = db.iterator({ gte: 'v1/ns/images/', lt: 'v1/ns/images0', ...(hw ? { highWaterMarkBytes: hw } : {}) }); let n = 0, hops = 0; for (;;) { const b = await it.nextv(1000); if (!b.length) break; n += b.length; hops++; } await it.close(); return [n, hops]; }
for (let r = 0; r < 6; r++) for (const hw of [0, 1 << 20]) { const t0 = performance.now(); const [n, hops] = await scan(hw); console.log(hw ? '1MiB ' : '16KiB', (performance.now() - t0).toFixed(1), 'ms', n, 'entries', hops, 'hops'); }
await db.close();
