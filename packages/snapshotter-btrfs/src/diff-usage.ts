// Usage of what a snapshot changed relative to its parent, as containerd's fs.DiffUsage:
// blocks and inodes of entries added or modified in `upper` compared with `lower`.
// btrfs snapshots share unchanged files with their parent, so only the changes count.
import { type BigIntStats, lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EventLoopSlicer, type Usage } from '@containerd-ts/snapshots';

// Same test as continuity's sameFile: owner, mode and device number; for non-directories
// also size and modification time, and content when both times lack nanoseconds.
function sameFile(a: BigIntStats, pathA: string, b: BigIntStats, pathB: string): boolean {
  if (a.dev === b.dev && a.ino === b.ino) return true;
  if (a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid || a.rdev !== b.rdev) return false;
  if (b.isDirectory()) return true;
  if (a.size !== b.size) return false;
  const NS = 1_000_000_000n;
  if (a.mtimeNs / NS !== b.mtimeNs / NS) return false;
  if (a.mtimeNs % NS !== b.mtimeNs % NS) return false;
  if (a.mtimeNs % NS === 0n && b.isFile()) return readFileSync(pathA).equals(readFileSync(pathB));
  return true;
}

/** Usage of entries under `upper` that are new or changed relative to `lower`. */
export async function diffUsage(lower: string, upper: string): Promise<Usage> {
  const seen = new Set<string>();
  const slicer = new EventLoopSlicer();
  let size = 0n;
  const visit = async (rel: string, lowerIsDir: boolean): Promise<void> => {
    for (const name of readdirSync(join(upper, rel))) {
      await slicer.pause();
      const childRel = join(rel, name);
      const pathB = join(upper, childRel);
      const b = lstatSync(pathB, { bigint: true });
      const pathA = join(lower, childRel);
      const a = lowerIsDir ? lstatSync(pathA, { bigint: true, throwIfNoEntry: false }) : undefined;
      if (!a || !sameFile(a, pathA, b, pathB)) {
        const key = `${b.dev}:${b.ino}`;
        if (!seen.has(key)) {
          seen.add(key);
          size += b.blocks * 512n;
        }
      }
      if (b.isDirectory()) await visit(childRel, a?.isDirectory() ?? false);
    }
  };
  await visit('', true);
  return { size: Number(size), inodes: seen.size };
}
