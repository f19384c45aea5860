// Host checks the overlay snapshotter makes when it starts, as containerd's: whether the
// root's file system records file types in directory entries (d_type, which overlayfs
// needs), whether overlay mounts need the `userxattr` option (inside a user namespace),
// and whether the kernel knows the `index` option.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { lookupMount, mount, unmountAll } from '@containerd-ts/snapshots';
import { EXT4_SUPER_MAGIC, statfs, TMPFS_MAGIC, XFS_SUPER_MAGIC } from '@containerd-ts/sys';

async function readAt(device: string, offset: number, length: number): Promise<Buffer | undefined> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(device, 'r');
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return bytesRead === length ? buf : undefined;
  } catch {
    return undefined;
  } finally {
    await fh?.close();
  }
}

/**
 * Whether directory entries on `dir`'s file system carry d_type. The file systems that can
 * lack it are ext2/3/4 without the `filetype` feature and XFS formatted with ftype=0;
 * their superblocks say so. Any other file system (or an unreadable device) counts as
 * supporting it, as every file system Linux can put an overlay upper directory on does.
 */
export async function supportsDType(dir: string): Promise<boolean> {
  const type = statfs(dir).type;
  if (type !== EXT4_SUPER_MAGIC && type !== XFS_SUPER_MAGIC) return true;
  const { source } = await lookupMount(dir);
  if (!source.startsWith('/')) return true;
  if (type === EXT4_SUPER_MAGIC) {
    const sb = await readAt(source, 1024, 0x64);
    if (sb?.readUInt16LE(0x38) !== 0xef53) return true;
    const INCOMPAT_FILETYPE = 0x2;
    return (sb.readUInt32LE(0x60) & INCOMPAT_FILETYPE) !== 0;
  }
  const sb = await readAt(source, 0, 224);
  if (sb?.toString('latin1', 0, 4) !== 'XFSB') return true;
  const versionnum = sb.readUInt16BE(100);
  if ((versionnum & 0xf) === 5) {
    const INCOMPAT_FTYPE = 0x1;
    return (sb.readUInt32BE(216) & INCOMPAT_FTYPE) !== 0;
  }
  const MOREBITS = 0x8000;
  const FEATURES2_FTYPE = 0x200;
  return (versionnum & MOREBITS) !== 0 && (sb.readUInt32BE(200) & FEATURES2_FTYPE) !== 0;
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
