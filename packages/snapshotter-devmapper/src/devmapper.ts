// The devmapper snapshotter's start-up, as containerd's: validate the config, create the
// root, check dmsetup and the kernel's device mapper, blkdiscard when discards are on,
// and the thin pool. containerd-ts implements no thin-pool snapshots, so when every
// check passes the start still fails, naming that as the reason.
import { mkdir } from 'node:fs/promises';
import { type DevmapperConfig, parseDevmapperConfig } from './config.js';
import { blkdiscardVersion, dmsetup } from './dmsetup.js';

/** Runs containerd's devmapper start-up checks for `config` (root_path already defaulted). */
export async function checkDevmapper(config: DevmapperConfig, options: { path?: string } = {}): Promise<never> {
  const parsed = parseDevmapperConfig(config);
  try {
    await mkdir(parsed.root_path, { recursive: true, mode: 0o750 });
  } catch (err) {
    throw new Error(`failed to create root directory: ${parsed.root_path}: ${(err as Error).message}`);
  }
  await dmsetup(['version'], options);
  if (parsed.discard_blocks) await blkdiscardVersion(options);
  const poolPath = `/dev/mapper/${parsed.pool_name}`;
  try {
    await dmsetup(
      ['info', '--columns', '--noheadings', '-o', 'name,blkdevname,attr,major,minor,open,segments,events', '--separator', ' ', poolPath],
      options,
    );
  } catch (err) {
    throw new Error(`failed to query pool ${JSON.stringify(poolPath)}: ${(err as Error).message}`);
  }
  throw new Error(
    `thin pool ${JSON.stringify(poolPath)} is available, but containerd-ts has no devmapper snapshotter implementation (use overlayfs, native or btrfs)`,
  );
}
