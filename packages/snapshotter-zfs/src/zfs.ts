// What the zfs snapshotter checks before it can work: its root must be a mounted zfs
// dataset (found in mountinfo as containerd's mount.Lookup finds it).
import { lookupMount, type MountInfo } from '@containerd-ts/snapshots';

/** The root is not on zfs: the plugin reports this as a skip. */
export class NotZfsError extends Error {
  override name = 'NotZfsError';
}

/** Returns the zfs mount `root` is on; throws NotZfsError (containerd's message) otherwise. */
export async function checkZfsRoot(root: string): Promise<MountInfo> {
  const m = await lookupMount(root);
  if (m.fstype !== 'zfs') {
    throw new NotZfsError(`path ${root} must be a zfs filesystem to be used with the zfs snapshotter`);
  }
  return m;
}
