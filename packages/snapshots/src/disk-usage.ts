// Disk usage of a directory tree as containerd's fs.DiskUsage counts it: allocated blocks
// (st_blocks × 512) and distinct inodes, each hard-linked inode once, symlinks not followed.
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Usage } from './types.js';
import { EventLoopSlicer } from './yield.js';

/** Usage of everything under `roots` (the roots included), each inode counted once. */
export async function diskUsage(...roots: string[]): Promise<Usage> {
  const seen = new Set<string>();
  const slicer = new EventLoopSlicer();
  let size = 0n;
  const visit = async (path: string): Promise<void> => {
    await slicer.pause();
    const st = lstatSync(path, { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (!seen.has(key)) {
      seen.add(key);
      size += st.blocks * 512n;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(path)) await visit(join(path, name));
    }
  };
  for (const root of roots) await visit(root);
  return { size: Number(size), inodes: seen.size };
}
