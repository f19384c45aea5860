// Which mount a path is on, from /proc/self/mountinfo, as containerd's mount.Lookup finds it:
// the mount whose mount point is the longest string prefix of the cleaned path.
import { readFile } from 'node:fs/promises';
import { normalize } from 'node:path';

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  id: number;
  parent: number;
  major: number;
  minor: number;
  /** Path inside the mounted file system that is mounted here. */
  root: string;
  mountpoint: string;
  options: string;
  fstype: string;
  source: string;
  superOptions: string;
}

// Mountinfo escapes space, tab, newline and backslash as three octal digits.
const unescapeOctal = (s: string): string => s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));

/** Every mount of this process's mount namespace (as this process's root sees them). */
export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The mounts a mountinfo text lists, one per line. */
export function parseMountInfo(text: string): MountInfo[] {
  const mounts: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [left = '', right = ''] = line.split(' - ');
    const f = left.split(' ');
    const r = right.split(' ');
    const [major = '0', minor = '0'] = (f[2] ?? '0:0').split(':');
    mounts.push({
      id: Number(f[0]),
      parent: Number(f[1]),
      major: Number(major),
      minor: Number(minor),
      root: unescapeOctal(f[3] ?? ''),
      mountpoint: unescapeOctal(f[4] ?? ''),
      options: f[5] ?? '',
      fstype: r[0] ?? '',
      source: unescapeOctal(r[1] ?? ''),
      superOptions: r[2] ?? '',
    });
  }
  return mounts;
}

/**
 * No mount covers the path: in a chroot whose root directory is not itself a mount point,
 * mountinfo lists nothing above the chroot's own mounts, so most paths have no entry.
 */
export class MountNotFoundError extends Error {
  override name = 'MountNotFoundError';
}

/**
 * The mount `dir` is on (the path need not exist). `mounts` defaults to this process's
 * mountinfo. Throws MountNotFoundError, with containerd's message, when no entry covers it.
 */
export async function lookupMount(dir: string, mounts?: readonly MountInfo[]): Promise<MountInfo> {
  let clean = normalize(dir);
  if (clean.length > 1) clean = clean.replace(/\/+$/, '');
  let best: MountInfo | undefined;
  for (const m of mounts ?? (await readMountInfo())) {
    if (!clean.startsWith(m.mountpoint)) continue;
    if (!best || m.mountpoint.length > best.mountpoint.length) best = m;
  }
  if (!best) throw new MountNotFoundError(`failed to find the mount info for ${JSON.stringify(clean)}`);
  return best;
}
