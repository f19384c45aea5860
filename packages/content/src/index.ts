// The content store contract.
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
