// The apply worker's program: runs applyLayerHere — tar parsing and every file syscall —
// for one layer at a time, fed with the compressed bytes by the caller's thread
// (apply-in-worker.ts), decompressing and hashing in a decompression worker of its own.
// Bundled on its own by the package build (scripts/bundle-apply-worker.mjs) into
// dist/apply-worker-main.cjs, a plain CommonJS file that daemon bundles copy beside
// themselves; it is never imported.
import { parentPort } from 'node:worker_threads';
import { type ApplyLogger, applyLayerHere } from './apply.js';
import { type FromApplyWorker, serializeError, type ToApplyWorker } from './apply-protocol.js';

if (!parentPort) throw new Error('apply-worker-main runs only as a worker thread');
const port = parentPort;
const send = (msg: FromApplyWorker, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer);

/** One layer being applied: the bytes received and not yet read, and how it ends. */
class Job {
  private readonly queue: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private wake: (() => void) | null = null;
  readonly controller = new AbortController();

  constructor(readonly id: number) {}

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.notify();
  }

  end(): void {
    this.ended = true;
    this.notify();
  }

  /** The source fails with `err` (also what an abort does, so nothing waits for bytes). */
  fail(err: Error): void {
    this.failure ??= err;
    this.notify();
  }

  /** The caller aborted: the source fails and the apply's signal fires. */
  abort(): void {
    if (this.controller.signal.aborted) return;
    const reason = new Error('apply aborted');
    this.fail(reason);
    this.controller.abort(reason);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The received bytes, in order; each chunk is credited to the caller once it has been taken. */
  async *source(): AsyncGenerator<Buffer> {
    for (;;) {
      if (this.failure) throw this.failure;
      const next = this.queue.shift();
      if (next) {
        yield next;
        send({ t: 'taken', id: this.id, bytes: next.length });
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

let current: Job | null = null;

function start(msg: Extract<ToApplyWorker, { t: 'job' }>): void {
  const job = new Job(msg.id);
  current = job;
  const { log, ...options } = msg.options;
  const logger: ApplyLogger | undefined = log
    ? {
        warn: (obj, text) => send({ t: 'log', id: job.id, level: 'warn', obj, ...(text !== undefined ? { msg: text } : {}) }),
        debug: (obj, text) => send({ t: 'log', id: job.id, level: 'debug', obj, ...(text !== undefined ? { msg: text } : {}) }),
      }
    : undefined;
  const stop = new Int32Array(msg.stop);
  const stopRequested = () => {
    if (Atomics.load(stop, 0) === 0) return false;
    job.abort();
    return true;
  };
  applyLayerHere(
    msg.root,
    job.source(),
    { ...options, signal: job.controller.signal, worker: 'decompress', ...(logger ? { log: logger } : {}) },
    // The chunks arrived by transfer and nothing else holds them.
    { stopRequested, ownsChunks: true },
  ).then(
    (result) => {
      if (current === job) current = null;
      send({ t: 'done', id: job.id, result });
    },
    (err: unknown) => {
      if (current === job) current = null;
      // Nothing must wait on bytes that will not come.
      job.fail(err instanceof Error ? err : new Error(String(err)));
      send({ t: 'error', id: job.id, error: serializeError(err) });
    },
  );
}

port.on('message', (msg: ToApplyWorker) => {
  if (msg.t === 'job') {
    start(msg);
    return;
  }
  const job = current;
  if (!job || job.id !== msg.id) return;
  switch (msg.t) {
    case 'in':
      job.push(Buffer.from(msg.buf, msg.off, msg.len));
      return;
    case 'end':
      job.end();
      return;
    case 'source-error':
      job.fail(new Error(msg.message));
      return;
    case 'abort':
      job.abort();
      return;
  }
});
