// @ts-check
// The decompression worker's program (see decompress-worker.ts). A plain CommonJS file of
// its own, loaded by path: bundlers that rewrite functions (name keeping, minification)
// cannot break it, and it runs unchanged from src (tests), dist and beside a bundle.
// Type-checked by tsc (checkJs) against the message types of decompress-protocol.ts.
'use strict';
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { parentPort, workerData } = require('node:worker_threads');

/** @typedef {import('./decompress-protocol.js').ToWorker} ToWorker */
/** @typedef {import('node:stream').Transform} Transform */
/**
 * @typedef {object} Job
 * @property {Transform | null} decoder
 * @property {import('node:crypto').Hash} hash
 * @property {number} size
 * @property {number} unacked
 * @property {number[]} pendingTaken input chunk sizes not yet reported as taken
 * @property {boolean} paused
 * @property {boolean} failed
 */

if (!parentPort) throw new Error('decompress-worker-main runs only as a worker thread');
const port = parentPort;
const data = /** @type {{ zstd: string; maxUnacked: number }} */ (workerData);
const zstd = /** @type {{ DecompressStream: new () => Transform }} */ (require(data.zstd));

/** @type {Job | null} */
let job = null;

/** @param {unknown} err */
const fail = (err) => {
  if (!job || job.failed) return;
  job.failed = true;
  port.postMessage({ t: 'error', message: err instanceof Error ? err.message : String(err) });
};
/** @param {Job} j @param {Uint8Array} chunk */
const emit = (j, chunk) => {
  j.hash.update(chunk);
  j.size += chunk.length;
  // Transfer needs a buffer of its own: decoders hand out slices of shared buffers.
  let own = chunk;
  if (chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength) {
    own = Buffer.allocUnsafeSlow(chunk.length);
    own.set(chunk);
  }
  const buf = /** @type {ArrayBuffer} */ (own.buffer);
  port.postMessage({ t: 'out', buf, off: own.byteOffset, len: own.length }, [buf]);
  j.unacked += chunk.length;
  if (j.unacked > data.maxUnacked && j.decoder && !j.paused) {
    j.paused = true;
    j.decoder.pause();
  }
};
/** @param {Job} j */
const flushTaken = (j) => {
  if (j.unacked > data.maxUnacked) return;
  let bytes = 0;
  for (const n of j.pendingTaken) bytes += n;
  j.pendingTaken = [];
  if (bytes > 0) port.postMessage({ t: 'taken', bytes });
};
/** @param {Job} j */
const finish = (j) => {
  if (j.failed) return;
  port.postMessage({ t: 'done', digest: `sha256:${j.hash.digest('hex')}`, size: j.size });
  if (job === j) job = null;
};

port.on('message', (/** @type {ToWorker} */ msg) => {
  switch (msg.t) {
    case 'job': {
      /** @type {Transform | null} */
      let decoder = null;
      if (msg.compression === 'gzip') decoder = zlib.createGunzip({ chunkSize: 256 * 1024 });
      else if (msg.compression === 'zstd') decoder = new zstd.DecompressStream();
      /** @type {Job} */
      const j = { decoder, hash: crypto.createHash('sha256'), size: 0, unacked: 0, pendingTaken: [], paused: false, failed: false };
      job = j;
      if (decoder) {
        decoder.on('data', (/** @type {Uint8Array} */ c) => emit(j, c));
        decoder.on('error', fail);
        decoder.on('end', () => finish(j));
        decoder.on('drain', () => flushTaken(j));
      }
      return;
    }
    case 'in': {
      const j = job;
      if (!j || j.failed) return;
      const chunk = new Uint8Array(msg.buf, msg.off, msg.len);
      j.pendingTaken.push(msg.len);
      if (j.decoder) {
        if (j.decoder.write(chunk)) flushTaken(j);
      } else {
        emit(j, chunk);
        flushTaken(j);
      }
      return;
    }
    case 'end': {
      const j = job;
      if (!j || j.failed) return;
      if (j.decoder) j.decoder.end();
      else finish(j);
      return;
    }
    case 'ack': {
      const j = job;
      if (!j) return;
      j.unacked -= msg.bytes;
      if (j.unacked <= data.maxUnacked) {
        if (j.paused && j.decoder) {
          j.paused = false;
          j.decoder.resume();
        }
        flushTaken(j);
      }
      return;
    }
  }
});
