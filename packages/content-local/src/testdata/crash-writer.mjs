// Child process for the crash tests: writes (or resumes) one blob into a local store
// and reports progress on stdout, so the parent can SIGKILL it at a chosen moment.
//   node crash-writer.mjs <root> <ref> <size> <seed>
import { LocalContentStore } from '../../dist/local-store.js';
import { CHUNK, baseChunk, blobDigest, chunkAt } from './blob-data.mjs';

const [root, ref, sizeArg, seedArg] = process.argv.slice(2);
const size = Number(sizeArg);
const seed = Number(seedArg);
const expected = blobDigest(size, seed);
const base = baseChunk(seed);
const ctx = {};

const store = await LocalContentStore.open(root);
let writer;
try {
  writer = await store.writer(ctx, { ref, total: size, expected });
} catch (err) {
  if (err?.kind === 'already-exists') {
    process.stdout.write('exists\n');
    process.exit(0);
  }
  throw err;
}
let { offset } = await writer.status();
process.stdout.write(`resumed ${offset}\n`);
while (offset < size) {
  const index = Math.floor(offset / CHUNK);
  const chunk = chunkAt(base, index).subarray(offset % CHUNK, Math.min(CHUNK, size - index * CHUNK));
  await writer.write(chunk);
  offset += chunk.length;
  process.stdout.write(`offset ${offset}\n`);
}
process.stdout.write('committing\n');
await writer.commit(size, expected);
process.stdout.write('committed\n');
