// What the zfs snapshotter checks before it can work: its root must be a mounted zfs
// dataset (found in mountinfo as containerd's mount.Lookup finds it).
import { lookupMount, type MountInfo, MountNotFoundError } from '@containerd-ts/snapshots';

/** The root is not on zfs: the plugin reports this as a skip. */
export class NotZfsError extends Error {
  override name = 'NotZfsError';
}

/**
 * Returns the zfs mount `root` is on; throws NotZfsError (containerd's message) otherwise,
 * also when no mount entry covers `root` at all (a chroot's root directory), which
 * containerd skips with the lookup's own message. `mounts` defaults to this process's mountinfo.
 */
export async function checkZfsRoot(root: string, mounts?: readonly MountInfo[]): Promise<MountInfo> {
  let m: MountInfo;
  try {
    m = await lookupMount(root, mounts);
  } catch (err) {
    if (err instanceof MountNotFoundError) throw new NotZfsError(err.message);
    throw err;
  }
  if (m.fstype !== 'zfs') {
    throw new NotZfsError(`path ${root} must be a zfs filesystem to be used with the zfs snapshotter`);
  }
  return m;
}
