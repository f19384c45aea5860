// Typed client for containerd's v1 gRPC API.
export {
  type CallContext,
  type ChannelState,
  Connection,
  type ConnectionOptions,
  errorOf,
  targetOf,
} from './connection.js';
export {
  ContentWriteStream,
  contentInfo,
  commitContent,
  openContentWriter,
  readContent,
  readContentStream,
  updateContentLabels,
  type WriteBlobOptions,
  writeBlob,
} from './content.js';
export * from './images.js';
export { formatRFC3339, randomLeaseId, uniquePart, withLease } from './lease.js';
export { type DiffOptions, compareSnapshots, createDiff } from './diff.js';
export { type Platform, defaultPlatform, formatPlatform, goArch, matchPlatform, normalizePlatform, parsePlatform } from './platforms.js';
export {
  type FetchOptions,
  HEAD_START,
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
export {
  type AuthScheme,
  Authorizer,
  type Challenge,
  type Credentials,
  InvalidAuthorizationError,
  UnexpectedStatusError,
  UnsupportedAuthError,
  parseAuthHeader,
  repositoryScope,
  tokenScopes,
} from './auth.js';
export {
  type HostCapability,
  type HostConfig,
  type HostOptions,
  type RegistryHost,
  configureHosts,
  hostDirFromRoot,
  hostDirectory,
  loadHostDir,
  parseHostsFile,
} from './hosts.js';
export { type ConnectionInfo, type HttpResponse, type HttpSend, type TlsOptions, goNetError } from './transport.js';
export { EXTRA_CA_CERTS_ENV } from './tls-roots.js';
export { canonicalHeaderKey, dumpRequest, dumpResponse, dumpingSend } from './http-dump.js';
export { MAX_MANIFEST_SIZE, RESOLVE_ACCEPT, Registry, type RegistryOptions, type RegistryUse, isLocalhost, validateDigest } from './registry.js';
export {
  type PushEvent,
  type PushOptions,
  type PushPlan,
  type ReadDescriptor,
  contentDescriptor,
  planPush,
  pushImage,
  runBounded,
  selectPlatformManifest,
} from './push.js';
export { DEFAULT_FIFO_DIR, FifoIO, type StdioPaths, type Streams, attachFifos, makeFifo, removeFifos } from './cio.js';
export {
  type ContainerOptions,
  DEFAULT_RUNTIME,
  DEFAULT_SNAPSHOTTER,
  DEFAULT_SNAPSHOTTER_LABEL,
  STOP_SIGNAL_LABEL,
  containerSpec,
  createContainer,
  deleteContainer,
  generateContainerSpec,
  getContainer,
  imageConfig,
  resolveSnapshotter,
  runcOptionsAny,
  snapshotReader,
} from './container.js';
export * as spec from './spec.js';
export { type Spec, canonicalSpec, defaultSpec, formatSpec, marshalSpec, parseMountFlag, SPEC_TYPE_URL, OCI_VERSION } from './spec.js';
export { type ExitStatus, PROCESS_TYPE_URL, Task, parseSignal, statusString } from './task.js';
export { type Envelope, subscribeEvents } from './events.js';
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
export { type ConvertOptions, clearGCLabels, convertImage, dockerMediaTypeToOCI, uncompressedMediaType } from './convert.js';
export { GoMap, RawJSON, compactJSON, goEscape, goMarshal, marshalIndex, marshalManifest } from './go-json.js';
export { KNOWN_CAPABILITIES, type LinuxDevice, capabilitiesFromBitmap, currentCapabilities, deviceFromPath, getDevices, goPathError } from './host-linux.js';
export { type Seccomp, defaultSeccompProfile } from './seccomp.js';
export { type CheckpointOptions, checkpointOptionsAny, checkpointTask } from './checkpoint.js';
export {
  CHECKPOINT_IMAGE_NAME_LABEL,
  CHECKPOINT_RUNTIME_NAME_LABEL,
  CHECKPOINT_SNAPSHOTTER_NAME_LABEL,
  CheckpointMediaType,
  type ContainerCheckpointOptions,
  type ContainerRestoreOptions,
  checkpointContainer,
  restoreContainer,
  startRestoredTask,
} from './container-checkpoint.js';
export {
  GID_MAPPING_LABEL,
  type IDMapping,
  type RemappedSnapshotOptions,
  type SnapshotMount,
  UID_MAPPING_LABEL,
  incrementOwnership,
  parseIDMapping,
  parseUint32,
  prepareRemappedSnapshot,
  remappedSnapshotKey,
  remapperLabels,
  withTempMount,
} from './remap.js';
