// Messages between a layer's consumer and its decompression worker.
import type { Compression } from './compression.js';

export type ToWorker =
  | { t: 'job'; compression: Compression }
  | { t: 'in'; buf: ArrayBuffer; off: number; len: number }
  | { t: 'end' }
  | { t: 'ack'; bytes: number };

export type FromWorker =
  | { t: 'out'; buf: ArrayBuffer; off: number; len: number }
  | { t: 'taken'; bytes: number }
  | { t: 'done'; digest: string; size: number }
  | { t: 'error'; message: string };
