// Typed client for containerd's v1 gRPC API.
export {
  type CallContext,
  type ChannelState,
  Connection,
  type ConnectionOptions,
  errorOf,
  targetOf,
} from './connection.js';
export { contentInfo, readContent, readContentStream, updateContentLabels, type WriteBlobOptions, writeBlob } from './content.js';
export * from './images.js';
export { formatRFC3339, randomLeaseId, withLease } from './lease.js';
export { type Platform, defaultPlatform, formatPlatform, goArch, matchPlatform, normalizePlatform, parsePlatform } from './platforms.js';
export {
  type FetchOptions,
  type ImageRecord,
  type PullEvent,
  type UnpackOptions,
  fetchImage,
  pullImage,
  resolveManifest,
  unpackImage,
} from './pull.js';
export {
  type ReferenceSpec,
  InvalidReferenceError,
  formatReference,
  hostname,
  parseReference,
  referenceDigest,
  referenceHost,
  referenceRepository,
} from './reference.js';
export { MAX_MANIFEST_SIZE, RESOLVE_ACCEPT, Registry, type RegistryOptions, isLocalhost, validateDigest } from './registry.js';
export { type PushEvent, type PushOptions, pushImage } from './push.js';
export {
  ANNOTATION_IMAGE_NAME,
  ANNOTATION_REF_NAME,
  type ExportOptions,
  exportImages,
} from './archive-export.js';
export { type ImportOptions, importArchive, strictPlatformMatcher } from './archive-import.js';
export {
  type DockerReference,
  InvalidDockerReferenceError,
  familiarizeReference,
  normalizeDockerReference,
  ociReferenceName,
  parseNormalizedNamed,
  refTranslator,
} from './archive-reference.js';
export { type InstallOptions, installImage, optPath } from './install.js';
