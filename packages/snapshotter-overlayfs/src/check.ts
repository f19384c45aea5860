// Host checks the overlay snapshotter makes when it starts, as containerd's: whether the
// root's file system records file types in directory entries (d_type, which overlayfs
// needs), whether overlay mounts need the `userxattr` option (inside a user namespace),
// and whether the kernel knows the `index` option.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { mount, unmountAll } from '@containerd-ts/snapshots';
import { DT_UNKNOWN, readDirents, statfs, TMPFS_MAGIC } from '@containerd-ts/sys';

/**
 * Whether directory entries on `dir`'s file system carry d_type, as containerd's
 * fs.SupportsDType finds out: it reads the directory's own entries (creating a dummy file
 * when it is empty) and looks for DT_UNKNOWN. Nothing here looks `dir` up in mountinfo, so
 * it answers the same in a chroot whose root no mount entry covers.
 */
export async function supportsDType(dir: string): Promise<boolean> {
  let dummy: string | undefined;
  if ((await readdir(dir)).length === 0) {
    dummy = join(dir, `fsutils-dummy${randomBytes(5).toString('hex')}`);
    await writeFile(dummy, '', { flag: 'wx', mode: 0o600 });
  }
  try {
    let supported = true;
    const visited = readDirents(dir, (entry) => {
      if (entry.type !== DT_UNKNOWN) return false;
      supported = false;
      return true;
    });
    if (visited === 0) throw new Error(`did not hit any dirent during iteration ${dir}`);
    return supported;
  } finally {
    if (dummy) await rm(dummy, { force: true });
  }
}

/** True inside a user namespace (uid_map is not the identity map of the initial namespace). */
export async function runningInUserNS(): Promise<boolean> {
  let text: string;
  try {
    text = await readFile('/proc/self/uid_map', 'utf8');
  } catch {
    return false;
  }
  const fields = text.trim().split(/\s+/);
  return !(fields.length === 3 && fields[0] === '0' && fields[1] === '0' && fields[2] === '4294967295');
}

function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(release());
  if (!m) return false;
  const [kMajor, kMinor] = [Number(m[1]), Number(m[2])];
  return kMajor > major || (kMajor === major && kMinor >= minor);
}

/**
 * Whether overlay mounts under `dir` need `userxattr`: only in a user namespace, not on
 * tmpfs, and where the kernel accepts the option (5.11 and later, or a test mount says so).
 */
export async function needsUserXattr(dir: string): Promise<boolean> {
  if (!(await runningInUserNS())) return false;
  if (statfs(dir).type === TMPFS_MAGIC) return false;
  if (kernelAtLeast(5, 11)) return true;
  const checkRoot = join(dir, 'userxattr-check');
  await rm(checkRoot, { recursive: true, force: true });
  await mkdir(checkRoot, { recursive: true, mode: 0o700 });
  try {
    const td = await mkdtemp(join(checkRoot, 'check-'));
    for (const d of ['lower1', 'lower2', 'upper', 'work', 'merged']) await mkdir(join(td, d), { mode: 0o755 });
    const merged = join(td, 'merged');
    try {
      await mount(
        {
          type: 'overlay',
          source: 'overlay',
          options: [
            `lowerdir=${join(td, 'lower2')}:${join(td, 'lower1')},upperdir=${join(td, 'upper')},workdir=${join(td, 'work')}`,
            'userxattr',
          ],
        },
        merged,
      );
    } catch {
      return false;
    }
    await unmountAll(merged);
    return true;
  } finally {
    await rm(checkRoot, { recursive: true, force: true });
  }
}

/** Whether the overlay module has the `index` parameter (then mounts pass `index=off`). */
export const supportsIndex = (): boolean => existsSync('/sys/module/overlay/parameters/index');
