// kill -9 of a process writing through the metadata layer, at random moments, then
// reopen: the database opens, every blob record's blob exists and verifies, and after
// one collection the backend holds nothing no record references. The child runs the
// built package (dist/), which `turbo run test` builds first.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { digestOf, readBlob } from '@containerd-ts/content';
import { LocalContentStore } from '@containerd-ts/content-local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataDB } from './db.js';
import { keys } from './index.js';
import type { IngestRecord } from './records.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const worker = join(here, 'testdata', 'crash-worker.mjs');
let root: string;

beforeAll(async () => {
  const built = await stat(join(here, '..', 'dist', 'db.js')).catch(() => undefined);
  if (!built) throw new Error('dist/ is missing: build the package before running the crash test');
  for (const name of ['db.ts', 'content.ts', 'store.ts', 'gc.ts']) {
    if ((await stat(join(here, name))).mtimeMs > built.mtimeMs) {
      throw new Error(`dist/ is older than src/${name}: build the package before running the crash test`);
    }
  }
  root = await mkdtemp(join(tmpdir(), 'metadata-crash-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Runs the worker until it has finished `ops` operations plus a random few milliseconds, then SIGKILLs it. */
async function runAndKill(seed: number, ops: number, extraMs: number): Promise<number> {
  const proc: ChildProcess = spawn(process.execPath, [worker, root, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  let done = 0;
  for await (const _line of createInterface({ input: proc.stdout! })) {
    if (++done >= ops) break;
  }
  await new Promise((r) => setTimeout(r, extraMs));
  proc.kill('SIGKILL');
  const signal = await exited;
  if (signal !== 'SIGKILL') throw new Error(`worker ended before it was killed: ${stderr}`);
  return done;
}

async function checkConsistent(collect: boolean): Promise<{ blobs: number }> {
  const backend = await LocalContentStore.open(join(root, 'content'));
  const db = await MetadataDB.open({ path: join(root, 'meta.leveldb'), content: backend });
  try {
    const cs = db.contentStore();
    let blobs = 0;
    const recorded = new Set<string>();
    for (const { name } of await db.namespaces.list()) {
      const ctx = { namespace: name };
      const infos: Array<{ digest: string; size: number }> = [];
      await cs.walk(ctx, (i) => void infos.push(i));
      for (const info of infos) {
        // Every record has its blob, complete and verified.
        const data = await readBlob(cs, ctx, { digest: info.digest });
        expect(data.length).toBe(info.size);
        expect(digestOf(data)).toBe(info.digest);
        recorded.add(info.digest);
        blobs++;
      }
      // Ingest listing answers; each listed status belongs to a recorded ingest.
      for (const st of await cs.listStatuses(ctx)) {
        const rec = await db.store.getJSON<IngestRecord>(keys.ingestKey(name, st.ref));
        expect(rec).toBeDefined();
      }
      for await (const [, value] of db.store.entries(keys.ingestsPrefix(name))) {
        const rec = JSON.parse(value) as IngestRecord;
        if (rec.expected) recorded.add(rec.expected);
      }
    }
    if (collect) {
      await db.garbageCollect();
      const inBackend: string[] = [];
      await backend.walk({}, (i) => void inBackend.push(i.digest));
      for (const d of inBackend) expect(recorded.has(d), `backend blob ${d} has no record`).toBe(true);
    }
    return { blobs };
  } finally {
    await db.close();
  }
}

describe('kill -9', () => {
  it('leaves a consistent database and backend after every kill', async () => {
    let total = 0;
    for (let round = 0; round < 6; round++) {
      total += await runAndKill(round + 1, 20 + ((round * 7) % 25), (round * 13) % 17);
      await checkConsistent(round % 2 === 1);
    }
    expect(total).toBeGreaterThan(100);
    const { blobs } = await checkConsistent(true);
    expect(blobs).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
