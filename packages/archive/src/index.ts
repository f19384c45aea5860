// @containerd-ts/archive: OCI layer tars as containerd's archive package handles them.
export {
  type ApplyLogger,
  type ApplyOptions,
  type ApplyResult,
  applyLayer,
  InvalidArchiveError,
  type WhiteoutMode,
} from './apply.js';
export { activeApplyWorkers, idleApplyWorkers, terminateApplyWorkers, waitingApplies } from './apply-in-worker.js';
export {
  type Compression,
  createGzipCompressor,
  createZstdDecompressor,
  type Decompressed,
  decompressKnown,
  decompressStream,
  detectCompression,
  sniffCompression,
} from './compression.js';
export {
  activeDecompressionWorkers,
  decompressInWorker,
  decompressionWorkerFree,
  idleDecompressionWorkers,
  type WorkerDecompression,
} from './decompress-worker.js';
export { diffCompression, isLayerType, isNonDistributable, MediaType } from './media-types.js';
export { rootPath } from './root-path.js';
export { type EntryType, type TarHeader, TarFormatError } from './tar-reader.js';
export { type ChangeKind, changes, diffTar, writeDiff, type WriteDiffOptions } from './diff.js';
