// Decompression and hashing of a layer stream in a worker thread, so the thread that
// parses the tar and writes files does neither: gzip inflate, zstd decode and sha256 of
// the uncompressed bytes all run beside it. Chunks move between the threads by transfer
// (no copy on the receiving side); credits in both directions bound the memory in flight.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Compression } from './compression.js';
import type { FromWorker, ToWorker } from './decompress-protocol.js';
import { IdleWorkers } from './idle-workers.js';

/** Bytes of input sent to the worker and not yet taken by its decoder. */
const MAX_INPUT_IN_FLIGHT = 4 << 20;
/** Output the worker may have sent and the consumer not yet processed. */
const MAX_OUTPUT_UNACKED = 8 << 20;
const ACK_EVERY = 1 << 20;
/** Idle workers kept for the next apply. */
const MAX_IDLE = 2;
/** How long an idle worker is kept before it ends (its isolate and buffers go with it). */
const IDLE_WORKER_MS = 1000;
/**
 * Workers decompressing at once. More than the machine has cores adds no speed, only a V8
 * isolate and up to 12 MiB of chunks in flight each; beyond it, applies decompress on the
 * calling thread (decompressionWorkerFree() tells which).
 */
const MAX_ACTIVE = Math.max(2, availableParallelism());

const idle = new IdleWorkers(MAX_IDLE, IDLE_WORKER_MS);
let active = 0;
let zstdPath: string | undefined;

/** Whether a worker can take one more decompression now (otherwise decompress in-thread). */
export function decompressionWorkerFree(): boolean {
  return active < MAX_ACTIVE;
}

/** Workers kept for reuse right now (they end IDLE_WORKER_MS after their last job). */
export function idleDecompressionWorkers(): number {
  return idle.size;
}

/** Workers running a decompression right now. */
export function activeDecompressionWorkers(): number {
  return active;
}

function acquireWorker(): Worker {
  active++;
  const reused = idle.take();
  if (reused) return reused;
  zstdPath ??= createRequire(import.meta.url).resolve('zstd-napi');
  // Resolved beside this module, or beside a bundle that ships the file next to itself.
  return new Worker(new URL('./decompress-worker-main.cjs', import.meta.url), {
    workerData: { zstd: zstdPath, maxUnacked: MAX_OUTPUT_UNACKED },
  });
}

/** Ends a job's hold on its worker: kept idle for a while for the next job, or ended. */
function releaseWorker(worker: Worker, reusable: boolean): void {
  active--;
  idle.keep(worker, reusable);
}

/** The uncompressed stream and, once it has been read to its end, its digest and size. */
export interface WorkerDecompression {
  chunks: AsyncGenerator<Buffer>;
  result: Promise<{ digest: string; size: number }>;
}

/**
 * Decompresses `source` (already known to be `compression`) in a worker thread and
 * hashes the result there. Read `chunks` to the end (or return from it to stop);
 * `result` settles after the last chunk.
 */
export function decompressInWorker(
  source: AsyncIterable<Uint8Array>,
  compression: Compression,
  /**
   * `transfer`: the source's chunks belong to this call alone (nothing reads them after
   * they are yielded), so a chunk that spans its whole ArrayBuffer is transferred as is,
   * not copied.
   */
  options: { transfer?: boolean } = {},
): WorkerDecompression {
  const worker = acquireWorker();
  let held = true;
  const release = (reusable: boolean) => {
    if (!held) return;
    held = false;
    releaseWorker(worker, reusable);
  };
  const queue: Buffer[] = [];
  let wake: (() => void) | null = null;
  let inFlight = 0;
  let inputWake: (() => void) | null = null;
  let failure: Error | null = null;
  let done: { digest: string; size: number } | null = null;
  let settled = false;
  let resolveResult!: (r: { digest: string; size: number }) => void;
  let rejectResult!: (e: Error) => void;
  const result = new Promise<{ digest: string; size: number }>((res, rej) => {
    resolveResult = res;
    rejectResult = rej;
  });
  result.catch(() => {});

  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
    const i = inputWake;
    inputWake = null;
    i?.();
  };
  const detach = () => {
    worker.off('message', onMessage);
    worker.off('error', onError);
    worker.off('exit', onExit);
  };
  const fail = (err: Error) => {
    if (failure || settled) return;
    failure = err;
    settled = true;
    detach();
    release(false);
    rejectResult(err);
    notify();
  };

  const onMessage = (msg: FromWorker) => {
    switch (msg.t) {
      case 'out':
        queue.push(Buffer.from(msg.buf, msg.off, msg.len));
        break;
      case 'taken':
        inFlight -= msg.bytes;
        break;
      case 'done':
        done = { digest: msg.digest, size: msg.size };
        break;
      case 'error':
        fail(new Error(msg.message));
        return;
    }
    notify();
  };
  const onError = (err: Error) => fail(err);
  const onExit = (code: number) => fail(new Error(`decompression worker exited (code ${code})`));
  worker.on('message', onMessage);
  worker.on('error', onError);
  worker.on('exit', onExit);
  worker.postMessage({ t: 'job', compression } satisfies ToWorker);

  // Feed the worker, at most MAX_INPUT_IN_FLIGHT bytes ahead of its decoder.
  const feeding = (async () => {
    try {
      for await (const chunk of source) {
        if (failure) return;
        while (inFlight > MAX_INPUT_IN_FLIGHT && !failure) await new Promise<void>((r) => (inputWake = r));
        if (failure) return;
        // A copy unless the chunk is ours: the source may still own (or reuse) its memory.
        let own = chunk;
        if (!options.transfer || chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength || !(chunk.buffer instanceof ArrayBuffer)) {
          own = Buffer.allocUnsafeSlow(chunk.length);
          own.set(chunk);
        }
        inFlight += own.length;
        worker.postMessage({ t: 'in', buf: own.buffer as ArrayBuffer, off: 0, len: own.length } satisfies ToWorker, [
          own.buffer as ArrayBuffer,
        ]);
      }
      if (!failure) worker.postMessage({ t: 'end' } satisfies ToWorker);
    } catch (err) {
      fail(err instanceof Error ? err : new Error(String(err)));
    }
  })();

  async function* chunks(): AsyncGenerator<Buffer> {
    let unackedAck = 0;
    try {
      for (;;) {
        const next = queue.shift();
        if (next) {
          yield next;
          // The consumer is done with it: hand the worker its credit back.
          unackedAck += next.length;
          if (unackedAck >= ACK_EVERY) {
            worker.postMessage({ t: 'ack', bytes: unackedAck } satisfies ToWorker);
            unackedAck = 0;
          }
          continue;
        }
        if (failure) throw failure;
        if (done) break;
        await new Promise<void>((r) => (wake = r));
      }
      await feeding;
      settled = true;
      const finished = done as { digest: string; size: number } | null;
      if (!finished) throw new Error('decompression ended without a result');
      detach();
      release(true);
      resolveResult(finished);
    } finally {
      if (!settled) fail(new Error('decompression stopped'));
    }
  }

  return { chunks: chunks(), result };
}
