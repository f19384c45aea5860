// applyLayer in a worker thread: the tar is parsed and every file syscall (open, write,
// mkdir, chown, chmod, utimes, xattrs, whiteouts) runs in an apply worker, which
// decompresses and hashes in a decompression worker of its own. The calling thread (the
// daemon's, which also serves gRPC) only reads the compressed source, hands its chunks
// over by transfer (a credit bounds the bytes in flight) and gets back the result or the
// error. Workers are pooled: at most MAX_ACTIVE applies run at once (later ones wait for
// a worker), and an idle worker is kept a short while for the next layer, then ended.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ContainerdError } from '@containerd-ts/errdefs';
import { SysError } from '@containerd-ts/sys';
import type { ApplyOptions, ApplyResult } from './apply.js';
import type { FromApplyWorker, SerializedError, ToApplyWorker } from './apply-protocol.js';
import { InvalidArchiveError } from './errors.js';
import { TooManyLinksError } from './root-path.js';
import { TarFormatError } from './tar-reader.js';
import { IdleWorkers } from './idle-workers.js';

/** Compressed bytes sent to the worker and not yet taken by its applier. */
const MAX_INPUT_IN_FLIGHT = 4 << 20;
/** Idle workers kept for the next apply. */
const MAX_IDLE = 2;
/** How long an idle worker is kept before it ends (its isolate and buffers go with it). */
const IDLE_WORKER_MS = 1000;
/** After an abort, how long the worker has to stop before it is terminated. */
const ABORT_GRACE_MS = 10_000;
/**
 * Applies running at once. An apply mostly waits on file syscalls, but each worker is a V8
 * isolate (and one more for its decompression); later applies wait for a worker.
 */
const MAX_ACTIVE = Math.max(2, availableParallelism());

const idle = new IdleWorkers(MAX_IDLE, IDLE_WORKER_MS);
/** Workers running a job. */
const busy = new Set<Worker>();
const waiting: Array<() => void> = [];
let active = 0;
let nextJob = 1;
let program: URL | undefined;

/** Applies running in a worker right now. */
export function activeApplyWorkers(): number {
  return active;
}

/** Apply workers kept for reuse right now (they end IDLE_WORKER_MS after their last job). */
export function idleApplyWorkers(): number {
  return idle.size;
}

/** Applies waiting for a worker right now. */
export function waitingApplies(): number {
  return waiting.length;
}

/** The worker program: beside this module (dist, or a bundle), or in dist/ when this runs from src/ (tests). */
function workerProgram(): URL {
  if (program) return program;
  const candidates = [
    new URL('./apply-worker-main.cjs', import.meta.url),
    new URL('../dist/apply-worker-main.cjs', import.meta.url),
  ];
  const found = candidates.find((url) => existsSync(fileURLToPath(url)));
  if (!found) {
    throw new Error(`layer apply worker not built: none of ${candidates.map((u) => fileURLToPath(u)).join(', ')}`);
  }
  program = found;
  return found;
}

