// The content store contract, digest rules and the helpers built on the contract.
export type {
  CommitOptions,
  ContentStore,
  Descriptor,
  Info,
  ReaderAt,
  Status,
  WalkFn,
  Writer,
  WriterOptions,
} from './types.js';
export {
  CANONICAL_ALGORITHM,
  DIGEST_ALGORITHMS,
  EMPTY_DIGEST,
  digestOf,
  digestProblem,
  isValidDigest,
  splitDigest,
} from './digest.js';
export {
  type CopySource,
  type RandomAccessSource,
  type SeekableSource,
  copyToWriter,
  openWriter,
  readBlob,
  writeBlob,
} from './helpers.js';
export { adaptInfo, adaptStatus } from './adaptor.js';
