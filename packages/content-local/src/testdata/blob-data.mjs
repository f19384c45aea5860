// Deterministic test data shared by the crash tests and their child writer: chunk i
// of a blob is a seeded pseudo-random MiB with its index stamped in the first bytes.
import { createHash } from 'node:crypto';

export const CHUNK = 1 << 20;

export function baseChunk(seed) {
  const words = new Uint32Array(CHUNK / 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}

export function chunkAt(base, index) {
  const chunk = Buffer.from(base);
  chunk.writeUInt32LE(index, 0);
  return chunk;
}

/** Digest of a blob of `size` bytes made of the chunks of `seed`. */
export function blobDigest(size, seed) {
  const base = baseChunk(seed);
  const hash = createHash('sha256');
  for (let pos = 0, i = 0; pos < size; pos += CHUNK, i++) {
    hash.update(chunkAt(base, i).subarray(0, Math.min(CHUNK, size - pos)));
  }
  return `sha256:${hash.digest('hex')}`;
}
