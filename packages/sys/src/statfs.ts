// statfs(2): which file system a path lives on (snapshotters pick and refuse backing
// file systems by its magic number) and how full it is.
import { callAsync, libc, type StatfsStruct, throwErrno } from './libc.js';

// f_type magic numbers, from <linux/magic.h> (ZFS's from OpenZFS).
export const BTRFS_SUPER_MAGIC = 0x9123683e;
export const OVERLAYFS_SUPER_MAGIC = 0x794c7630;
export const TMPFS_MAGIC = 0x01021994;
/** ext2, ext3 and ext4 share one magic number. */
export const EXT4_SUPER_MAGIC = 0xef53;
export const XFS_SUPER_MAGIC = 0x58465342;
export const ZFS_SUPER_MAGIC = 0x2fc12fc1;
export const AUFS_SUPER_MAGIC = 0x61756673;
export const SQUASHFS_MAGIC = 0x73717368;
export const F2FS_SUPER_MAGIC = 0xf2f52010;
export const NFS_SUPER_MAGIC = 0x6969;
export const FUSE_SUPER_MAGIC = 0x65735546;
export const RAMFS_MAGIC = 0x858458f6;
export const PROC_SUPER_MAGIC = 0x9fa0;
export const SYSFS_MAGIC = 0x62656572;
export const CGROUP_SUPER_MAGIC = 0x27e0eb;
export const CGROUP2_SUPER_MAGIC = 0x63677270;
export const DEVPTS_SUPER_MAGIC = 0x1cd1;

// f_flags bits (ST_* of statvfs(3)), reported by statfs since Linux 2.6.36.
export const ST_RDONLY = 0x1;
export const ST_NOSUID = 0x2;
export const ST_NODEV = 0x4;
export const ST_NOEXEC = 0x8;
export const ST_SYNCHRONOUS = 0x10;
export const ST_MANDLOCK = 0x40;
export const ST_NOATIME = 0x400;
export const ST_NODIRATIME = 0x800;
export const ST_RELATIME = 0x1000;

const typeNames = new Map<number, string>([
  [BTRFS_SUPER_MAGIC, 'btrfs'],
  [OVERLAYFS_SUPER_MAGIC, 'overlay'],
  [TMPFS_MAGIC, 'tmpfs'],
  [EXT4_SUPER_MAGIC, 'ext4'],
  [XFS_SUPER_MAGIC, 'xfs'],
  [ZFS_SUPER_MAGIC, 'zfs'],
  [AUFS_SUPER_MAGIC, 'aufs'],
  [SQUASHFS_MAGIC, 'squashfs'],
  [F2FS_SUPER_MAGIC, 'f2fs'],
  [NFS_SUPER_MAGIC, 'nfs'],
  [FUSE_SUPER_MAGIC, 'fuse'],
  [RAMFS_MAGIC, 'ramfs'],
  [PROC_SUPER_MAGIC, 'proc'],
  [SYSFS_MAGIC, 'sysfs'],
  [CGROUP_SUPER_MAGIC, 'cgroup'],
  [CGROUP2_SUPER_MAGIC, 'cgroup2'],
  [DEVPTS_SUPER_MAGIC, 'devpts'],
]);

/** A file-system name for an f_type magic number (`ext4` for all ext2/3/4), or `0x…` when unknown. */
export function fsTypeName(type: number): string {
  return typeNames.get(type) ?? `0x${type.toString(16)}`;
}

export interface StatFs {
  /** f_type: the file system's magic number (compare with the *_MAGIC constants). */
  type: number;
  /** Optimal transfer block size. */
  bsize: number;
  /** Total, free and unprivileged-free data blocks, in units of frsize. */
  blocks: number;
  bfree: number;
  bavail: number;
  /** Total and free inodes. */
  files: number;
  ffree: number;
  /** Mount flags (ST_*). */
  flags: number;
  /** Fragment size, the unit of blocks/bfree/bavail. */
  frsize: number;
  /** Longest file name. */
  namelen: number;
}

function toStatFs(raw: Partial<StatfsStruct>): StatFs {
  return {
    type: Number(raw.f_type ?? 0),
    bsize: Number(raw.f_bsize ?? 0),
    blocks: Number(raw.f_blocks ?? 0),
    bfree: Number(raw.f_bfree ?? 0),
    bavail: Number(raw.f_bavail ?? 0),
    files: Number(raw.f_files ?? 0),
    ffree: Number(raw.f_ffree ?? 0),
    flags: Number(raw.f_flags ?? 0),
    frsize: Number(raw.f_frsize ?? 0),
    namelen: Number(raw.f_namelen ?? 0),
  };
}

/** statfs(2) of the file system holding `path` (a final symlink is followed). */
export function statfs(path: string): StatFs {
  const raw: Partial<StatfsStruct> = {};
  if (libc().statfs(path, raw) !== 0) throwErrno('statfs', { path });
  return toStatFs(raw);
}

/** statfs(2) run off the JS thread (it blocks on an unresponsive network file system). */
export async function statfsAsync(path: string): Promise<StatFs> {
  const raw: Partial<StatfsStruct> = {};
  await callAsync(libc().statfs, [path, raw], 'statfs', { path });
  return toStatFs(raw);
}