/** Waits for a free slot (or the signal). */
async function acquireSlot(signal: AbortSignal | undefined, abortError: () => Error): Promise<void> {
  if (active < MAX_ACTIVE && waiting.length === 0) {
    active++;
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const grant = () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = () => {
      const at = waiting.indexOf(grant);
      if (at >= 0) waiting.splice(at, 1);
      reject(abortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    waiting.push(grant);
  });
}

/** Gives the slot to the next waiting apply, or frees it. */
function releaseSlot(): void {
  const next = waiting.shift();
  if (next) next();
  else active--;
}

function takeWorker(): Worker {
  const worker = idle.take() ?? startWorker();
  busy.add(worker);
  return worker;
}

function startWorker(): Worker {
  const worker = new Worker(workerProgram());
  // A job listens for its worker's errors itself; an idle worker's error (nobody to tell)
  // only ends it, and must not become an uncaught 'error' event of this thread.
  worker.on('error', () => {});
  worker.once('exit', () => {
    busy.delete(worker);
    idle.forget(worker);
  });
  return worker;
}

/**
 * Ends every apply worker now, idle or not (a daemon that stops at once; tests). A running
 * apply fails with "layer apply worker exited unexpectedly".
 */
export async function terminateApplyWorkers(): Promise<void> {
  const all = [...busy, ...idle.drain()];
  await Promise.all(all.map((worker) => worker.terminate()));
}

/** Ends a job's hold on its worker: kept idle for a while for the next job, or ended. */
function returnWorker(worker: Worker, reusable: boolean): void {
  busy.delete(worker);
  idle.keep(worker, reusable);
}

/** Classes an error keeps across the threads (JavaScript's own too: a TypeError stays a bug). */
const classes: Record<string, { prototype: Error }> = {
  TypeError,
  RangeError,
  ReferenceError,
  SyntaxError,
  InvalidArchiveError,
  TarFormatError,
  TooManyLinksError,
  SysError,
  ContainerdError,
};

/** The error thrown in the worker, rebuilt here with its class, message, code and cause. */
export function deserializeError(e: SerializedError): Error {
  const cls = classes[e.name];
  const err: Error = cls ? (Object.create(cls.prototype) as Error) : new Error(e.message);
  const own = (key: string, value: unknown, enumerable: boolean) =>
    Object.defineProperty(err, key, { value, enumerable, writable: true, configurable: true });
  own('message', e.message, false);
  if (err.name !== e.name) own('name', e.name, false);
  own('stack', e.stack ?? `${e.name}: ${e.message}`, false);
  for (const [key, value] of Object.entries(e.props)) own(key, value, true);
  if (e.cause) own('cause', deserializeError(e.cause), false);
  return err;
}

/** applyLayer's worker path (see apply.ts). */
export async function applyInWorker(
  root: string,
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: ApplyOptions,
): Promise<ApplyResult> {
  const signal = options.signal;
  const abortError = () => {
    const reason: unknown = signal?.reason;
    return reason instanceof Error ? reason : new Error('apply aborted');
  };
  if (signal?.aborted) throw abortError();
  await acquireSlot(signal, abortError);
  let worker: Worker;
  try {
    worker = takeWorker();
  } catch (err) {
    releaseSlot();
    throw err;
  }
  try {
    return await runJob(worker, root, source, options, abortError);
  } finally {
    releaseSlot();
  }
}

function runJob(
  worker: Worker,
  root: string,
  source: AsyncIterable<Uint8Array> | NodeJS.ReadableStream,
  options: ApplyOptions,
  abortError: () => Error,
): Promise<ApplyResult> {
  const id = nextJob++;
  const signal = options.signal;
  const log = options.log;
  const owned = options.ownedChunks === true;
  return new Promise<ApplyResult>((resolve, reject) => {
    let inFlight = 0;
    let inputWake: (() => void) | null = null;
    let stopped = false;
    let aborted = false;
    let sourceError: Error | null = null;
    let graceTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const stop = new SharedArrayBuffer(4);

    const wakeFeeder = () => {
      const w = inputWake;
      inputWake = null;
      w?.();
    };
    const post = (msg: ToApplyWorker, transfer?: ArrayBuffer[]) => worker.postMessage(msg, transfer);
    const finish = (reusable: boolean, outcome: { result: ApplyResult } | { error: Error }) => {
      if (settled) return;
      settled = true;
      stopped = true;
      wakeFeeder();
      clearTimeout(graceTimer);
      signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      returnWorker(worker, reusable);
      if ('result' in outcome) resolve(outcome.result);
      else reject(outcome.error);
    };
    // What the caller sees when the apply ends without a result: its own abort reason or
    // source error first (as on the calling thread), else what the worker reported.
    const failWith = (reported: Error) => (aborted ? abortError() : (sourceError ?? reported));

    const onMessage = (msg: FromApplyWorker) => {
      if (msg.id !== id) return;
      switch (msg.t) {
        case 'taken':
          inFlight -= msg.bytes;
          if (inFlight <= MAX_INPUT_IN_FLIGHT) wakeFeeder();
          return;
        case 'log':
          if (msg.level === 'warn') log?.warn(msg.obj, msg.msg);
          else log?.debug(msg.obj, msg.msg);
          return;
        case 'done':
          // The worker read the source to its end, so feeding has ended too.
          if (aborted) finish(true, { error: abortError() });
          else finish(true, { result: msg.result });
          return;
        case 'error':
          finish(true, { error: failWith(deserializeError(msg.error)) });
          return;
      }
    };
    const onError = (err: Error) => finish(false, { error: failWith(new Error(`layer apply worker failed: ${err.message}`, { cause: err })) });
    const onExit = (code: number) => finish(false, { error: failWith(new Error(`layer apply worker exited unexpectedly (code ${code})`)) });
    const onAbort = () => {
      if (settled || aborted) return;
      aborted = true;
      stopped = true;
      wakeFeeder();
      // Seen by the applier before its next entry; the message wakes a worker waiting for bytes.
      Atomics.store(new Int32Array(stop), 0, 1);
      post({ t: 'abort', id });
      // A worker stuck in a syscall gets a while to stop; then it is ended.
      graceTimer = setTimeout(() => finish(false, { error: abortError() }), ABORT_GRACE_MS);
      graceTimer.unref();
    };

    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    post({
      t: 'job',
      id,
      root,
      options: {
        ...(options.mediaType !== undefined ? { mediaType: options.mediaType } : {}),
        ...(options.whiteouts !== undefined ? { whiteouts: options.whiteouts } : {}),
        ...(options.parents !== undefined ? { parents: [...options.parents] } : {}),
        ...(options.userxattr !== undefined ? { userxattr: options.userxattr } : {}),
        log: log !== undefined,
      },
      stop,
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();

    // Feed the worker, at most MAX_INPUT_IN_FLIGHT bytes ahead of its applier.
    void (async () => {
      try {
        for await (const chunk of source as AsyncIterable<Uint8Array>) {
          while (inFlight > MAX_INPUT_IN_FLIGHT && !stopped) await new Promise<void>((r) => (inputWake = r));
          if (stopped) return;
          let own: Uint8Array = chunk;
          // A copy unless the chunk is ours and fills its memory: the source may still own
          // (or reuse) the memory of its chunks.
          if (!owned || chunk.byteOffset !== 0 || chunk.byteLength !== chunk.buffer.byteLength || !(chunk.buffer instanceof ArrayBuffer)) {
            own = Buffer.allocUnsafeSlow(chunk.length);
            own.set(chunk);
          }
          inFlight += own.length;
          const buf = own.buffer as ArrayBuffer;
          post({ t: 'in', id, buf, off: 0, len: own.length }, [buf]);
        }
        if (!stopped) post({ t: 'end', id });
      } catch (err) {
        if (stopped) return;
        sourceError = err instanceof Error ? err : new Error(String(err));
        post({ t: 'source-error', id, message: sourceError.message });
      }
    })();
  });
}
