// The snapshotter contract, its record store and the mount and file-tree helpers snapshotters share.
export {
  type Info,
  type InfoUpdate,
  Kind,
  kindFromNumber,
  kindNumber,
  type Mount,
  parseKind,
  type SnapshotOptions,
  type Snapshotter,
  type Usage,
  type WalkFn,
} from './types.js';
export {
  adaptSnapshot,
  filterInheritedLabels,
  INHERITED_LABELS_PREFIX,
  LABEL_SNAPSHOT_REF,
  UNPACK_KEY_PREFIX,
  unpackKey,
} from './labels.js';
export { MetaStore, type MetaStoreOptions, ReadTransaction, type StoredSnapshot, WriteTransaction } from './metastore.js';
export { MetaStoreSnapshotter, noSnapshotterLog, type SnapshotterLog } from './metastore-snapshotter.js';
export {
  compactLowerdirOption,
  longestCommonPrefix,
  mount,
  mountAll,
  type OverlayDirs,
  overlayDirs,
  pageSize,
  type ParsedMountOptions,
  parseMountOptions,
  unmount,
  unmountAll,
  type UpperDir,
  upperDirOf,
} from './mount.js';
export { lookupMount, type MountInfo, MountNotFoundError, parseMountInfo, readMountInfo } from './mountinfo.js';
export { diskUsage } from './disk-usage.js';
export { copyDir, type CopyDirOptions } from './copy.js';
export { wrapError } from './errors.js';
export { type CombinedResult, lookPath, runCombined } from './command.js';
export { EventLoopSlicer } from './yield.js';
