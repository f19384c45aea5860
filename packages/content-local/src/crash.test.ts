// kill -9 of a writing process at any moment leaves no blob or a complete verified
// one, and an ingest that a later writer resumes (or restarts) and commits. The child
// runs the built store (dist/), which `turbo run test` builds first.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { backgroundContext as ctx } from '@containerd-ts/namespaces';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalContentStore } from './local-store.js';
import { CHUNK, baseChunk, blobDigest, chunkAt } from './testdata/blob-data.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const child = join(here, 'testdata', 'crash-writer.mjs');
const MiB = 1 << 20;

let root: string;
beforeAll(async () => {
  const built = await stat(join(here, '..', 'dist', 'local-store.js')).catch(() => undefined);
  if (!built) throw new Error('dist/ is missing: build the package before running the crash tests');
  for (const name of ['local-store.ts', 'writer.ts', 'ingest.ts', 'locks.ts']) {
    if ((await stat(join(here, name))).mtimeMs > built.mtimeMs) {
      throw new Error(`dist/ is older than src/${name}: build the package before running the crash tests`);
    }
  }
});
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'content-crash-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

interface Run {
  proc: ChildProcess;
  lines: AsyncIterableIterator<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

function startWriter(ref: string, size: number, seed: number): Run {
  const proc = spawn(process.execPath, [child, root, ref, String(size), String(seed)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, stderr })),
  );
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  return { proc, lines, exited };
}

/** Reads progress lines until `until` says stop, then SIGKILLs the child. */
async function killWhen(run: Run, until: (line: string) => boolean): Promise<string> {
  for (;;) {
    const { value, done } = await run.lines.next();
    if (done) throw new Error(`child ended before the kill point: ${(await run.exited).stderr}`);
    if (until(value)) {
      run.proc.kill('SIGKILL');
      const { signal } = await run.exited;
      expect(signal).toBe('SIGKILL');
      return value;
    }
  }
}

async function runToEnd(run: Run): Promise<string[]> {
  const seen: string[] = [];
  for await (const line of run.lines) seen.push(line);
  const { code, stderr } = await run.exited;
  if (code !== 0) throw new Error(`child failed (${code}): ${stderr}`);
  return seen;
}

/** Every visible blob has exactly the bytes its name promises. */
async function expectOnlyVerifiedBlobs(store: LocalContentStore): Promise<string[]> {
  const digests: string[] = [];
  await store.walk(ctx, async (info) => {
    const data = await readFile(store.blobPath(info.digest));
    expect(`sha256:${createHash('sha256').update(data).digest('hex')}`).toBe(info.digest);
    digests.push(info.digest);
  });
  return digests;
}

/** Finishes the blob in this process from wherever the ingest stands, and verifies it. */
async function resumeAndCommit(store: LocalContentStore, ref: string, size: number, seed: number): Promise<number> {
  const expected: string = blobDigest(size, seed);
  const base: Buffer = baseChunk(seed);
  const w = await store.writer(ctx, { ref, total: size, expected });
  const { offset: resumedAt } = await w.status();
  try {
    for (let offset = resumedAt; offset < size; ) {
      const index = Math.floor(offset / CHUNK);
      const chunk: Buffer = chunkAt(base, index).subarray(offset % CHUNK, Math.min(CHUNK, size - index * CHUNK));
      await w.write(chunk);
      offset += chunk.length;
    }
    await w.commit(size, expected);
  } finally {
    await w.close();
  }
  expect(await expectOnlyVerifiedBlobs(store)).toEqual([expected]);
  return resumedAt;
}

// each test starts node children and kills them: seconds apiece, more on a loaded machine
describe('LocalContentStore after kill -9', { timeout: 60_000 }, () => {
  it('resumes an ingest killed mid-write at the offset status reports', async () => {
    const size = 40 * MiB + 123;
    const run = startWriter('layer', size, 7);
    await killWhen(run, (line) => line.startsWith('offset ') && Number(line.slice(7)) >= 12 * MiB);

    const store = await LocalContentStore.open(root);
    expect(await expectOnlyVerifiedBlobs(store)).toEqual([]);
    const [active] = await store.listStatuses(ctx);
    const dataSize = (await stat(join(root, 'ingest', createHash('sha256').update('layer').digest('hex'), 'data'))).size;
    expect(active).toMatchObject({ ref: 'layer', total: size, offset: dataSize });
    expect(dataSize).toBeGreaterThanOrEqual(12 * MiB);

    expect(await resumeAndCommit(store, 'layer', size, 7)).toBe(dataSize);
    expect(await store.listStatuses(ctx)).toEqual([]);
  });

  it('leaves either no blob or a verified one when killed while committing', async () => {
    const size = 24 * MiB;
    const run = startWriter('commit-race', size, 11);
    await killWhen(run, (line) => line === 'committing');

    const store = await LocalContentStore.open(root);
    const visible = await expectOnlyVerifiedBlobs(store);
    expect(visible.length).toBeLessThanOrEqual(1);
    // Whichever side of the rename the kill fell on, writing the same data again succeeds.
    const again = await runToEnd(startWriter('commit-race', size, 11));
    expect(again.at(-1)).toMatch(/^(exists|committed)$/);
    expect(await expectOnlyVerifiedBlobs(store)).toEqual([blobDigest(size, 11)]);
  });

  it('survives repeated kills at random moments, then completes the blob', async () => {
    const size = 32 * MiB + 7;
    for (let i = 0; i < 4; i++) {
      const run = startWriter('flaky', size, 23);
      const delay = 30 + Math.floor(Math.random() * 250);
      await new Promise((resolve) => setTimeout(resolve, delay));
      run.proc.kill('SIGKILL');
      await run.exited;

      const store = await LocalContentStore.open(root);
      const visible = await expectOnlyVerifiedBlobs(store);
      if (visible.length > 0) break; // the child got all the way through
      // `content active` keeps answering whatever state the kill left.
      const statuses = await store.listStatuses(ctx);
      expect(statuses.every((s) => s.ref === 'flaky' && s.offset <= size)).toBe(true);
    }
    const last = await runToEnd(startWriter('flaky', size, 23));
    expect(last.at(-1)).toMatch(/^(exists|committed)$/);
    const store = await LocalContentStore.open(root);
    expect(await expectOnlyVerifiedBlobs(store)).toEqual([blobDigest(size, 23)]);
    expect(await store.listStatuses(ctx)).toEqual([]);
  });
});
